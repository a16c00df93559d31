using System.Data.Common;
using System.Globalization;
using System.Text;
using System.Text.Json;
using TimeTrack.Migrations.Runner.Commands;
using TimeTrack.Migrations.Runner.Databases;
using TimeTrack.Migrations.Runner.Output;
using TimeTrack.Migrations.Runner.Running;

namespace TimeTrack.Migrations.Runner.FastStart;

/// <summary>
/// The no-op start without the runtime of the full runner: what the NativeAOT front
/// (TimeTrack.Migrations.FastStart, published as <c>timetrack-migrate</c>) decides before it either
/// prints what the full runner would print for "nothing to do", or hands the invocation over to
/// the full runner unchanged. Compiled into the runner too, so that the tests check it in-process
/// against the runner itself.
/// </summary>
/// <remarks>
/// The rule: say "nothing to do" only where the full runner would do nothing and print exactly
/// this; everything else — an argument or setting not understood here, a URL of another provider,
/// a failure of any kind, a version pending, unknown or changed, a history still to complete — is
/// the full runner's (<see cref="Understand"/> and <see cref="WhyNotNoOp"/> return null or a
/// reason).
/// <para>
/// Reading without the migration lock is safe for this decision. Every write the runner makes to
/// the version table is committed in one transaction with what it records: a migration's row with
/// its steps, a stamp or an adoption as a whole, the added columns and back-filled records of a
/// history completion. The one statement here reads one snapshot: a runner migrating at the same
/// time has either committed a version (then this reads it) or not (then the version is pending
/// here and the full runner, which waits for the lock, takes over). "Nothing to do" is thus the
/// answer the full runner would have given at the moment of the snapshot, as if it had run just
/// before the other one took the lock. A rollback in progress is the same: before its commit the
/// database is still at head.
/// </para>
/// </remarks>
public static class NoOpStart
{
    /// <summary>Set to <c>off</c>: the front always hands over; <c>explain</c>: it says on stderr what it decided (tests, profiling).</summary>
    public const string Variable = "TIMETRACK_FAST_START";

    /// <summary>The columns of a complete version table (else the full runner adds what is missing). Tested to match <see cref="VersionTable"/>.</summary>
    public static readonly IReadOnlyList<string> CompleteLayout =
    [
        "Version", "AppliedOn", "Description", "Checksum", "RunnerVersion", "ImageRevision", "AppliedByHost", "AppliedByUser",
        "DurationMs", "DownSql", "DownInTransaction", "DownNotCaptured",
    ];

    /// <summary>One row of the version table, as far as the decision needs it.</summary>
    public sealed record VersionRow(long Version, string? Checksum);

    /// <summary>An invocation the front understands: init (to head) or up, and the options that do not change a no-op.</summary>
    public sealed record Request(string Command, string? DatabaseUrl, LogFormat? LogFormat, bool Json, IReadOnlyDictionary<string, int> Numbers)
    {
        /// <summary>--backup, --backup-keep, --backup-optional: checked as the runner checks them; no backup is taken when nothing changes.</summary>
        public string? BackupDirectory { get; init; }
        public int? BackupKeep { get; init; }
        public bool BackupOptional { get; init; }
    }

    /// <summary>The request, resolved against the environment as the runner resolves it.</summary>
    public sealed record Resolved(Request Request, DatabaseTarget Target, LogFormat LogFormat, Redactor Redactor);

    // Options that take a whole number and change nothing when there is nothing to do; checked as the runner checks them.
    private static readonly Dictionary<string, (string Key, int Fallback, bool IsCount)> NumberOptions = new(StringComparer.Ordinal)
    {
        ["--lock-timeout"] = ("LOCK_TIMEOUT", 300, false),
        ["--wait"] = ("WAIT", 0, false),
        ["--ddl-lock-timeout"] = ("DDL_LOCK_TIMEOUT", 3, false),
        ["--ddl-retries"] = ("DDL_RETRIES", DdlRetryPolicy.Default.Retries, true),
        ["--ddl-retry-for"] = ("DDL_RETRY_FOR", 60, false),
        ["--statement-timeout"] = ("STATEMENT_TIMEOUT", 0, false),
    };

