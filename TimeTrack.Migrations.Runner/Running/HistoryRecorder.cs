using TimeTrack.Migrations.Runner.Databases;

namespace TimeTrack.Migrations.Runner.Running;

/// <summary>
/// What this build says about the migrations it knows, for the version table: each one's checksum
/// on this provider (from the embedded manifest, rendered when there is none) and its Down as SQL
/// (rendered when a migration is applied or stamped, when FluentMigrator is loaded anyway).
/// </summary>
public sealed class HistoryRecorder(DatabaseProvider provider, MigrationCatalog catalog, Provenance provenance) : IDisposable
{
    // The manifest's entries by version: every applied version is looked up on every start.
    private readonly Dictionary<long, ManifestEntry> _manifest = MigrationManifest.Load(catalog.Assembly)?.Migrations.ToDictionary(m => m.Version) ?? [];
    private readonly Dictionary<long, string> _checksums = [];
    private readonly Lazy<StepExecutor> _renderer = new(() => StepExecutor.ForRendering(provider, catalog), LazyThreadSafetyMode.ExecutionAndPublication);
    private Task? _preparing;

    /// <summary>This provider's statements, connecting nowhere: built on first use, and shared with the privilege preflight (one FluentMigrator set-up fewer).</summary>
    internal StepExecutor Renderer => _renderer.Value;

    /// <summary>
    /// Builds <see cref="Renderer"/> on another thread while the caller waits for the database: called
    /// once steps or a stamp are sure to follow (a database without history: fresh or adopted).
    /// </summary>
    public void Prepare() => _preparing ??= Task.Run(() => _renderer.Value);

    public Provenance Provenance => provenance;

    /// <summary>This build's checksum of <paramref name="migration"/> on this provider.</summary>
    public string Checksum(KnownMigration migration)
    {
        if (_checksums.TryGetValue(migration.Version, out var known))
        {
            return known;
        }

        var checksum = _manifest.GetValueOrDefault(migration.Version)?.Checksums.GetValueOrDefault(MigrationManifest.Key(provider))
            ?? MigrationChecksum.Of(Renderer.Render(new PlannedStep(migration, Direction.Up)), migration.Transactional);
        return _checksums[migration.Version] = checksum;
    }

    /// <summary>True when <paramref name="recorded"/> is this build's checksum, or one the manifest accepts for it.</summary>
    public bool Matches(KnownMigration migration, string recorded) =>
        _manifest.TryGetValue(migration.Version, out var entry)
            ? entry.Accepts(MigrationManifest.Key(provider), recorded, Checksum(migration))
            : recorded == Checksum(migration);

    /// <summary>The record of <paramref name="migration"/> as applied (or stamped) now.</summary>
    /// <param name="durationMs">How long its statements took; null when it was not run (stamped, recorded afterwards).</param>
    /// <param name="afterwards">Recorded for a row applied before the runner kept records: the provenance is not known.</param>
    public StepRecord Record(KnownMigration migration, long? durationMs, bool afterwards = false)
    {
        var down = Renderer.Render(new PlannedStep(migration, Direction.Down));
        return new StepRecord(
            Checksum(migration),
            afterwards ? new Provenance($"{provenance.RunnerVersion} (recorded afterwards)", null, null, null) : provenance,
            durationMs,
            down.RunsCode is null ? down.Statements : null,
            migration.Transactional,
            down.RunsCode);
    }

    /// <summary>Applied versions this build knows whose recorded checksum is not this build's: edited after they were applied.</summary>
    public IReadOnlyList<AppliedVersion> Changed(IEnumerable<AppliedVersion> applied) =>
        applied.Where(a => a.Checksum is { } recorded && catalog.Find(a.Version) is { } known && !Matches(known, recorded)).ToList();

    public void Dispose()
    {
        try
        {
            _preparing?.Wait(); // never disposed while it is being built
        }
        catch (AggregateException)
        {
            // Its failure is the Renderer's to report, where it is used.
        }

        if (_renderer.IsValueCreated)
        {
            _renderer.Value.Dispose();
        }
    }
}
