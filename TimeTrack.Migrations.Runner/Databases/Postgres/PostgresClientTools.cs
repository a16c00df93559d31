using System.Diagnostics;
using System.Globalization;
using System.Text.RegularExpressions;
using Npgsql;

namespace TimeTrack.Migrations.Runner.Databases.Postgres;

/// <summary>
/// pg_dump and pg_restore, run as child processes against the target: found on PATH (or named by
/// TIMETRACK_PG_DUMP / TIMETRACK_PG_RESTORE), connected through libpq's PG* environment variables
/// made from the parsed URL — the password and the TLS settings included, never on a command
/// line (where `ps` would show them).
/// </summary>
internal static partial class PostgresClientTools
{
    public const string PgDumpVariable = "TIMETRACK_PG_DUMP";
    public const string PgRestoreVariable = "TIMETRACK_PG_RESTORE";

    /// <summary>Npgsql's sslmode names in libpq's spelling.</summary>
    private static readonly Dictionary<SslMode, string> SslModes = new()
    {
        [SslMode.Disable] = "disable",
        [SslMode.Allow] = "allow",
        [SslMode.Prefer] = "prefer",
        [SslMode.Require] = "require",
        [SslMode.VerifyCA] = "verify-ca",
        [SslMode.VerifyFull] = "verify-full",
    };

    /// <summary>
    /// The libpq environment that connects to the same server, database and user, with the same
    /// TLS settings, as the runner's own connection. The PG* variables of the runner's own
    /// environment are not inherited (a stray PGHOST or PGSSLMODE would silently point the
    /// backup elsewhere), except PGPASSFILE when the URL carries no password.
    /// </summary>
    public static Dictionary<string, string?> Environment(DatabaseTarget target)
    {
        var b = new NpgsqlConnectionStringBuilder(target.ConnectionString);
        var hosts = (b.Host ?? "localhost").Split(',');
        var env = new Dictionary<string, string?>(StringComparer.Ordinal)
        {
            // Several hosts: Npgsql writes "h1:p1,h2"; libpq wants PGHOST=h1,h2 and PGPORT=p1,5432.
            ["PGHOST"] = string.Join(',', hosts.Select(h => SplitHost(h, b.Port).Host)),
            ["PGPORT"] = string.Join(',', hosts.Select(h => SplitHost(h, b.Port).Port.ToString(CultureInfo.InvariantCulture))),
            ["PGDATABASE"] = b.Database,
            ["PGUSER"] = b.Username,
            ["PGPASSWORD"] = b.Password,
            ["PGSSLMODE"] = SslModes[b.SslMode],
            ["PGSSLROOTCERT"] = b.RootCertificate ?? (b.SslMode == SslMode.VerifyFull ? "system" : null),
            ["PGSSLCERT"] = b.SslCertificate,
            ["PGSSLKEY"] = b.SslKey,
            ["PGGSSENCMODE"] = target.UsesGss ? b.GssEncryptionMode.ToString().ToLowerInvariant() : "disable",
            ["PGCONNECT_TIMEOUT"] = b.Timeout.ToString(CultureInfo.InvariantCulture),
            ["PGAPPNAME"] = b.ApplicationName ?? "timetrack-migrate backup",
            ["PGOPTIONS"] = b.Options,
            ["PGTARGETSESSIONATTRS"] = b.TargetSessionAttributes,
        };
        return env;
    }

    private static (string Host, int Port) SplitHost(string host, int port)
    {
        // "name:5433" from a multi-host list; an IPv6 address has several colons and no port here.
        var colon = host.LastIndexOf(':');
        return colon > 0 && host.IndexOf(':') == colon && int.TryParse(host[(colon + 1)..], CultureInfo.InvariantCulture, out var p)
            ? (host[..colon], p)
            : (host, port);
    }

    /// <summary>The program: the variable's path, or the first on the invocation's PATH.</summary>
    public static string Find(string program, string variable, IReadOnlyDictionary<string, string?> environment, int serverMajor)
    {
        if (environment.GetValueOrDefault(variable) is { Length: > 0 } named)
        {
            return File.Exists(named) ? named : throw new BackupException($"{program} not found: {variable} names '{named}', which does not exist");
        }

        var path = environment.GetValueOrDefault("PATH") ?? System.Environment.GetEnvironmentVariable("PATH") ?? "";
        return path.Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries)
                   .Select(dir => Path.Combine(dir, program))
                   .FirstOrDefault(File.Exists)
               ?? throw new BackupException(
                   $"{program} not found: install the PostgreSQL client programs of version {serverMajor} or newer " +
                   $"(Debian/Ubuntu: postgresql-client-{serverMajor}) or set {variable} to the program");
    }

    /// <summary>The major version `program --version` reports ("pg_dump (PostgreSQL) 15.18 (Debian ...)" is 15; 9.6 is 9).</summary>
    public static async Task<int> MajorVersionAsync(string program, CancellationToken cancel)
    {
        var (code, stdout, stderr) = await RunAsync(program, ["--version"], new Dictionary<string, string?>(), cancel);
        var match = VersionPattern().Match(stdout);
        return code == 0 && match.Success
            ? int.Parse(match.Groups[1].Value, CultureInfo.InvariantCulture)
            : throw new BackupException($"'{program} --version' did not say its version (exit {code}): {LastLines(stdout + stderr)}");
    }

    [GeneratedRegex(@"\(PostgreSQL\)\s+(\d+)")]
    private static partial Regex VersionPattern();

    /// <summary>
    /// Runs <paramref name="program"/> to completion with <paramref name="environment"/> added to
    /// (and the process's PG* variables removed from) its environment. Cancelling kills it.
    /// </summary>
    public static async Task<(int Code, string Stdout, string Stderr)> RunAsync(
        string program, IEnumerable<string> arguments, IReadOnlyDictionary<string, string?> environment, CancellationToken cancel)
    {
        var start = new ProcessStartInfo(program)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true, // never a prompt on the runner's terminal
            UseShellExecute = false,
        };
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        foreach (var key in start.Environment.Keys.Where(k => k.StartsWith("PG", StringComparison.Ordinal) && k != "PGPASSFILE").ToList())
        {
            start.Environment.Remove(key);
        }

        foreach (var (key, value) in environment)
        {
            if (value is not null)
            {
                start.Environment[key] = value;
            }
        }

        Process process;
        try
        {
            process = Process.Start(start) ?? throw new BackupException($"{program} could not be started");
        }
        catch (System.ComponentModel.Win32Exception e)
        {
            throw new BackupException($"{program} could not be started: {e.Message}", e);
        }

        using (process)
        {
            process.StandardInput.Close();
            var stdout = process.StandardOutput.ReadToEndAsync(CancellationToken.None);
            var stderr = process.StandardError.ReadToEndAsync(CancellationToken.None);
            try
            {
                await process.WaitForExitAsync(cancel);
            }
            catch (OperationCanceledException)
            {
                // A signal stops the runner: the child goes with it, and the caller removes its partial output.
                process.Kill(entireProcessTree: true);
                await process.WaitForExitAsync(CancellationToken.None);
                throw;
            }

            return (process.ExitCode, await stdout, await stderr);
        }
    }

    /// <summary>The end of a program's output, one line: what it said last is why it failed.</summary>
    public static string LastLines(string output)
    {
        var lines = output.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        return lines.Length == 0 ? "(no output)" : string.Join(" / ", lines.TakeLast(3));
    }
}
