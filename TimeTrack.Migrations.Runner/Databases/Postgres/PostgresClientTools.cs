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
        using var process = Start(program, arguments, environment);
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
            await KillAsync(process);
            throw;
        }

        return (process.ExitCode, await stdout, await stderr);
    }

    /// <summary>
    /// <paramref name="producer"/>'s standard output fed to <paramref name="consumer"/>'s input,
    /// between <paramref name="prelude"/> and <paramref name="epilogue"/>. The epilogue is written
    /// only when the producer succeeded; otherwise the consumer is killed before its input ends,
    /// so a psql fed a truncated script never sees the COMMIT (nor an end of input it could take
    /// for one). Returns each program's exit code (the producer's null when it was stopped because
    /// the consumer stopped reading) and what each said on stderr.
    /// </summary>
    public static async Task<(int? ProducerCode, string ProducerError, int ConsumerCode, string ConsumerError)> PipeAsync(
        string producer, IEnumerable<string> producerArguments, string consumer, IEnumerable<string> consumerArguments,
        string prelude, string epilogue, IReadOnlyDictionary<string, string?> environment, CancellationToken cancel)
    {
        using var to = Start(consumer, consumerArguments, environment);
        using var from = Start(producer, producerArguments, environment);
        from.StandardInput.Close();
        var fromError = from.StandardError.ReadToEndAsync(CancellationToken.None);
        var toOutput = to.StandardOutput.ReadToEndAsync(CancellationToken.None); // drained, not shown
        var toError = to.StandardError.ReadToEndAsync(CancellationToken.None);
        var input = to.StandardInput.BaseStream;
        var committed = false;
        var consumerStopped = false;
        int? producerCode = null;
        try
        {
            try
            {
                await input.WriteAsync(System.Text.Encoding.UTF8.GetBytes(prelude), cancel);
                await from.StandardOutput.BaseStream.CopyToAsync(input, cancel);
                await from.WaitForExitAsync(cancel);
                producerCode = from.ExitCode;
                if (producerCode == 0)
                {
                    await input.WriteAsync(System.Text.Encoding.UTF8.GetBytes(epilogue), cancel);
                    input.Close();
                    committed = true;
                }
            }
            catch (IOException)
            {
                // The consumer stopped reading (psql stops at the first error): it says why.
                consumerStopped = true;
            }

            if (!committed && !consumerStopped)
            {
                await KillAsync(to);
            }

            await KillAsync(from, onlyIfRunning: true);
            await to.WaitForExitAsync(cancel);
        }
        catch (OperationCanceledException)
        {
            // The consumer first: killed with its input still open, it cannot take the end for a commit.
            await KillAsync(to);
            await KillAsync(from);
            throw;
        }

        await toOutput;
        return (producerCode, await fromError, to.ExitCode, await toError);
    }

    private static async Task KillAsync(Process process, bool onlyIfRunning = false)
    {
        if (onlyIfRunning && process.HasExited)
        {
            return;
        }

        try
        {
            process.Kill(entireProcessTree: true);
        }
        catch (InvalidOperationException)
        {
            // It had exited already.
        }

        await process.WaitForExitAsync(CancellationToken.None);
    }

    /// <summary>Starts <paramref name="program"/>, every stream redirected, with only our PG* variables.</summary>
    private static Process Start(string program, IEnumerable<string> arguments, IReadOnlyDictionary<string, string?> environment)
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

        try
        {
            return Process.Start(start) ?? throw new BackupException($"{program} could not be started");
        }
        catch (System.ComponentModel.Win32Exception e)
        {
            throw new BackupException($"{program} could not be started: {e.Message}", e);
        }
    }

    /// <summary>The end of a program's output, one line: what it said last is why it failed.</summary>
    public static string LastLines(string output)
    {
        var lines = output.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        return lines.Length == 0 ? "(no output)" : string.Join(" / ", lines.TakeLast(3));
    }
}
