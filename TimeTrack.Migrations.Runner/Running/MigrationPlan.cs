using TimeTrack.Migrations.Runner.Databases;
using TimeTrack.Migrations.Runner.Output;

namespace TimeTrack.Migrations.Runner.Running;

public enum Direction
{
    Up,
    Down,
}

/// <summary>One migration to run, in one direction.</summary>
public sealed record PlannedStep(KnownMigration Migration, Direction Direction)
{
    /// <summary>
    /// For a version this build does not know: the Down statements recorded when it was applied,
    /// run instead of code (rollback from an older image).
    /// </summary>
    public IReadOnlyList<string>? RecordedDown { get; init; }
}

/// <summary>
/// What the database holds compared with what this build knows: the pure arithmetic behind
/// status, up, rollback, stamp and script. No I/O; every rule about versions lives here.
/// </summary>
public sealed class VersionState
{
    /// <summary>From the version table's rows: their records let rollback undo versions this build does not know.</summary>
    public VersionState(MigrationCatalog catalog, IReadOnlyList<AppliedVersion> applied)
        : this(catalog, applied.Select(a => a.Version).ToList()) =>
        Records = applied.ToDictionary(a => a.Version);

    public VersionState(MigrationCatalog catalog, IReadOnlyCollection<long> applied)
    {
        Catalog = catalog;
        Applied = applied.Order().ToList();
        var appliedSet = Applied.ToHashSet();
        Pending = catalog.Migrations.Where(m => !appliedSet.Contains(m.Version)).ToList();
        Unknown = Applied.Where(v => !catalog.Knows(v)).ToList();
        Current = Applied.Count == 0 ? 0 : Applied[^1];
        NewestKnownApplied = Applied.Where(catalog.Knows).DefaultIfEmpty(0).Max();
        OutOfOrder = Pending.Where(m => m.Version < NewestKnownApplied).ToList();
    }

    /// <summary>The newest applied version this build knows (0 when none): whose schema the database should have.</summary>
    public long NewestKnownApplied { get; }

    public MigrationCatalog Catalog { get; }

    /// <summary>The version table's rows by version (empty when built from versions alone).</summary>
    public IReadOnlyDictionary<long, AppliedVersion> Records { get; } = new Dictionary<long, AppliedVersion>();

    /// <summary>Versions recorded in the database, ascending.</summary>
    public IReadOnlyList<long> Applied { get; }

    /// <summary>Known migrations not recorded as applied, ascending.</summary>
    public IReadOnlyList<KnownMigration> Pending { get; }

    /// <summary>Versions recorded in the database that this build does not know.</summary>
    public IReadOnlyList<long> Unknown { get; }

    /// <summary>Pending migrations older than the newest applied known one (history merged from another branch).</summary>
    public IReadOnlyList<KnownMigration> OutOfOrder { get; }

    /// <summary>The newest applied version; 0 when nothing is applied.</summary>
    public long Current { get; }

    /// <summary>The newest applied version once <paramref name="results"/> have run (no need to read it back).</summary>
    public long CurrentAfter(IEnumerable<StepResult> results)
    {
        var applied = Applied.ToHashSet();
        foreach (var step in results)
        {
            _ = step.Direction == Direction.Up ? applied.Add(step.Version) : applied.Remove(step.Version);
        }

        return applied.DefaultIfEmpty(0).Max();
    }

    /// <summary>Unknown versions that are all newer than everything this build knows: the database is ahead (an older image).</summary>
    public bool DatabaseIsAhead => Unknown.Count > 0 && Unknown.All(v => v > Catalog.Head);

    /// <summary>Unknown versions that lie between known ones: history this build has never seen.</summary>
    public IReadOnlyList<long> ForeignVersions => DatabaseIsAhead ? [] : Unknown;