    // Switches that change nothing on a database at head with every checksum matching.
    private static readonly HashSet<string> UpSwitches = ["--allow-unknown", "--allow-out-of-order", "--allow-changed", "--backup-optional"];
    private static readonly HashSet<string> InitSwitches = [.. UpSwitches, "--allow-downgrade", "--force"];

    /// <summary>
    /// The arguments, when they are an invocation this path knows to the letter; null otherwise
    /// (any other command or option, a value it does not read the same way, a repeated option).
    /// </summary>
    public static Request? Understand(IReadOnlyList<string> args)
    {
        string? command = null;
        string? url = null;
        string? backup = null;
        int? keep = null;
        LogFormat? logFormat = null;
        var json = false;
        var numbers = new Dictionary<string, int>(StringComparer.Ordinal);
        var seen = new HashSet<string>(StringComparer.Ordinal);
        var switches = new List<string>();
        for (var i = 0; i < args.Count; i++)
        {
            var token = args[i];
            if (!token.StartsWith("--", StringComparison.Ordinal))
            {
                if (command is not null)
                {
                    return null;
                }

                command = token switch
                {
                    "init" => "init",
                    "up" or "apply" => "up",
                    _ => null,
                };
                if (command is null)
                {
                    return null;
                }

                continue;
            }

            var eq = token.IndexOf('=');
            var name = eq < 0 ? token : token[..eq];
            if (!seen.Add(name))
            {
                return null;
            }

            if (name is "--json" or "--allow-unknown" or "--allow-out-of-order" or "--allow-changed" or "--allow-downgrade" or "--force" or "--backup-optional")
            {
                if (eq >= 0)
                {
                    return null;
                }

                json |= name == "--json";
                switches.Add(name);
                continue;
            }

            string value;
            if (eq >= 0)
            {
                value = token[(eq + 1)..];
            }
            else if (i + 1 < args.Count)
            {
                value = args[++i];
            }
            else
            {
                return null;
            }

            switch (name)
            {
                case "--database-url" when !value.StartsWith('-'):
                    url = value;
                    break;
                case "--backup" when !value.StartsWith('-'):
                    backup = value;
                    break;
                case "--backup-keep" when IsNumber(value):
                    keep = int.Parse(value, CultureInfo.InvariantCulture);
                    break;
                case "--log-format" when value is "text" or "json":
                    logFormat = value == "json" ? Output.LogFormat.Json : Runner.Output.LogFormat.Text;
                    break;
                case "--to" when value.Equals("head", StringComparison.OrdinalIgnoreCase):
                    switches.Add(name); // init only: up's --to takes a version
                    break;
                case var n when NumberOptions.ContainsKey(n) && IsNumber(value):
                    numbers[n] = int.Parse(value, CultureInfo.InvariantCulture);
                    break;
                default:
                    return null;
            }
        }

        if (command is null)
        {
            return null;
        }

        var allowed = command == "init" ? InitSwitches : UpSwitches;
        return switches.All(s => s == "--json" || allowed.Contains(s) || (s == "--to" && command == "init"))
            ? new Request(command, url, logFormat, json, numbers) { BackupDirectory = backup, BackupKeep = keep, BackupOptional = switches.Contains("--backup-optional") }
            : null;
    }

    private static bool IsNumber(string value) => value.Length is > 0 and < 10 && value.All(char.IsAsciiDigit);

