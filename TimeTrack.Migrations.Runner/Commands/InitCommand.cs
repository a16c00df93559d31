using System.CommandLine;
using Microsoft.Extensions.Logging;
using TimeTrack.Migrations.Runner.Databases;
using TimeTrack.Migrations.Runner.Output;
using TimeTrack.Migrations.Runner.Running;
using TimeTrack.Migrations.Runner.Settings;

namespace TimeTrack.Migrations.Runner.Commands;

/// <summary>
/// `init`: what the container runs at every start. Chooses by itself, under the migration lock:
/// an empty database is a fresh deployment (apply everything); one with a version table is managed
/// (apply what is pending, or nothing); one with tables but no history is adopted (verify it against
/// a stamping profile, stamp, apply what came after). Then brings it to --to (up or down) or head.
/// </summary>
public static class InitCommand
{
    public static readonly Option<string?> To = new(OptionDefinitions.InitTo.Name) { HelpName = "version|head", Description = "Bring the database to this version, up or down (default: head; env TIMETRACK_TARGET_VERSION or MIGRATE_TARGET_VERSION)" };
    public static readonly Option<string?> Profile = new("--profile") { HelpName = "name", Description = "Adopt an unmanaged database with this stamping profile instead of choosing one" };
    public static readonly Option<bool> Force = new(OptionDefinitions.Force.Name) { Description = "Stamp an unmanaged database even when it matches no profile (loudly)" };
    public static readonly Option<bool> AllowDowngrade = new(OptionDefinitions.AllowDowngrade.Name)
    {
        Description = "Roll back when --to is below the database's version (refused otherwise: a target left in a container's settings would roll back at every start; env TIMETRACK_ALLOW_DOWNGRADE or MIGRATE_ALLOW_DOWNGRADE=true)",
    };

    public static Command Create()
    {
        var command = BackupOptions.AddTo(new Command("init", "Container start: fresh, managed or adopted database, then up (or down) to --to")
        {
            To, Profile, Force, AllowDowngrade, UpCommand.AllowUnknown, UpCommand.AllowOutOfOrder, UpCommand.AllowChanged, StatusCommand.WithStatus,
        });
        command.SetAction((parse, cancel) => Handler.RunAsync(parse, ctx => RunAsync(
            ctx, parse.GetValue(To), parse.GetValue(Profile), parse.GetValue(Force), parse.GetValue(AllowDowngrade),
            parse.GetValue(UpCommand.AllowUnknown), parse.GetValue(UpCommand.AllowOutOfOrder), cancel, parse.GetValue(UpCommand.AllowChanged), parse.GetValue(StatusCommand.WithStatus))));
        return command;
    }

