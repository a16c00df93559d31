using System.Text.Json;
using System.Text.Json.Serialization;
using Microsoft.Extensions.Logging;
using TimeTrack.Migrations.Runner.Databases;
using TimeTrack.Migrations.Runner.FastStart;
using TimeTrack.Migrations.Runner.Output;
using TimeTrack.Migrations.Runner.Running;

namespace TimeTrack.Migrations.Runner.Commands;

/// <summary>
/// What a command handler works with: the target database, the known migrations, the log
/// (stderr) and the result writer (stdout, text or JSON), all of the invocation's <see cref="Terminal"/>.
/// </summary>
public sealed class CommandContext : IDisposable
{
    internal static readonly JsonSerializerOptions JsonOptions = new()
    {
        WriteIndented = true,
        PropertyNamingPolicy = JsonNamingPolicy.CamelCase,
        DefaultIgnoreCondition = JsonIgnoreCondition.Never,
        Converters = { new JsonStringEnumConverter(JsonNamingPolicy.CamelCase) },
    };

    private readonly Task<MigrationCatalog> _catalog;

    /// <summary>The process's stop signal announced as it arrives (null unless this invocation is the process's).</summary>
    private readonly IDisposable? _announcement;

    public CommandContext(GlobalOptions.Settings settings, Terminal terminal)
    {
        Settings = settings;
        Terminal = terminal;
        Out = terminal.Out;
        Redactor = new Redactor();
        Logs = Logging.Create(settings.LogFormat, settings.Verbose, Redactor, terminal.Err);
        Log = Logs.CreateLogger(Logging.Category);
        Redactor.Add(settings.FallbackPassword);
        Target = DatabaseUrl.Parse(settings.Url, terminal.WorkingDirectory, settings.FallbackPassword, terminal.Variable("PGUSER"), settings.Role);
        Redactor.Add(Target.Password);

        // Reading the migrations (assembly loading, reflection) overlaps with connecting.
        var assemblyPath = settings.MigrationsAssemblyPath is { } path ? terminal.FullPath(path) : null;
        _catalog = Task.Run(() => MigrationCatalog.FromAssembly(GlobalOptions.LoadMigrationsAssembly(assemblyPath)));
        _announcement = Interruption.AnnounceOnStandardError(terminal, settings.LogFormat);
    }

    public GlobalOptions.Settings Settings { get; }
    public DatabaseTarget Target { get; }
    public MigrationCatalog Catalog => _catalog.GetAwaiter().GetResult();
    public ILoggerFactory Logs { get; }
    public ILogger Log { get; }
    public Redactor Redactor { get; }
    public TextWriter Out { get; }

    /// <summary>The invocation's stdout, stderr, environment and working directory.</summary>
    public Terminal Terminal { get; }

    public string ProviderName => Target.Provider.Name;

    /// <summary>
    /// The no-op decision before this invocation found migrations pending (<see cref="Cli.RunAsync"/>):
    /// a start to head skips its read before the lock, which could only find the same. Should another
    /// runner have brought the database to head since, the read under the lock finds nothing to do.
    /// </summary>
    public bool KnownPending { get; init; }

    /// <summary>--backup and its companions; null: no backup asked for.</summary>
    public BackupPolicy? Backup { get; set; }

    /// <summary>The backup this run took before its first change (for the result); null when none was.</summary>
    public BackupFile? BackupTaken { get; private set; }

    /// <summary>The backup taken, as the result documents give it.</summary>
    public BackupDocument? BackupDocument => BackupTaken is { } b ? new(b.Path, b.Version, b.TakenAt, b.Bytes) : null;

    private bool _backupDone;

    /// <summary>
    /// Called by a command under the lock, once it knows it is about to change the database and
    /// before it does: takes the --backup (once per run, at the version before). A command that
    /// finds nothing to do never calls it, so a no-op start writes no backup, and replicas
    /// starting together back up once (the others find nothing to do once they get the lock).
    /// </summary>
    public async Task BeforeFirstChangeAsync(Database database, long versionBefore, CancellationToken cancel)
    {
        if (Backup is null || _backupDone)
        {
            return;
        }

        _backupDone = true;
        BackupTaken = await Backups.TakeAsync(database, Backup, versionBefore, Terminal.Environment, Log, cancel);
    }

    /// <summary>
    /// Applies <paramref name="plan"/> under the lock, as up, init and rollback do: the privilege
    /// preflight (exit 5 naming what is missing, before the first write), then the steps with this
    /// run's retry policy and heartbeat, the --backup taken just before the first change.
    /// </summary>
    public async Task<IReadOnlyList<StepResult>> ApplyAsync(Database database, VersionState state, HistoryRecorder recorder, IReadOnlyList<PlannedStep> plan,
        CancellationToken cancel)
    {
        var clock = System.Diagnostics.Stopwatch.StartNew();
        await database.Provider.CheckPrivilegesAsync(database, recorder, plan, cancel);
        if (plan.Count > 0)
        {
            Log.LogDebug("privilege preflight of {Count} step(s) in {Milliseconds} ms", plan.Count, clock.ElapsedMilliseconds);
        }

        return await StepExecutor.ApplyAsync(new ApplyRequest
        {
            Database = database, Catalog = Catalog, Recorder = recorder, Plan = plan, Logs = Logs, OnStep = Progress,
            Policy = Settings.Ddl, ProgressInterval = Settings.ProgressInterval,
            BeforeFirstChange = () => BeforeFirstChangeAsync(database, state.Current, cancel),
        }, cancel);
    }

