using System.CommandLine;
using System.Reflection;
using Microsoft.Extensions.Configuration;
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
        // The TIMETRACK_* variables of the invocation's environment (not the process's), the
        // prefix dropped and names case-insensitive, as AddEnvironmentVariables("TIMETRACK_") did.
        const string prefix = "TIMETRACK_";
        var environment = new ConfigurationBuilder()
            .AddInMemoryCollection(terminal.Environment
                .Where(v => v.Key.StartsWith(prefix, StringComparison.OrdinalIgnoreCase))
                .Select(v => KeyValuePair.Create(v.Key[prefix.Length..].Replace("__", ":", StringComparison.Ordinal), v.Value)))
            .Build();

        var url = parse.GetValue(DatabaseUrl)
            ?? environment["DATABASE_URL"]
            ?? FromEnvironmentOrFile(terminal, "DATABASE_URL");
        var usingDefault = string.IsNullOrWhiteSpace(url);

        var logFormat = parse.GetValue(LogFormat)
            ?? (Enum.TryParse<LogFormat>(environment["LOG_FORMAT"], ignoreCase: true, out var f) ? f : Output.LogFormat.Text);

        return new Settings(
            usingDefault ? Databases.DatabaseUrl.EmbeddedDefault : url!,
            environment["DATABASE_PASSWORD"] ?? FromEnvironmentOrFile(terminal, "DATABASE_PASSWORD"),
            usingDefault,
            parse.GetValue(Json),
            logFormat,
            TimeSpan.FromSeconds(Seconds(parse.GetValue(LockTimeout), environment["LOCK_TIMEOUT"], "--lock-timeout", 300)),
            TimeSpan.FromSeconds(Seconds(parse.GetValue(Wait), environment["WAIT"], "--wait", 0)),
            parse.GetValue(MigrationsAssembly) ?? environment["MIGRATIONS_ASSEMBLY"],
            parse.GetValue(Verbose),
            new Running.DdlRetryPolicy(
                TimeSpan.FromSeconds(Seconds(parse.GetValue(DdlLockTimeout), environment["DDL_LOCK_TIMEOUT"], "--ddl-lock-timeout", 3)),
                Count(parse.GetValue(DdlRetries), environment["DDL_RETRIES"], "--ddl-retries", Running.DdlRetryPolicy.Default.Retries),
                TimeSpan.FromSeconds(Seconds(parse.GetValue(DdlRetryFor), environment["DDL_RETRY_FOR"], "--ddl-retry-for", 60)),
                TimeSpan.FromSeconds(Seconds(parse.GetValue(StatementTimeout), environment["STATEMENT_TIMEOUT"], "--statement-timeout", 0))));
    }

    /// <summary>
    /// NAME from the environment, or read from the file NAME_FILE names (a trailing newline
    /// dropped; a relative path from the working directory); both set is ambiguous and refused,
    /// as the postgres image does.
    /// </summary>
    private static string? FromEnvironmentOrFile(Terminal terminal, string name)
    {
        var value = terminal.Variable(name);
        var file = terminal.Variable(name + "_FILE");
        if (string.IsNullOrEmpty(file))
        {
            return value;
        }

        if (!string.IsNullOrEmpty(value))
        {
            throw UserError.Invalid($"both {name} and {name}_FILE are set; set only one");
        }

        string content;
        try
        {
            content = File.ReadAllText(terminal.FullPath(file));
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            var why = e switch
            {
                FileNotFoundException or DirectoryNotFoundException => "it does not exist (is the secret mounted?)",
                UnauthorizedAccessException => "permission denied (is it readable by this user?)",
                _ => e.Message,
            };
            throw UserError.Invalid($"{name}_FILE: cannot read '{file}': {why}");
        }

        content = content.TrimEnd('\r', '\n');
        return content.Length > 0 ? content : throw UserError.Invalid($"{name}_FILE: '{file}' is empty");
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

    /// <summary>A count of at most 100 (more retries than that is a mistake, not a policy).</summary>
    private static int Count(int? option, string? environment, string name, int fallback)
    {
        var value = option ?? (environment is null ? fallback : int.TryParse(environment, out var e) ? e : throw UserError.Invalid($"{name}: '{environment}' from the environment is not a whole number"));
        return value is >= 0 and <= 100 ? value : throw UserError.Invalid($"{name} must be from 0 to 100, not {value}");
    }

    private static int Seconds(int? option, string? environment, string name, int fallback)
    {
        var value = option ?? (environment is null ? fallback : int.TryParse(environment, out var e) ? e : throw UserError.Invalid($"{name}: '{environment}' from the environment is not a whole number of seconds"));
        return value >= 0 ? value : throw UserError.Invalid($"{name} must be 0 or more seconds, not {value}");
    }
}
