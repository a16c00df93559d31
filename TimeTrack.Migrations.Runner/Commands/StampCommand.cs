using System.CommandLine;
using Microsoft.Extensions.Logging;
using TimeTrack.Migrations.Runner.Running;

namespace TimeTrack.Migrations.Runner.Commands;

/// <summary>
/// `stamp VERSION|head` (and the seed's `mark-current` = `stamp head`): record the migrations up to
/// VERSION as applied without running them, and remove the rows above it, in one transaction.
/// </summary>
public static class StampCommand
{
    public static readonly Argument<string?> Version = new("version") { Description = "A version number, or 'head'", Arity = ArgumentArity.ZeroOrOne };
    public static readonly Option<string?> Profile = new("--profile") { HelpName = "name", Description = "Adopt a database without history: verify it against this stamping profile, then stamp its version" };
    public static readonly Option<bool> Repair = new("--repair")
    {
        Description = "Repair a damaged version table (docs/damaged-state.md); on an intact one, accept this build's checksums (and recorded Downs) for every applied migration it knows: after a deliberate edit of an applied migration",
    };

    public static Command Create()
    {
        var command = BackupOptions.AddTo(new Command("stamp", "Record migrations up to VERSION as applied without running them; remove rows above it") { Version, Profile, InitCommand.Force, Repair });
        command.SetAction((parse, cancel) => Handler.RunAsync(parse, ctx =>
            parse.GetValue(Repair)
                ? parse.GetValue(Version) is null && parse.GetValue(Profile) is null
                    ? RepairAsync(ctx, cancel)
                    : throw Output.UserError.Invalid("--repair takes no version and no --profile")
            : parse.GetValue(Profile) is { } profile
                ? parse.GetValue(Version) is null
                    ? AdoptAsync(ctx, profile, parse.GetValue(InitCommand.Force), cancel)
                    : throw Output.UserError.Invalid("give either a version or --profile, not both")
                : RunAsync(ctx, parse.GetValue(Version) ?? throw Output.UserError.Invalid("stamp needs a version (or 'head', or --profile NAME)"), cancel)));
        return command;
    }

    /// <summary>`stamp --profile NAME`: adoption by hand, verified like init's; never runs a migration.</summary>
    public static Task<int> AdoptAsync(CommandContext ctx, string profile, bool force, CancellationToken cancel)
    {
        var matcher = new Running.ProfileMatcher(ctx.Catalog);
        var forced = matcher.Resolve(profile); // an unknown name is refused before connecting
        return ctx.UnderLockAsync(async (database, state, recorder) =>
        {
            if (state.Applied.Count > 0)
            {
                throw new Output.UserError(Output.ExitCode.Refused,
                    $"the database already has a migration history (at {ctx.DescribeVersion(state.Current)}); stamp a version instead of a profile");
            }

            var (_, live) = await database.ReadHistoryStateAsync(state.Applied, cancel);
            var (adopted, warnings) = await new Running.Adoption(matcher, ctx.Catalog, ctx.Log).AdoptAsync(database, live!, forced, force, recorder, cancel,
                () => ctx.BeforeFirstChangeAsync(database, 0, cancel));
            ctx.Result(
                new { command = "stamp", database = ctx.Target.Display, profile = adopted.Name, to = adopted.Version, warnings, backup = ctx.BackupTaken },
                [$"stamped at {ctx.DescribeVersion(adopted.Version)} (profile '{adopted.Name}'); no migration was run"]);
            return 0;
        }, cancel, adopts: true);
    }