    /// <summary>
    /// The settings as <see cref="GlobalOptions.Resolve"/> makes them, for a PostgreSQL URL or an
    /// existing SQLite file the front reads by itself; null when the runner must decide (no URL:
    /// the embedded default; a SQLite file still to create; --migrations-assembly; GSS; any
    /// setting the runner would refuse).
    /// </summary>
    public static Resolved? Resolve(Request request, Terminal terminal)
    {
        try
        {
            var environment = new RunnerEnvironment(terminal);
            var url = environment.DatabaseUrl(request.DatabaseUrl);
            var password = environment.FallbackPassword();
            var logFormat = environment.LogFormat(request.LogFormat);
            foreach (var (option, (key, fallback, isCount)) in NumberOptions)
            {
                int? given = request.Numbers.TryGetValue(option, out var n) ? n : null;
                _ = isCount ? environment.Count(given, key, option, fallback) : environment.Seconds(given, key, option, fallback);
            }

            _ = BackupPolicy.Resolve(request.BackupDirectory, request.BackupKeep, request.BackupOptional, takesKeep: true, terminal);

            if (string.IsNullOrWhiteSpace(url) || environment["MIGRATIONS_ASSEMBLY"] is not null)
            {
                return null;
            }

            // The runner's own split; the schemes are its providers' (PostgresProvider/SqliteProvider.UrlSchemes, tested alike).
            var (scheme, written, rest) = DatabaseUrl.Split(url);
            var target = scheme switch
            {
                "postgresql" or "postgres" => Databases.Postgres.PostgresUrl.Parse(written, rest, password),
                "sqlite" => Databases.Sqlite.SqliteUrl.Parse($"{written}://{rest}", rest, terminal.WorkingDirectory),
                _ => null,
            };
            if (target is null || target.UsesGss || (target.SqlitePath is { } file && !File.Exists(file)))
            {
                return null; // the runner connects with GSS, or creates the SQLite file
            }

            var redactor = new Redactor();
            redactor.Add(password);
            redactor.Add(target.Password);
            return new Resolved(request, target, logFormat, redactor);
        }
        catch (UserError)
        {
            return null; // the runner says what is wrong, in its words
        }
    }

    /// <summary>The version table as each provider names it (its QualifiedTableName; tested to match).</summary>
    public static string VersionTableName(DatabaseKind kind) =>
        kind == DatabaseKind.Postgres ? "\"public\".\"VersionInfo\"" : "\"VersionInfo\"";

    /// <summary>
    /// The version table's columns and rows, in one statement (one snapshot); a missing table is
    /// an error here, and so the full runner's (it creates or adopts).
    /// </summary>
    public static async Task<(IReadOnlyList<string> Columns, IReadOnlyList<VersionRow> Rows)> ReadAsync(DbConnection connection, DatabaseKind kind, CancellationToken cancel)
    {
        await using var command = connection.CreateCommand();
        command.CommandText = $"SELECT * FROM {VersionTableName(kind)} ORDER BY \"Version\"";
        await using var reader = await command.ExecuteReaderAsync(cancel);
        var columns = Enumerable.Range(0, reader.FieldCount).Select(reader.GetName).ToList();
        var version = columns.IndexOf("Version");
        var checksum = columns.IndexOf("Checksum");
        var rows = new List<VersionRow>();
        while (version >= 0 && checksum >= 0 && await reader.ReadAsync(cancel))
        {
            rows.Add(new VersionRow(reader.GetInt64(version), reader.IsDBNull(checksum) ? null : reader.GetString(checksum)));
        }

        return (columns, rows);
    }

