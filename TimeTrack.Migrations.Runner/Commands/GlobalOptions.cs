using System.CommandLine;
using System.Reflection;
using TimeTrack.Migrations.Runner.Databases;
using TimeTrack.Migrations.Runner.Output;
using TimeTrack.Migrations.Runner.Settings;
using Definitions = TimeTrack.Migrations.Runner.Settings.OptionDefinitions;

namespace TimeTrack.Migrations.Runner.Commands;

/// <summary>
/// The options commands share (names and defaults: <see cref="Definitions"/>; which command takes
/// which: <see cref="CommandDefinitions"/>), and how they combine with the environment
/// (<see cref="RunnerEnvironment"/>): an option wins over TIMETRACK_* variables (and their MIGRATE_*
/// aliases), which win over DATABASE_DIRECT_URL, then DATABASE_URL (or their *_FILE), which wins over the image's
/// MIGRATE_DEFAULT_DATABASE_URL, then the embedded default. A URL without a password takes DATABASE_PASSWORD (or DATABASE_PASSWORD_FILE).
/// The *_FILE forms are Docker's and Kubernetes' secrets convention: the value is read from that file.
/// </summary>
public static class GlobalOptions
{
    public static readonly Option<string?> DatabaseUrl = new(Definitions.DatabaseUrl.Name)
    {
        HelpName = "url",
        Description = "postgresql://user:pass@host:5432/db, sqlite:///relative.db or sqlite:////absolute.db (env DATABASE_URL; default MIGRATE_DEFAULT_DATABASE_URL, else sqlite:///timetrack.db)",
    };

    public static readonly Option<string?> Role = new(Definitions.Role.Name)
    {
        HelpName = "role",
        Description = "PostgreSQL: SET ROLE to this role after connecting, in every session of the runner, pg_dump and restore, so that what migrations create is owned by it (env TIMETRACK_DATABASE_ROLE)",
    };

    public static readonly Option<bool> Json = new(Definitions.Json.Name)
    {
        Description = "Print the result as one JSON document on stdout",
    };

    public static readonly Option<LogFormat?> LogFormat = new(Definitions.LogFormat.Name)
    {
        HelpName = "text|json",
        Description = "Logs on stderr as readable lines (text) or JSON objects (json) (env TIMETRACK_LOG_FORMAT)",
    };

    public static readonly Option<int?> LockTimeout = new(Definitions.LockTimeout.Name)
    {
        HelpName = "seconds",
        Description = $"Seconds to wait for another runner's migration lock (default {Definitions.LockTimeout.Default}; env TIMETRACK_LOCK_TIMEOUT)",
    };

    public static readonly Option<int?> DdlLockTimeout = new(Definitions.DdlLockTimeout.Name)
    {
        HelpName = "seconds",
        Description = $"PostgreSQL: seconds a transactional migration step may wait for a table lock (queries queue behind it meanwhile) before it is rolled back and retried; 0: no limit (default {Definitions.DdlLockTimeout.Default}; env TIMETRACK_DDL_LOCK_TIMEOUT)",
    };

    public static readonly Option<int?> DdlRetries = new(Definitions.DdlRetries.Name)
    {
        HelpName = "count",
        Description = $"Retries of a step whose lock wait timed out, with growing jittered delays (default {Definitions.DdlRetries.Default}; env TIMETRACK_DDL_RETRIES)",
    };

    public static readonly Option<int?> DdlRetryFor = new(Definitions.DdlRetryFor.Name)
    {
        HelpName = "seconds",
        Description = $"No retry starts that could end later than this many seconds after the step's first attempt; 0: only --ddl-retries bounds them (default {Definitions.DdlRetryFor.Default}; env TIMETRACK_DDL_RETRY_FOR)",
    };

    public static readonly Option<int?> StatementTimeout = new(Definitions.StatementTimeout.Name)
    {
        HelpName = "seconds",
        Description = $"PostgreSQL: seconds any one statement of a transactional migration step may run; 0: no limit (default {Definitions.StatementTimeout.Default}; env TIMETRACK_STATEMENT_TIMEOUT)",
    };

    public static readonly Option<int?> ProgressInterval = new(Definitions.ProgressInterval.Name)
    {
        HelpName = "seconds",
        Description = $"While a migration step runs, log a heartbeat (elapsed time; index build progress on PostgreSQL; what it waits for) every this many seconds; 0: none (default {Definitions.ProgressInterval.Default}; env TIMETRACK_PROGRESS_INTERVAL)",
    };

    public static readonly Option<int?> Wait = new(Definitions.Wait.Name)
    {
        HelpName = "seconds",
        Description = $"Seconds to keep retrying while the database does not accept connections yet (default {Definitions.Wait.Default}, start: {Definitions.StartWait}; env TIMETRACK_WAIT or MIGRATE_WAIT_SECONDS)",
    };