    /// <summary>
    /// `stamp --repair`: the record of every applied migration this build knows is replaced by this
    /// build's (checksum and Down), so that a deliberate edit stops being refused. Loud, runs nothing.
    /// </summary>
    public static async Task<int> RepairAsync(CommandContext ctx, CancellationToken cancel) =>
        await RepairVersionTableAsync(ctx, cancel) ?? await ctx.UnderLockAsync(async (database, state, recorder) =>
        {
            var changed = recorder.Changed(state.Records.Values).Select(r => r.Version).ToList();
            var known = state.Applied.Where(ctx.Catalog.Knows).ToList();
            await ctx.BeforeFirstChangeAsync(database, state.Current, cancel);
            await new Databases.VersionTable(database.Provider).StampAsync(database, [], [], cancel,
                known.Select(v => (v, recorder.Record(ctx.Catalog.Find(v)!, durationMs: null) with { Provenance = null })).ToList());
            if (changed.Count > 0)
            {
                ctx.Log.LogWarning("REPAIR: accepted this build's checksums for changed migration(s) {Versions}", string.Join(", ", changed));
            }

            ctx.Result(
                new { command = "stamp", mode = "repair", database = ctx.Target.Display, changed, rerecorded = known, backup = ctx.BackupTaken },
                [$"repaired: {known.Count} applied migration(s) now carry this build's checksum and Down ({changed.Count} had changed); no migration was run"]);
            return 0;
        }, cancel, allowChanged: true);

    /// <summary>
    /// A damaged version table (<see cref="Databases.VersionTableDamage"/>) is repaired first, and
    /// alone: accepting changed checksums stays a decision of its own (the next stamp --repair).
    /// Null when the table is not damaged.
    /// </summary>
    private static async Task<int?> RepairVersionTableAsync(CommandContext ctx, CancellationToken cancel)
    {
        await using var database = await ctx.ConnectAsync(cancel);
        await using var migrationLock = await database.AcquireMigrationLockAsync(ctx.Settings.LockTimeout, m => ctx.Log.LogInformation("{Message}", m), cancel);
        var versions = new Databases.VersionTable(database.Provider);
        var repair = await versions.PlanRepairAsync(database, cancel);
        if (repair.Statements.Count == 0)
        {
            return null;
        }

        await ctx.BeforeFirstChangeAsync(database, repair.Current, cancel);
        await Databases.VersionTable.RepairAsync(database, repair, cancel);
        foreach (var line in repair.Done)
        {
            ctx.Log.LogWarning("REPAIR: {Done}", line);
        }

        ctx.Result(
            new { command = "stamp", mode = "repair", database = ctx.Target.Display, versionTable = repair.Done, backup = ctx.BackupTaken },
            [$"repaired the version table: {string.Join("; ", repair.Done)}; no migration was run. Run status to see where the database is"]);
        return 0;
    }

    public static Command CreateMarkCurrent()
    {
        var command = BackupOptions.AddTo(new Command("mark-current", "Same as 'stamp head': record every migration as applied without running it"));
        command.SetAction((parse, cancel) => Handler.RunAsync(parse, ctx => RunAsync(ctx, "head", cancel)));
        return command;
    }

    public static Task<int> RunAsync(CommandContext ctx, string version, CancellationToken cancel) =>
        ctx.UnderLockAsync(async (database, state, recorder) =>
        {
            var target = state.ResolveStampTarget(version);
            var record = ctx.Catalog.Migrations.Where(m => m.Version <= target && !state.Applied.Contains(m.Version)).ToList();
            var remove = state.Applied.Where(v => v > target).ToList();

            if (record.Count > 0 || remove.Count > 0)
            {
                await ctx.BeforeFirstChangeAsync(database, state.Current, cancel);
                await new Databases.VersionTable(database.Provider).StampAsync(database,
                    record.Select(m => (m.Version, m.Description, (Databases.StepRecord?)recorder.Record(m, durationMs: null))).ToList(), remove, cancel);
            }

            if (remove.Count > 0)
            {
                ctx.Log.LogWarning("removed version(s) {Versions} from the history without running their Down", string.Join(", ", remove));
            }

            ctx.Result(
                new
                {
                    command = "stamp",
                    database = ctx.Target.Display,
                    from = state.Current,
                    to = target,
                    recorded = record.Select(m => m.Version),
                    removed = remove,
                    backup = ctx.BackupTaken,
                },
                [$"stamped at {ctx.DescribeVersion(target)}: {record.Count} version(s) recorded, {remove.Count} removed; no migration was run"]);
            return 0;
        }, cancel);
}