    /// <summary>
    /// Null when the full runner would do nothing on this version table (complete layout, every
    /// row recorded, exactly the manifest's versions, every checksum this build's or one it
    /// accepts); otherwise why not, and the full runner decides.
    /// </summary>
    public static string? WhyNotNoOp(IReadOnlyCollection<string> columns, IReadOnlyList<VersionRow> rows, MigrationManifest manifest, string providerKey)
    {
        var missing = CompleteLayout.Where(c => !columns.Contains(c, StringComparer.OrdinalIgnoreCase)).ToList();
        if (missing.Count > 0)
        {
            return $"the version table lacks {string.Join(", ", missing)}";
        }

        if (manifest.Migrations.Count == 0)
        {
            return "the manifest lists no migration";
        }

        var applied = rows.Select(r => r.Version).ToHashSet();
        var pending = manifest.Migrations.Where(m => !applied.Contains(m.Version)).Select(m => m.Version).ToList();
        if (pending.Count > 0)
        {
            return $"pending: {string.Join(", ", pending)}";
        }

        var unknown = rows.Where(r => manifest.Find(r.Version) is null).Select(r => r.Version).ToList();
        if (unknown.Count > 0)
        {
            return $"unknown to this build: {string.Join(", ", unknown)}";
        }

        foreach (var row in rows)
        {
            var entry = manifest.Find(row.Version)!;
            if (row.Checksum is null)
            {
                return $"{row.Version} has no recorded checksum";
            }

            var accepted = entry.Accepted?.GetValueOrDefault(providerKey) ?? [];
            if (entry.Checksums.GetValueOrDefault(providerKey) != row.Checksum && !accepted.Contains(row.Checksum))
            {
                return $"{row.Version} changed since it was applied";
            }
        }

        return null;
    }

    /// <summary>
    /// What the full runner prints when SIGTERM or SIGINT stops it before it wrote anything (Handler
    /// with <see cref="Interruption.Explain"/>): the error line on stderr, and with --json the error
    /// document on stdout.
    /// </summary>
    public static (string Stdout, string Stderr) PrintInterruption(LogFormat format, bool json)
    {
        var error = Interruption.Error("nothing was changed");
        var line = LogLine.Format(format, "Error", "error: ", LogLine.Category, error.Message, null) + "\n";
        if (!json)
        {
            return ("", line);
        }

        using var buffer = new MemoryStream();
        using (var writer = new Utf8JsonWriter(buffer))
        {
            writer.WriteStartObject();
            writer.WriteStartObject("error");
            writer.WriteNumber("exitCode", (int)error.Code);
            writer.WriteString("message", error.Message);
            writer.WriteEndObject();
            writer.WriteEndObject();
        }

        return (Encoding.UTF8.GetString(buffer.ToArray()) + "\n", line);
    }

    /// <summary>What the full runner prints for nothing to do at <paramref name="head"/>: the stdout text and the stderr log lines.</summary>
    public static (string Stdout, IReadOnlyList<string> Stderr) Print(Resolved resolved, long head)
    {
        var version = head.ToString(CultureInfo.InvariantCulture);
        var redactor = resolved.Redactor;
        var init = resolved.Request.Command == "init";
        var logs = init
            ? new[] { LogLine.Format(resolved.LogFormat, "Information", "", LogLine.Category, redactor.Redact($"managed database at {version} (head)"), null) }
            : [];
        if (!resolved.Request.Json)
        {
            var line = init ? $"managed: the database is at {version} (head), nothing to do" : $"nothing to do: the database is at {version} (head)";
            return (redactor.Redact(line) + "\n", logs);
        }

        // As CommandContext.Result serializes its anonymous object: indented, camelCase, the default encoder.
        using var buffer = new MemoryStream();
        using (var json = new Utf8JsonWriter(buffer, new JsonWriterOptions { Indented = true }))
        {
            json.WriteStartObject();
            json.WriteString("command", resolved.Request.Command);
            json.WriteString("database", resolved.Target.Display);
            if (init)
            {
                json.WriteString("scenario", "managed");
                json.WriteNull("profile");
                json.WriteStartArray("warnings");
                json.WriteEndArray();
            }

            json.WriteNumber("from", head);
            json.WriteNumber("to", head);
            json.WriteNumber("head", head);
            json.WriteStartArray(init ? "steps" : "applied");
            json.WriteEndArray();
            json.WriteNull("backup"); // none is taken when nothing changes
            json.WriteEndObject();
        }

        return (redactor.Redact(Encoding.UTF8.GetString(buffer.ToArray())) + "\n", logs);
    }
}