    /// <summary>Connects (waiting up to --wait for the server to come up).</summary>
    public Task<Database> ConnectAsync(CancellationToken cancel, bool readOnly = false)
    {
        if (Settings.UsingDefaultUrl)
        {
            Log.LogInformation("no --database-url or DATABASE_URL given: using the embedded default {Url}", DatabaseUrl.EmbeddedDefault);
        }

        return Database.OpenWaitingAsync(Target, Settings.Wait, message => Log.LogWarning("{Message}", message), cancel, readOnly);
    }

    /// <summary>
    /// Connects, takes the migration lock, reads the version table, and runs <paramref name="work"/>.
    /// A database with tables but no history is refused before anything is written, unless the
    /// command is one that adopts it (<paramref name="adopts"/>: init, stamp --profile). The
    /// recorded history is validated first (<see cref="ValidateHistory"/>) and, once the command
    /// has succeeded, brought up to date (<see cref="CompleteHistoryAsync"/>): a refused command
    /// writes nothing.
    /// </summary>
    /// <param name="toHead">
    /// The command brings the database to head and changes nothing else: on a database found at
    /// head it runs <paramref name="work"/> (which then finds nothing to do) without the lock,
    /// unless <see cref="KnownPending"/>.
    /// </param>
    public async Task<int> UnderLockAsync(Func<Database, VersionState, HistoryRecorder, Task<int>> work, CancellationToken cancel,
        bool adopts = false, bool allowChanged = false, bool toHead = false)
    {
        await using var database = await ConnectAsync(cancel);
        if (toHead && !KnownPending && await AtHeadAsync(database, cancel) is { } atHead)
        {
            using var unlocked = new HistoryRecorder(database.Provider, Catalog, Provenance(database));
            return await work(database, new VersionState(Catalog, atHead), unlocked);
        }

        await using var migrationLock = await database.AcquireMigrationLockAsync(Settings.LockTimeout, m => Log.LogInformation("{Message}", m), cancel);
        try
        {
            var (rows, complete) = await VersionTable.ReadWithLayoutAsync(database, cancel);
            if (!adopts)
            {
                await RefuseUnmanagedAsync(database, rows.Select(r => r.Version).ToList(), cancel);
            }

            using var recorder = new HistoryRecorder(database.Provider, Catalog, Provenance(database));
            ValidateHistory(rows, recorder, allowChanged);
            var code = await work(database, new VersionState(Catalog, rows), recorder);
            if (rows.Count > 0 && (!complete || rows.Any(r => !r.HasRecord && Catalog.Knows(r.Version))))
            {
                await CompleteHistoryAsync(database, recorder, cancel);
            }

            await migrationLock.ReleaseAsync(); // says so if the lock was lost before
            return code;
        }
        catch (Exception e) when (cancel.IsCancellationRequested)
        {
            // Cancelled (a signal), still holding the lock: read where the database really is (a
            // step may have completed before the cancel took effect); the lock goes on the way out.
            throw new MigrationInterruptedException($"{(e as MigrationInterruptedException)?.Message ?? "stopped"}; {await WhereNowAsync(database)}", e);
        }
    }

    /// <summary>
    /// The version table, when one read of it shows the database at head with nothing for the
    /// runner to do (the layout complete, and the front's rule, <see cref="NoOpStart.WhyNotAtHead"/>,
    /// against this run's catalog); null otherwise, and on any doubt, for the locked path to decide.
    /// Replicas restarting together then answer at once instead of taking the lock in turns. Safe
    /// without the lock for the reason NoOpStart (the front) gives: each write to the table commits
    /// with what it records, so the read is the answer as of its snapshot, and the work that
    /// follows plans from it alone and finds no step.
    /// </summary>
    private async Task<IReadOnlyList<AppliedVersion>?> AtHeadAsync(Database database, CancellationToken cancel)
    {
        IReadOnlyList<AppliedVersion> rows;
        bool complete;
        try
        {
            (rows, complete) = await VersionTable.ReadWithLayoutAsync(database, cancel);
        }
        catch (UserError)
        {
            return null; // a damaged table: refused under the lock, as before
        }

        if (!complete)
        {
            return null;
        }

        using var recorder = new HistoryRecorder(database.Provider, Catalog, Provenance(database));
        var why = NoOpStart.WhyNotAtHead([.. rows.Select(r => new NoOpStart.VersionRow(r.Version, r.Checksum))], [.. Catalog.Migrations.Select(m => m.Version)],
            row => recorder.Matches(Catalog.Find(row.Version)!, row.Checksum!));
        return why is null ? rows : null;
    }