    /// <summary>The steps of `up [--to target]`, after the safety rules.</summary>
    public IReadOnlyList<PlannedStep> PlanUp(long? target, bool allowUnknown, bool allowOutOfOrder)
    {
        if (target is { } t && !Catalog.Knows(t))
        {
            throw UserError.Invalid($"version {t} does not exist in this build (known: {DescribeKnown()})");
        }

        if (ForeignVersions.Count > 0 && !allowUnknown)
        {
            throw new UserError(ExitCode.Refused,
                $"the database records version(s) {string.Join(", ", ForeignVersions)} that this build does not know, between versions it does know " +
                "(history from another branch?); refusing to migrate. Deploy the build that has them, or pass --allow-unknown");
        }

        var steps = Pending.Where(m => target is null || m.Version <= target).ToList();
        if (steps.Count == 0 && TargetVersion.IsBelow(target, Current) && target is { } below)
        {
            // Not "nothing to do": a deploy that meant to go back would report success.
            throw new UserError(ExitCode.Refused,
                $"the database is at {Current}, above the target {below}; up never rolls back: use rollback --to {below}");
        }

        var outOfOrder = OutOfOrder.Where(steps.Contains).ToList();
        if (outOfOrder.Count > 0 && !allowOutOfOrder)
        {
            throw new UserError(ExitCode.Refused,
                $"pending migration(s) {string.Join(", ", outOfOrder.Select(m => m.Version))} are older than the newest applied version {Current} " +
                "(merged from another branch?); refusing to apply them out of order. Review them, then pass --allow-out-of-order");
        }

        return steps.Select(m => new PlannedStep(m, Direction.Up)).ToList();
    }

    /// <summary>The steps of `rollback --to target | --steps n`, newest first.</summary>
    public IReadOnlyList<PlannedStep> PlanRollback(long? target, int? steps)
    {
        if (target is not null && steps is not null)
        {
            throw UserError.Invalid("give either --to VERSION or --steps N, not both");
        }

        List<long> undo;
        if (target is { } t)
        {
            if (t != 0 && !Applied.Contains(t))
            {
                throw UserError.Invalid(Catalog.Knows(t)
                    ? $"version {t} is not applied, so the database cannot be rolled back to it (applied: {DescribeApplied()})"
                    : $"version {t} does not exist (applied: {DescribeApplied()}); use --to 0 to undo everything");
            }

            undo = Applied.Where(v => v > t).Reverse().ToList();
        }
        else
        {
            var n = steps ?? 1;
            if (n <= 0)
            {
                throw UserError.Invalid($"--steps must be 1 or more, not {n}");
            }

            if (n > Applied.Count)
            {
                throw UserError.Invalid($"cannot roll back {n} step(s): only {Applied.Count} migration(s) are applied");
            }

            undo = Applied.TakeLast(n).Reverse().ToList();
        }

        // Versions this build does not know are undone by the Down recorded when they were applied.
        var uncaptured = undo.Where(v => !Catalog.Knows(v) && Records.GetValueOrDefault(v)?.DownSql is null).ToList();
        if (uncaptured.Count > 0)
        {
            throw new UserError(ExitCode.Refused,
                $"cannot roll back {string.Join("; ", uncaptured.Select(DescribeUncaptured))}: this build does not know them and no Down was recorded. " +
                "Nothing was changed. Roll back with the image that applied them");
        }

        return undo.Select(v => Catalog.Find(v) is { } known
            ? new PlannedStep(known, Direction.Down)
            : new PlannedStep(new KnownMigration(v, Records[v].Description ?? "unknown to this build", Records[v].DownInTransaction, Type: null), Direction.Down)
            {
                RecordedDown = Records[v].Down,
            }).ToList();
    }

    /// <summary>The version `stamp` records up to: "head" or a known version.</summary>
    public long ResolveStampTarget(string version)
    {
        if ((string.IsNullOrWhiteSpace(version) ? throw UserError.Invalid("a version number (or 'head') is required") : TargetVersion.Parse(version, "version")) is not { } v)
        {
            return Catalog.Head;
        }

        if (v != 0 && !Catalog.Knows(v))
        {
            throw UserError.Invalid($"version {v} does not exist in this build (known: {DescribeKnown()})");
        }

        return v;
    }

    private string DescribeUncaptured(long version)
    {
        var record = Records.GetValueOrDefault(version);
        var by = record?.ImageRevision is { } revision ? $"applied by image revision {revision}" : record?.RunnerVersion is { } runner ? $"applied by timetrack-migrate {runner}" : "applied before the runner recorded history";
        return $"version {version} ({by}{(record?.DownNotCaptured is { } why ? $"; its Down was not captured: {why}" : "")})";
    }

    private string DescribeKnown() => Catalog.Migrations.Count == 0 ? "none" : string.Join(", ", Catalog.Migrations.Select(m => m.Version));

    private string DescribeApplied() => Applied.Count == 0 ? "none" : string.Join(", ", Applied);
}
