using System.Data.Common;
using System.Globalization;
using System.Text.Json;
using Microsoft.Data.Sqlite;
using Npgsql;
using TimeTrack.Migrations.Runner.Commands;
using TimeTrack.Migrations.Runner.Databases;
using TimeTrack.Migrations.Runner.Databases.Postgres;
using TimeTrack.Migrations.Runner.Output;
using TimeTrack.Migrations.Runner.Running;
using TimeTrack.Migrations.Runner.Settings;

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
/// reason), and so is a damaged version table (a NULL version fails the read, a repeated one the
/// decision), which the full runner refuses and says how to repair.
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

    /// <summary>
    /// Set by the front on the full runner it execs (with the reason): the decision was taken, so the
    /// runner does not connect to take it again; the runner removes it before anything sees it.
    /// </summary>
    public const string HandedOverVariable = "TIMETRACK_FAST_START_HANDED_OVER";


    /// <summary>The columns of a complete version table (else the full runner adds what is missing).</summary>
    public static readonly IReadOnlyList<string> CompleteLayout = [.. VersionTableLayout.Columns.Select(c => c.Name)];

    /// <summary>One row of the version table, as far as the decision needs it.</summary>
    public sealed record VersionRow(long Version, string? Checksum);

    /// <summary>
    /// An invocation the front understands: init (to head), up or start, and the options that do
    /// not change a no-op (<see cref="OptionDefinition.NoOpSafe"/>); <see cref="App"/>: start's application.
    /// </summary>
    public sealed record Request(CommandDefinition Command, IReadOnlyDictionary<OptionDefinition, string> Values, IReadOnlySet<OptionDefinition> Switches)
    {
        public IReadOnlyList<string> App { get; init; } = [];

        public bool Json => Switches.Contains(OptionDefinitions.Json);

        public string? Value(OptionDefinition option) => Values.GetValueOrDefault(option);

        public int? Number(OptionDefinition option) => Values.TryGetValue(option, out var v) ? int.Parse(v, CultureInfo.InvariantCulture) : null;
    }

    /// <summary>The request, resolved against the environment as the runner resolves it.</summary>
    public sealed record Resolved(Request Request, DatabaseTarget Target, LogFormat LogFormat, Redactor Redactor, bool ImageDefaultUrl);

    private static readonly CommandDefinition[] NoOpCommands = [CommandDefinitions.Init, CommandDefinitions.Up, CommandDefinitions.Start];

    /// <summary>
    /// The arguments, when they are an invocation this path knows to the letter; null otherwise
    /// (any other command or option, a value it does not read the same way, a repeated option,
    /// start with a runner command after "--"). The names are the runner's own definitions.
    /// </summary>
    public static Request? Understand(IReadOnlyList<string> args)
    {
        var dash = args.ToList().IndexOf("--");
        var own = dash < 0 ? args : args.Take(dash).ToList();
        CommandDefinition? command = null;
        var values = new Dictionary<OptionDefinition, string>();
        var switches = new HashSet<OptionDefinition>();
        for (var i = 0; i < own.Count; i++)
        {
            var token = own[i];
            if (command is null)
            {
                command = NoOpCommands.FirstOrDefault(c => c.IsNamed(token));
                if (command is null)
                {
                    return null; // another command, or an option before the command
                }

                continue;
            }

            var eq = token.IndexOf('=');
            var name = eq < 0 ? token : token[..eq];
            var option = command.Options.FirstOrDefault(o => o.Name == name);
            if (option is null || !option.NoOpSafe || values.ContainsKey(option) || switches.Contains(option))
            {
                return null;
            }

            if (option.Value == OptionValue.Switch)
            {
                if (eq >= 0)
                {
                    return null;
                }

                switches.Add(option);
                continue;
            }

            var value = eq >= 0 ? token[(eq + 1)..] : i + 1 < own.Count ? own[++i] : null;
            var understood = value is not null && option.Value switch
            {
                OptionValue.Seconds or OptionValue.Count => IsNumber(value),
                _ when option == OptionDefinitions.LogFormat => value is "text" or "json",
                _ when option == OptionDefinitions.InitTo => TargetVersion.IsHead(value) && value.Length > 0,
                _ => !value.StartsWith('-'),
            };
            if (!understood)
            {
                return null;
            }

            values[option] = value!;
        }

        var app = dash < 0 ? [] : args.Skip(dash + 1).ToList();
        if (command == CommandDefinitions.Start && values.Count == 0 && switches.Count == 0 && app.Count > 0 && CommandDefinitions.IsRunnerInvocation(app[0]))
        {
            return Understand(app); // the image's `start -- init ...`: the runner runs init alone, so the same decision
        }

        if (command is null || (dash >= 0 && command != CommandDefinitions.Start) || (app.Count > 0 && CommandDefinitions.RunsWithoutMigrating(app[0])))
        {
            return null;
        }

        return new Request(command, values, switches) { App = app };
    }

    private static bool IsNumber(string value) => value.Length is > 0 and < 10 && value.All(char.IsAsciiDigit);

    /// <summary>
    /// The settings as the runner makes them, for a PostgreSQL URL or an existing SQLite file the
    /// front reads by itself; null when the runner must decide (no URL: the embedded default; a
    /// SQLite file still to create; --migrations-assembly; GSS; a target other than head; start
    /// with MIGRATE_ON_START=false; any setting the runner would refuse).
    /// </summary>
    public static Resolved? Resolve(Request request, Terminal terminal)
    {
        try
        {
            var environment = new RunnerEnvironment(terminal);
            var url = environment.DatabaseUrl(request.Value(OptionDefinitions.DatabaseUrl));
            var password = environment.FallbackPassword();
            var logFormat = environment.LogFormat(request.Value(OptionDefinitions.LogFormat) is { } f ? Enum.Parse<LogFormat>(f, ignoreCase: true) : null);
            foreach (var option in OptionDefinitions.Numbers)
            {
                _ = environment.Number(option, request.Number(option));
            }

            _ = BackupPolicy.Resolve(request.Value(OptionDefinitions.Backup), request.Number(OptionDefinitions.BackupKeep),
                request.Switches.Contains(OptionDefinitions.BackupOptional), takesKeep: true, terminal);
            var start = request.Command == CommandDefinitions.Start;
            var runs = !start || environment.Flag("ON_START", "MIGRATE_ON_START") != false;
            _ = environment.Flag(OptionDefinitions.AllowDowngrade.Setting, OptionDefinitions.AllowDowngrade.Name);
            var toHead = request.Command == CommandDefinitions.Up || TargetVersion.IsHead(request.Value(OptionDefinitions.InitTo) ?? environment[OptionDefinitions.InitTo.Setting!]);
            if (string.IsNullOrWhiteSpace(url) || environment[OptionDefinitions.MigrationsAssembly.Setting!] is not null || !runs || !toHead)
            {
                return null;
            }

            var target = DatabaseUrl.Parse(url, terminal.WorkingDirectory, password, environment.Variable("PGUSER"),
                environment.DatabaseRole(request.Value(OptionDefinitions.Role)));
            if (target.UsesGss || (target.SqlitePath is { } file && !File.Exists(file)))
            {
                return null; // the runner connects with GSS, or creates the SQLite file
            }

            var redactor = new Redactor();
            redactor.Add(password);
            redactor.Add(target.Password);
            return new Resolved(request, target, logFormat, redactor, environment.UsesImageDefaultUrl(request.Value(OptionDefinitions.DatabaseUrl)));
        }
        catch (UserError)
        {
            return null; // the runner says what is wrong, in its words
        }
    }

    /// <summary>How long the front waits for a server: one that is not up yet is the full runner's to wait for.</summary>
    public const int ConnectTimeoutSeconds = 3;

    /// <summary>
    /// The front's one connection, opened as the providers open theirs (PostgresProvider: the slim
    /// data source, no type loading; TLS by sslmode, without reading the system trust store where
    /// it plays no part: <see cref="PostgresTls"/>), once: a server that is not up yet, or a SQLite
    /// file another process holds a write lock on, is the full runner's to wait for. The front never writes.
    /// </summary>
    public static async Task<DbConnection> OpenAsync(DatabaseTarget target, CancellationToken cancel, int connectTimeoutSeconds = ConnectTimeoutSeconds)
    {
        if (target.Kind == DatabaseKind.Sqlite)
        {
            var sqlite = new SqliteConnection(new SqliteConnectionStringBuilder(target.ConnectionString)
            {
                Mode = SqliteOpenMode.ReadOnly,
                DefaultTimeout = 1,
            }.ConnectionString);
            await sqlite.OpenAsync(cancel);
            return sqlite;
        }

        // No pool: closing the connection ends the session with a Terminate message (before an
        // exec too), not with a reset the server would log.
        var settings = new NpgsqlConnectionStringBuilder(target.ConnectionString) { Pooling = false };
        settings.Timeout = Math.Min(settings.Timeout, connectTimeoutSeconds);
        var source = new NpgsqlSlimDataSourceBuilder(settings.ConnectionString)
            .EnableTransportSecurity()
            .ConfigureTypeLoading(types => types.EnableTypeLoading(false))
            .Build();
        using (PostgresTls.HideSystemTrustStore(settings.ConnectionString))
        {
            return await source.OpenConnectionAsync(cancel);
        }
    }

    /// <summary>The version table as each provider names it.</summary>
    public static string VersionTableName(DatabaseKind kind) => VersionTableLayout.QualifiedName(kind);

    private const string StandbyQuery = "SELECT pg_is_in_recovery()";

    private const string StandbyReason = "the server is a read-only standby";

    /// <summary>
    /// The version table's rows; with a role (--role), read as that role (the login may not read the role's table): SET LOCAL in a
    /// read-only transaction sent with the read, so no round trip is added and nothing stays on a pooled server connection.
    /// </summary>
    private static string VersionTableQuery(DatabaseTarget target)
    {
        var select = $"SELECT * FROM {VersionTableName(target.Kind)} ORDER BY \"Version\"";
        return target.SetRoleStatement(local: true) is { } role ? $"BEGIN READ ONLY; {role}; {select}; COMMIT" : select;
    }

    /// <summary>
    /// The version table's columns and rows, in one statement (one snapshot); a missing table is
    /// an error here, and so the full runner's (it creates or adopts).
    /// </summary>
    /// <param name="target">With a role (--role), the read runs as that role (the login may not read the role's table): SET LOCAL
    /// in a read-only transaction sent with the read, so no round trip is added and nothing stays on a pooled server connection.</param>
    public static async Task<(IReadOnlyList<string> Columns, IReadOnlyList<VersionRow> Rows)> ReadAsync(DbConnection connection, DatabaseTarget target, CancellationToken cancel)
    {
        await using var command = connection.CreateCommand();
        command.CommandText = VersionTableQuery(target);
        await using var reader = await command.ExecuteReaderAsync(cancel);
        return await ReadRowsAsync(reader, cancel);
    }

    /// <summary>
    /// The front's whole decision on an open connection, in one round trip: a PostgreSQL standby
    /// (pg_is_in_recovery(); its table may lag the primary's) is the runner's to refuse (exit 3), whatever
    /// the version table says; else the version table (<see cref="ReadAsync"/>'s query), then <see cref="WhyNotNoOp"/>.
    /// </summary>
    public static async Task<string?> DecideAsync(DbConnection connection, DatabaseTarget target, MigrationManifest manifest, CancellationToken cancel)
    {
        var kind = target.Kind;
        var postgres = kind == DatabaseKind.Postgres;
        await using var command = connection.CreateCommand();
        command.CommandText = postgres ? $"{StandbyQuery}; {VersionTableQuery(target)}" : VersionTableQuery(target);
        var standby = false;
        try
        {
            await using var reader = await command.ExecuteReaderAsync(cancel);
            if (postgres)
            {
                standby = !await reader.ReadAsync(cancel) || reader.GetBoolean(0);
                if (standby)
                {
                    return StandbyReason;
                }

                await reader.NextResultAsync(cancel);
            }

            var (columns, rows) = await ReadRowsAsync(reader, cancel);
            return WhyNotNoOp(columns, rows, manifest, MigrationManifest.Key(kind));
        }
        catch (DbException) when (standby)
        {
            // The rest of the batch failed as the reader closed (a standby that has not replayed the
            // version table yet): the standby is the answer, not the missing table.
            return StandbyReason;
        }
    }

    private static async Task<(IReadOnlyList<string> Columns, IReadOnlyList<VersionRow> Rows)> ReadRowsAsync(DbDataReader reader, CancellationToken cancel)
    {
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

        return WhyNotAtHead(rows, [.. manifest.Migrations.Select(m => m.Version)], row => manifest.Find(row.Version)!.Accepts(providerKey, row.Checksum!));
    }

    /// <summary>
    /// The one rule of "at head, nothing to do" for a version table whose layout is complete, asked
    /// by the front (against the manifest) and by the full runner's read before its lock (against its
    /// catalog, CommandContext): every version the build knows recorded exactly once, no other
    /// version, every row with a checksum the build accepts. Null when so; otherwise why not.
    /// </summary>
    /// <param name="known">The build's versions.</param>
    /// <param name="accepts">Whether a known row's checksum (never null when asked) is this build's or one it accepts.</param>
    public static string? WhyNotAtHead(IReadOnlyList<VersionRow> rows, IReadOnlyCollection<long> known, Func<VersionRow, bool> accepts)
    {
        var applied = rows.Select(r => r.Version).ToHashSet();
        if (applied.Count != rows.Count)
        {
            // A damaged table (no unique index): the full runner refuses it and says how to repair it.
            return "a version is recorded more than once";
        }

        var pending = known.Where(v => !applied.Contains(v)).ToList();
        if (pending.Count > 0)
        {
            return $"{PendingPrefix}{string.Join(", ", pending)}";
        }

        var knownSet = known.ToHashSet();
        var unknown = rows.Where(r => !knownSet.Contains(r.Version)).Select(r => r.Version).ToList();
        if (unknown.Count > 0)
        {
            return $"unknown to this build: {string.Join(", ", unknown)}";
        }

        foreach (var row in rows)
        {
            if (row.Checksum is null)
            {
                return $"{row.Version} has no recorded checksum";
            }

            if (!accepts(row))
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
        var line = LogLine.Format(format, "Error", LogLine.Category, error.Message, null) + "\n";
        if (!json)
        {
            return ("", line);
        }

        return (ErrorDocument.Serialize(error.Code, error.Message) + "\n", line);
    }

    /// <summary>What the full runner prints for nothing to do at <paramref name="head"/>: the stdout text and the stderr log lines.</summary>
    public static (string Stdout, IReadOnlyList<string> Stderr) Print(Resolved resolved, long head)
    {
        var version = head.ToString(CultureInfo.InvariantCulture);
        var redactor = resolved.Redactor;
        var init = resolved.Request.Command != CommandDefinitions.Up;
        string Log(string message) => LogLine.Format(resolved.LogFormat, "Information", LogLine.Category, redactor.Redact(message), null);
        var logs = new List<string>();
        if (resolved.Request.Command == CommandDefinitions.Start && resolved.ImageDefaultUrl)
        {
            logs.Add(Log(StartMessages.ImageDefaultUrl(resolved.Target.Display)));
        }

        if (init)
        {
            logs.Add(Log($"managed database at {version} (head)"));
        }

        if (!resolved.Request.Json)
        {
            var line = init ? $"managed: the database is at {version} (head), nothing to do" : $"nothing to do: the database is at {version} (head)";
            return (redactor.Redact(line) + "\n", logs);
        }

        // The runner's own result records and serialization (none is taken when nothing changes: backup null).
        var json = init
            ? JsonSerializer.Serialize(new InitResult("init", resolved.Target.Display, "managed", null, [], head, head, head, [], null), ResultJson.Default.InitResult)
            : JsonSerializer.Serialize(new UpResult("up", resolved.Target.Display, head, head, head, [], null), ResultJson.Default.UpResult);
        return (redactor.Redact(json) + "\n", logs);
    }

    private const string PendingPrefix = "pending: ";

    /// <summary>
    /// Whether <paramref name="why"/> (a hand-over's reason, the front's included) says the decision
    /// read a complete version table and found this build's migrations pending.
    /// </summary>
    public static bool SaysPending(string why) => why.StartsWith(PendingPrefix, StringComparison.Ordinal);

    /// <summary>
    /// What <see cref="RunAsync"/> did. <see cref="HandOver"/> set: nothing was printed, the full
    /// runner decides (why, and the log format if resolved). Otherwise the runner's lines are printed and
    /// <see cref="ExitCode"/> is the process's, unless <see cref="App"/> (start's application) is to be exec'd.
    /// </summary>
    public sealed record Outcome(string? HandOver, LogFormat Format, int ExitCode = 0, Resolved? App = null)
    {
        /// <summary>
        /// Handed over because this build's migrations are pending (this decision's or the front's,
        /// <see cref="SaysPending"/>): the runner's read before its lock could only find the same,
        /// so it goes to the lock at once.
        /// </summary>
        public bool Pending { get; init; }
    }

    /// <summary>
    /// The no-op start, whole, for the front (Program.cs) and the full runner (its Program.cs, before
    /// it builds anything): understand, resolve, one connection, one round trip (<see cref="DecideAsync"/>),
    /// then the runner's lines for "nothing to do", or a signal's (the runner's answer to an interruption
    /// before anything was written). <paramref name="explain"/>: the front's "fast start: nothing to do" first.
    /// </summary>
    public static async Task<Outcome> RunAsync(IReadOnlyList<string> args, Terminal terminal, Func<MigrationManifest?> manifest, CancellationToken cancel,
        bool explain = false, int connectTimeoutSeconds = ConnectTimeoutSeconds)
    {
        if (terminal.Variable(HandedOverVariable) is { } decided)
        {
            if (terminal.OwnsProcess)
            {
                NativeEnvironment.Forget(HandedOverVariable); // neither the application (start) nor pg_dump sees it
            }

            return new($"the front handed over ({decided})", LogFormat.Text) { Pending = SaysPending(decided) };
        }

        if (terminal.Variable(Variable) == "off")
        {
            return new($"{Variable}=off", LogFormat.Text);
        }

        var request = Understand(args);
        if (request is null)
        {
            return new("not a no-op start this front knows (arguments)", LogFormat.Text);
        }

        var resolved = Resolve(request, terminal);
        if (resolved is null)
        {
            return new("no URL, a SQLite file still to create, GSS, or a setting the runner checks", LogFormat.Text);
        }

        var format = resolved.LogFormat;
        using var announcement = Interruption.AnnounceOnStandardError(terminal, format);
        var migrations = manifest();
        if (migrations is null)
        {
            return new("no migrations manifest embedded in this build", format);
        }

        string? why;
        try
        {
            await using var connection = await OpenAsync(resolved.Target, cancel, connectTimeoutSeconds);
            why = await DecideAsync(connection, resolved.Target, migrations, cancel);
        }
        catch (Exception e)
        {
            why = $"reading the version table failed ({e.GetType().Name})";
        }

        if (cancel.IsCancellationRequested)
        {
            var (stopOut, stopErr) = PrintInterruption(format, request.Json);
            terminal.Err.Write(stopErr);
            terminal.Out.Write(stopOut);
            terminal.Out.Flush();
            return new(null, format, (int)Interruption.Code);
        }

        if (why is not null)
        {
            return new(why, format) { Pending = SaysPending(why) };
        }

        if (explain)
        {
            terminal.Err.WriteLine("fast start: nothing to do");
        }

        var (stdout, stderr) = Print(resolved, migrations.Migrations[^1].Version);
        foreach (var line in stderr)
        {
            terminal.Err.WriteLine(line);
        }

        terminal.Out.Write(stdout);
        terminal.Out.Flush();
        terminal.Err.Flush();
        return new(null, format, 0, request.App.Count > 0 ? resolved : null);
    }
}