    /// <summary>Who applies migrations in this run (recorded with each one).</summary>
    public Provenance Provenance(Database database) => new(
        VersionOutput.RunnerVersion(),
        Terminal.Variable(VersionOutput.ImageRevisionVariable) is { Length: > 0 } revision ? revision.Trim() : null,
        Environment.MachineName,
        database.User);

    /// <summary>
    /// Refuses (exit 5), before anything is written, when a migration this build knows was changed
    /// after it was applied (its recorded checksum is not this build's), unless
    /// <paramref name="allowChanged"/>. The restart path (every row recorded, a manifest embedded)
    /// compares strings and loads nothing.
    /// </summary>
    private void ValidateHistory(IReadOnlyList<AppliedVersion> rows, HistoryRecorder recorder, bool allowChanged)
    {
        var changed = recorder.Changed(rows);
        if (changed.Count == 0)
        {
            return;
        }

        var which = string.Join(", ", changed.Select(c => $"{c.Version} ({Catalog.Find(c.Version)!.Description})"));
        if (!allowChanged)
        {
            throw new UserError(ExitCode.Refused,
                $"applied migration(s) {which} differ from this build's (checksum changed since they were applied): an applied migration must not be edited. " +
                "Nothing was changed. Revert the edit and ship a new migration instead; if the change is deliberate and the database is right, " +
                "accept it with 'timetrack-migrate stamp --repair' (or pass --allow-changed once)");
        }

        Log.LogWarning("CHANGED: applied migration(s) {Which} differ from this build's; continuing (--allow-changed)", which);
    }

    /// <summary>
    /// After a command succeeded, still under the lock: gives a version table of FluentMigrator or
    /// an older runner the recorded-history columns, and records checksum and Down of the rows
    /// applied before, from this build (said in the log). Happens once per database.
    /// </summary>
    private async Task CompleteHistoryAsync(Database database, HistoryRecorder recorder, CancellationToken cancel)
    {
        var versions = new VersionTable(database.Provider);
        var added = await versions.UpgradeAsync(database, cancel);
        if (added.Count > 0)
        {
            Log.LogInformation("{Message}", VersionTable.UpgradeMessage(added));
        }

        var unrecorded = (await VersionTable.ReadAsync(database, cancel)).Where(r => !r.HasRecord && Catalog.Knows(r.Version)).ToList();
        if (unrecorded.Count > 0)
        {
            await versions.StampAsync(database, [], [], cancel,
                unrecorded.Select(r => (r.Version, recorder.Record(Catalog.Find(r.Version)!, durationMs: null, afterwards: true))).ToList());
            Log.LogInformation(
                "{Count} migration(s) applied before the runner recorded history got their checksum and Down from this build: {Versions}",
                unrecorded.Count, string.Join(", ", unrecorded.Select(r => r.Version)));
        }
    }

    /// <summary>Exit 5 for a database with tables and no migration history: it must be adopted, not migrated blindly.</summary>
    public static async Task RefuseUnmanagedAsync(Database database, IReadOnlyCollection<long> applied, CancellationToken cancel)
    {
        if (applied.Count == 0 && (await database.ReadHistoryStateAsync(applied, cancel)).State == HistoryState.Unmanaged)
        {
            throw new UserError(ExitCode.Refused,
                "the database has tables but no migration history; nothing was written. Adopt it first: 'timetrack-migrate init' " +
                "verifies it against the stamping profiles and stamps it (or 'timetrack-migrate stamp --profile NAME')");
        }
    }

    private async Task<string> WhereNowAsync(Database database)
    {
        try
        {
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(5));
            var applied = await database.ReadAppliedVersionsAsync(timeout.Token);
            return $"the database is at {DescribeVersion(new VersionState(Catalog, applied).Current)}";
        }
        catch (Exception e) when (e is System.Data.Common.DbException or OperationCanceledException or InvalidOperationException)
        {
            return $"could not read the version the database is at ({database.Provider.DescribeError(e)}); run status";
        }
    }

    /// <summary>The result: <paramref name="json"/> with --json, otherwise the text lines.</summary>
    public void Result(object json, IEnumerable<string> text)
    {
        if (Settings.Json)
        {
            Out.WriteLine(Redactor.Redact(JsonSerializer.Serialize(json, JsonOptions)));
        }
        else
        {
            foreach (var line in text)
            {
                Out.WriteLine(LogLine.Printable(Redactor.Redact(line)));
            }
        }
    }

    /// <summary>A step as it completes: a line on stdout (text mode), the JSON comes at the end.</summary>
    public void Progress(StepResult step)
    {
        if (!Settings.Json)
        {
            Out.WriteLine($"{(step.Direction == Direction.Up ? "applied" : "rolled back")} {step.Version} {step.Description} ({Milliseconds(step.Duration)} ms)");
            Out.Flush();
        }
    }

    public static long Milliseconds(TimeSpan duration) => (long)Math.Round(duration.TotalMilliseconds);

    public string DescribeVersion(long version) =>
        version == 0 ? "0 (nothing applied)" : version == Catalog.Head ? $"{version} (head)" : version.ToString(System.Globalization.CultureInfo.InvariantCulture);

    public void Dispose()
    {
        _announcement?.Dispose();
        Logs.Dispose();
    }
}
