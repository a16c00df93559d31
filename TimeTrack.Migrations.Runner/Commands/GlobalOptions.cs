using System.CommandLine;
using System.Reflection;
using TimeTrack.Migrations.Runner.Databases;
using TimeTrack.Migrations.Runner.Output;

namespace TimeTrack.Migrations.Runner.Commands;

/// <summary>
/// The options every command takes, and how they combine with the environment: an option wins
/// over TIMETRACK_* variables, which win over DATABASE_URL (or DATABASE_URL_FILE), which wins over
/// the embedded default. A URL without a password takes DATABASE_PASSWORD (or DATABASE_PASSWORD_FILE).
/// The *_FILE forms are Docker's and Kubernetes' secrets convention: the value is read from that file.
/// </summary>
public static class GlobalOptions
{
    public static readonly Option<string?> DatabaseUrl = new("--database-url")
    {
        HelpName = "url",
        Description = "postgresql://user:pass@host:5432/db, sqlite:///relative.db or sqlite:////absolute.db (env DATABASE_URL; default sqlite:///timetrack.db)",
        Recursive = true,
    };

    public static readonly Option<bool> Json = new("--json")
    {
        Description = "Print the result as one JSON document on stdout",
        Recursive = true,
    };

    public static readonly Option<LogFormat?> LogFormat = new("--log-format")
    {
        HelpName = "text|json",
        Description = "Logs on stderr as readable lines (text) or JSON objects (json) (env TIMETRACK_LOG_FORMAT)",
        Recursive = true,
    };

    public static readonly Option<int?> LockTimeout = new("--lock-timeout")
    {
        HelpName = "seconds",
        Description = "Seconds to wait for another runner's migration lock (default 300; env TIMETRACK_LOCK_TIMEOUT)",
        Recursive = true,
    };

    public static readonly Option<int?> DdlLockTimeout = new("--ddl-lock-timeout")
    {
        HelpName = "seconds",
        Description = "PostgreSQL: seconds a transactional migration step may wait for a table lock (queries queue behind it meanwhile) before it is rolled back and retried; 0: no limit (default 3; env TIMETRACK_DDL_LOCK_TIMEOUT)",
        Recursive = true,
    };

    public static readonly Option<int?> DdlRetries = new("--ddl-retries")
    {
        HelpName = "count",
        Description = "Retries of a step whose lock wait timed out, with growing jittered delays (default 8; env TIMETRACK_DDL_RETRIES)",
        Recursive = true,
    };

    public static readonly Option<int?> DdlRetryFor = new("--ddl-retry-for")
    {
        HelpName = "seconds",
        Description = "No retry starts that could end later than this many seconds after the step's first attempt; 0: only --ddl-retries bounds them (default 60; env TIMETRACK_DDL_RETRY_FOR)",
        Recursive = true,
    };

    public static readonly Option<int?> StatementTimeout = new("--statement-timeout")
    {
        HelpName = "seconds",
        Description = "PostgreSQL: seconds any one statement of a transactional migration step may run; 0: no limit (default 0; env TIMETRACK_STATEMENT_TIMEOUT)",
        Recursive = true,
    };

    public static readonly Option<int?> Wait = new("--wait")
    {
        HelpName = "seconds",
        Description = "Seconds to keep retrying while the database does not accept connections yet (default 0; env TIMETRACK_WAIT)",
        Recursive = true,
    };

    public static readonly Option<string?> MigrationsAssembly = new("--migrations-assembly")
    {
        HelpName = "path",
        Description = "Run the migrations of another assembly (a path to its .dll) instead of TimeTrack.Migrations (env TIMETRACK_MIGRATIONS_ASSEMBLY)",
        Recursive = true,
    };

    public static readonly Option<bool> Verbose = new("--verbose", "-v")
    {
        Description = "Log FluentMigrator's statements, and stack traces of unexpected errors",
        Recursive = true,
    };

    public static IEnumerable<Option> All => [DatabaseUrl, Json, LogFormat, LockTimeout, DdlLockTimeout, DdlRetries, DdlRetryFor, StatementTimeout, Wait, MigrationsAssembly, Verbose];

    /// <summary>The settings of one invocation, resolved from options, environment and defaults.</summary>
    /// <param name="FallbackPassword">DATABASE_PASSWORD(_FILE): used when the URL carries no password.</param>
    public sealed record Settings(
        string Url,
        string? FallbackPassword,
        bool UsingDefaultUrl,
        bool Json,
        LogFormat LogFormat,
        TimeSpan LockTimeout,
        TimeSpan Wait,
        string? MigrationsAssemblyPath,
        bool Verbose,
        Running.DdlRetryPolicy Ddl);

    public static Settings Resolve(ParseResult parse, Terminal terminal)
    {
        var environment = new RunnerEnvironment(terminal);
        var url = environment.DatabaseUrl(parse.GetValue(DatabaseUrl));
        var usingDefault = string.IsNullOrWhiteSpace(url);
        return new Settings(
            usingDefault ? Databases.DatabaseUrl.EmbeddedDefault : url!,
            environment.FallbackPassword(),
            usingDefault,
            parse.GetValue(Json),
            environment.LogFormat(parse.GetValue(LogFormat)),
            TimeSpan.FromSeconds(environment.Seconds(parse.GetValue(LockTimeout), "LOCK_TIMEOUT", "--lock-timeout", 300)),
            TimeSpan.FromSeconds(environment.Seconds(parse.GetValue(Wait), "WAIT", "--wait", 0)),
            parse.GetValue(MigrationsAssembly) ?? environment["MIGRATIONS_ASSEMBLY"],
            parse.GetValue(Verbose),
            new Running.DdlRetryPolicy(
                TimeSpan.FromSeconds(environment.Seconds(parse.GetValue(DdlLockTimeout), "DDL_LOCK_TIMEOUT", "--ddl-lock-timeout", 3)),
                environment.Count(parse.GetValue(DdlRetries), "DDL_RETRIES", "--ddl-retries", Running.DdlRetryPolicy.Default.Retries),
                TimeSpan.FromSeconds(environment.Seconds(parse.GetValue(DdlRetryFor), "DDL_RETRY_FOR", "--ddl-retry-for", 60)),
                TimeSpan.FromSeconds(environment.Seconds(parse.GetValue(StatementTimeout), "STATEMENT_TIMEOUT", "--statement-timeout", 0))));
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