    public static Task<int> RunAsync(CommandContext ctx, string? to, string? profile, bool force, bool allowDowngrade, bool allowUnknown, bool allowOutOfOrder, CancellationToken cancel,
        bool allowChanged = false, bool withStatus = false)
    {
        // Bad input is refused before connecting. The settings as every option's: TIMETRACK_* or the container's MIGRATE_*.
        var environment = new RunnerEnvironment(ctx.Terminal);
        var target = ParseTarget(ctx, to ?? environment[OptionDefinitions.InitTo.Setting!]);
        allowDowngrade = environment.Switch(OptionDefinitions.AllowDowngrade, allowDowngrade);
        var matcher = new ProfileMatcher(ctx.Catalog);
        var forced = profile is null ? null : matcher.Resolve(profile);

        return ctx.UnderLockAsync(async (database, state, recorder) =>
        {
            string scenario;
            ProfileCandidate? adoptedAt = null;
            IReadOnlyList<string> warnings = [];

            // Versions read means a history: the restart path asks the catalog nothing more.
            var clock = System.Diagnostics.Stopwatch.StartNew();
            if (state.Applied.Count == 0)
            {
                recorder.Prepare(); // fresh or adopted: FluentMigrator's renderer is built while the live schema is read
            }

            var (history, live) = await database.ReadHistoryStateAsync(state.Applied, cancel);
            if (history == HistoryState.Managed)
            {
                scenario = "managed";
                ctx.Log.LogInformation("managed database at {Version}", ctx.DescribeVersion(state.Current));
            }
            else if (history == HistoryState.Empty)
            {
                scenario = "fresh";
                ctx.Log.LogInformation("empty database: fresh deployment, applying the migrations");
            }
            else
            {
                scenario = "adopted";
                ctx.Log.LogDebug("adoption: live schema read in {Milliseconds} ms", clock.ElapsedMilliseconds);
                ctx.Log.LogInformation("the database has tables but no migration history: adopting it");
                (adoptedAt, warnings) = await new Adoption(matcher, ctx.Catalog, ctx.Log).AdoptAsync(database, live!, forced, force, recorder, cancel,
                    async () =>
                    {
                        await database.Provider.CheckVersionTablePrivilegesAsync(database, cancel);
                        await ctx.BeforeFirstChangeAsync(database, 0, cancel);
                    });
                if (TargetVersion.IsBelow(target, adoptedAt.Version))
                {
                    ctx.Log.LogWarning("--to {Target} is below the adopted version {Version}: staying at {Version}", target, adoptedAt.Version, adoptedAt.Version);
                    target = adoptedAt.Version;
                }

                state = new VersionState(ctx.Catalog, await database.ReadAppliedVersionsAsync(cancel));
            }

            if (scenario != "adopted" && profile is not null)
            {
                ctx.Log.LogWarning("--profile {Profile} ignored: the database is {Scenario}, there is nothing to adopt", profile, scenario);
            }

            var down = TargetVersion.IsBelow(target, state.Current);
            if (down && !allowDowngrade)
            {
                var below = target;
                throw new UserError(ExitCode.Refused,
                    $"the database is at {state.Current}, above --to {below}: init rolls back only with --allow-downgrade " +
                    $"(in the container: MIGRATE_ALLOW_DOWNGRADE=true for one start), or run rollback --to {below}. Nothing was changed");
            }

            var plan = down
                ? state.PlanRollback(target, null)
                : state.PlanUp(target, allowUnknown, allowOutOfOrder);
            if (state.DatabaseIsAhead && plan.All(s => s.Direction == Direction.Up))
            {
                ctx.Log.LogWarning("the database records version(s) {Versions} newer than this build knows (was the image rolled back?); continuing",
                    string.Join(", ", state.Unknown));
            }

            var results = await ctx.ApplyAsync(database, state, recorder, plan, cancel);
            var now = state.CurrentAfter(results);
            var after = withStatus ? await StatusCommand.ReadAsync(ctx, database, markdown: true, cancel) : null;
            ctx.Result(
                StatusCommand.WithReport(
                    new InitResult("init", ctx.Target.Display, scenario, adoptedAt?.Name, warnings, state.Current, now, ctx.Catalog.Head,
                        [.. results.Select(r => new InitStepDocument(r.Version, r.Description, r.Direction == Direction.Up ? "up" : "down", CommandContext.Milliseconds(r.Duration)))],
                        ctx.BackupDocument),
                    after),
                [$"{scenario}: the database is at {ctx.DescribeVersion(now)}" + (results.Count == 0 ? ", nothing to do" : $", {results.Count} migration(s) {(plan[0].Direction == Direction.Up ? "applied" : "rolled back")}"),
                    .. after?.Lines ?? []]);
            return 0;
        }, cancel, adopts: true, allowChanged: allowChanged, toHead: target is null);
    }

    private static long? ParseTarget(CommandContext ctx, string? to)
    {
        var version = TargetVersion.Parse(to);
        if (version is { } v && v != 0 && !ctx.Catalog.Knows(v))
        {
            throw UserError.Invalid($"version {v} does not exist in this build (known: {string.Join(", ", ctx.Catalog.Migrations.Select(m => m.Version))})");
        }

        return version;
    }
}