    public static readonly Option<string?> MigrationsAssembly = new(Definitions.MigrationsAssembly.Name)
    {
        HelpName = "path",
        Description = "Run the migrations of another assembly (a path to its .dll) instead of TimeTrack.Migrations (env TIMETRACK_MIGRATIONS_ASSEMBLY)",
    };

    public static readonly Option<bool> Verbose = new(Definitions.Verbose.Name, Definitions.Verbose.Alias!)
    {
        Description = "Log FluentMigrator's statements, and stack traces of unexpected errors",
    };

    /// <summary>The shared options by definition: Cli attaches to each command those its <see cref="CommandDefinition"/> lists.</summary>
    public static readonly IReadOnlyDictionary<OptionDefinition, Option> ByDefinition = new Dictionary<OptionDefinition, Option>
    {
        [Definitions.DatabaseUrl] = DatabaseUrl, [Definitions.Role] = Role, [Definitions.Json] = Json, [Definitions.LogFormat] = LogFormat, [Definitions.LockTimeout] = LockTimeout,
        [Definitions.DdlLockTimeout] = DdlLockTimeout, [Definitions.DdlRetries] = DdlRetries, [Definitions.DdlRetryFor] = DdlRetryFor,
        [Definitions.StatementTimeout] = StatementTimeout, [Definitions.ProgressInterval] = ProgressInterval, [Definitions.Wait] = Wait, [Definitions.MigrationsAssembly] = MigrationsAssembly,
        [Definitions.Verbose] = Verbose, [Definitions.Backup] = BackupOptions.Directory, [Definitions.BackupKeep] = BackupOptions.Keep,
        [Definitions.BackupOptional] = BackupOptions.Optional,
    };

    /// <summary>The settings of one invocation, resolved from options, environment and defaults.</summary>
    /// <param name="FallbackPassword">DATABASE_PASSWORD(_FILE): used when the URL carries no password.</param>
    public sealed record Settings(
        string Url,
        string? FallbackPassword,
        string? Role,
        bool UsingDefaultUrl,
        bool Json,
        LogFormat LogFormat,
        TimeSpan LockTimeout,
        TimeSpan Wait,
        string? MigrationsAssemblyPath,
        bool Verbose,
        Running.DdlRetryPolicy Ddl,
        TimeSpan ProgressInterval);

    public static Settings Resolve(ParseResult parse, Terminal terminal)
    {
        var environment = new RunnerEnvironment(terminal);
        var url = environment.DatabaseUrl(parse.GetValue(DatabaseUrl));
        var usingDefault = string.IsNullOrWhiteSpace(url);
        TimeSpan Seconds(OptionDefinition definition, Option<int?> option, int? fallback = null) =>
            TimeSpan.FromSeconds(environment.Number(definition, parse.GetValue(option), fallback));
        return new Settings(
            usingDefault ? Databases.DatabaseUrl.EmbeddedDefault : url!,
            environment.FallbackPassword(),
            environment.DatabaseRole(parse.GetValue(Role)),
            usingDefault,
            parse.GetValue(Json),
            environment.LogFormat(parse.GetValue(LogFormat)),
            Seconds(Definitions.LockTimeout, LockTimeout),
            Seconds(Definitions.Wait, Wait, parse.CommandResult.Command.Name == CommandDefinitions.Start.Name ? Definitions.StartWait : null),
            parse.GetValue(MigrationsAssembly) ?? environment[Definitions.MigrationsAssembly.Setting!],
            parse.GetValue(Verbose),
            new Running.DdlRetryPolicy(
                Seconds(Definitions.DdlLockTimeout, DdlLockTimeout),
                environment.Number(Definitions.DdlRetries, parse.GetValue(DdlRetries)),
                Seconds(Definitions.DdlRetryFor, DdlRetryFor),
                Seconds(Definitions.StatementTimeout, StatementTimeout)),
            Seconds(Definitions.ProgressInterval, ProgressInterval));
    }

    public static Assembly LoadMigrationsAssembly(string? path)
    {
        if (path is null)
        {
            return typeof(TimeTrack.Migrations.Migrations.TimeTrackMigration).Assembly;
        }

        var full = Path.GetFullPath(path);
        if (!File.Exists(full))
        {
            throw UserError.Invalid($"migrations assembly {full} does not exist");
        }

        try
        {
            return Assembly.LoadFrom(full);
        }
        catch (BadImageFormatException)
        {
            throw UserError.Invalid($"{full} is not a .NET assembly");
        }
    }
}
