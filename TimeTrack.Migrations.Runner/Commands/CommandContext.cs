using System.Text.Json;
using System.Text.Json.Serialization;
using Microsoft.Extensions.Logging;
using TimeTrack.Migrations.Runner.Databases;
using TimeTrack.Migrations.Runner.Output;
using TimeTrack.Migrations.Runner.Running;

namespace TimeTrack.Migrations.Runner.Commands;

/// <summary>
/// What a command handler works with: the target database, the known migrations, the log
/// (stderr) and the result writer (stdout, text or JSON), all of the invocation's <see cref="Terminal"/>.
/// </summary>
public sealed class CommandContext : IDisposable
{
    private static readonly JsonSerializerOptions JsonOptions = new()
    {
        WriteIndented = true,
        PropertyNamingPolicy = JsonNamingPolicy.CamelCase,
        DefaultIgnoreCondition = JsonIgnoreCondition.Never,
        Converters = { new JsonStringEnumConverter(JsonNamingPolicy.CamelCase) },
    };

    private readonly Task<MigrationCatalog> _catalog;

    public CommandContext(GlobalOptions.Settings settings, Terminal terminal)
    {
        Settings = settings;
        Terminal = terminal;
        Out = terminal.Out;
        Redactor = new Redactor();
        Logs = Logging.Create(settings.LogFormat, settings.Verbose, Redactor, terminal.Err);
        Log = Logs.CreateLogger(Logging.Category);
        Redactor.Add(settings.FallbackPassword);
        Target = DatabaseUrl.Parse(settings.Url, terminal.WorkingDirectory, settings.FallbackPassword);
        Redactor.Add(Target.Password);

        // Reading the migrations (assembly loading, reflection) overlaps with connecting.
        var assemblyPath = settings.MigrationsAssemblyPath is { } path ? terminal.FullPath(path) : null;
        _catalog = Task.Run(() => MigrationCatalog.FromAssembly(GlobalOptions.LoadMigrationsAssembly(assemblyPath)));
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

    public string ProviderName => Target.Kind == DatabaseKind.Postgres ? "PostgreSQL" : "SQLite";

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
    /// Connects, takes the migration lock, reads the applied versions, and runs <paramref name="work"/>.
    /// A database with tables but no history is refused before anything is written, unless the
    /// command is one that adopts it (<paramref name="adopts"/>: init, stamp --profile).
    /// </summary>
    public async Task<int> UnderLockAsync(Func<Database, VersionState, Task<int>> work, CancellationToken cancel, bool adopts = false)
    {
        await using var database = await ConnectAsync(cancel);
        await using var migrationLock = await database.AcquireMigrationLockAsync(Settings.LockTimeout, m => Log.LogInformation("{Message}", m), cancel);
        try
        {
            var applied = (await database.ReadAppliedVersionsAsync(cancel)).Select(a => a.Version).ToList();
            if (!adopts)
            {
                await RefuseUnmanagedAsync(database, applied, cancel);
            }

            return await work(database, new VersionState(Catalog, applied));
        }
        catch (Exception e) when (Interruption.Requested)
        {
            // Stopped by a signal, still holding the lock: read where the database really is (a
            // step may have completed before the cancel took effect); the lock goes on the way out.
            throw Interruption.Error($"{(e as MigrationInterruptedException)?.Message ?? "stopped"}; {await WhereNowAsync(database)}");
        }
    }

    /// <summary>Exit 5 for a database with tables and no migration history: it must be adopted, not migrated blindly.</summary>
    public static async Task RefuseUnmanagedAsync(Database database, IReadOnlyCollection<long> applied, CancellationToken cancel)
    {
        if (applied.Count == 0 && await database.ReadHistoryStateAsync(applied, cancel) == HistoryState.Unmanaged)
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
            return $"the database is at {DescribeVersion(new VersionState(Catalog, applied.Select(a => a.Version).ToList()).Current)}";
        }
        catch (Exception e) when (e is System.Data.Common.DbException or OperationCanceledException or InvalidOperationException)
        {
            return $"could not read the version the database is at ({Migrator.DatabaseError(e)}); run status";
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
                Out.WriteLine(Redactor.Redact(line));
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

    public void Dispose() => Logs.Dispose();
}
