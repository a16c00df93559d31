using System.CommandLine;
using TimeTrack.Migrations.Runner.Databases;
using TimeTrack.Migrations.Runner.Running;

namespace TimeTrack.Migrations.Runner.Commands;

/// <summary>`script up|rollback`: print the SQL that would run, changing nothing. Same plan as up/rollback.</summary>
public static class ScriptCommand
{
    public static readonly Argument<string> Direction = new("direction") { Description = "up or rollback" };
    public static readonly Option<long?> To = new("--to") { HelpName = "version", Description = "Target version (as for up / rollback)" };
    public static readonly Option<int?> Steps = new("--steps") { HelpName = "n", Description = "With rollback: how many migrations (default 1)" };

    public static Command Create()
    {
        Direction.AcceptOnlyFromAmong("up", "rollback");
        var command = new Command("script", "Print the SQL that up or rollback would run, changing nothing (stdout is the SQL)")
        {
            Direction, To, Steps, UpCommand.AllowUnknown, UpCommand.AllowOutOfOrder,
        };
        command.SetAction((parse, cancel) => Handler.RunAsync(parse, ctx => RunAsync(
            ctx, parse.GetValue(Direction)!, parse.GetValue(To), parse.GetValue(Steps),
            parse.GetValue(UpCommand.AllowUnknown), parse.GetValue(UpCommand.AllowOutOfOrder), cancel)));
        return command;
    }

    public static async Task<int> RunAsync(CommandContext ctx, string direction, long? to, int? steps, bool allowUnknown, bool allowOutOfOrder, CancellationToken cancel)
    {
        if (direction == "up" && steps is not null)
        {
            throw Output.UserError.Invalid("--steps goes with 'script rollback'; use --to with 'script up'");
        }

        VersionState state;
        IReadOnlyList<string> versionTableUpgrade;
        Provenance provenance;
        await using (var database = await ctx.ConnectAsync(cancel, readOnly: true))
        {
            var applied = await database.ReadAppliedVersionsAsync(cancel);
            await CommandContext.RefuseUnmanagedAsync(database, applied.Select(a => a.Version).ToList(), cancel);
            state = new VersionState(ctx.Catalog, applied);
            (versionTableUpgrade, _) = await new VersionTable(database.Provider).UpgradeStatementsAsync(database, cancel);
            provenance = ctx.Provenance(database);
        }

        var plan = direction == "up" ? state.PlanUp(to, allowUnknown, allowOutOfOrder) : state.PlanRollback(to, steps);
        if (plan.Count == 0)
        {
            ctx.Out.WriteLine($"-- nothing to do: the database is at {ctx.DescribeVersion(state.Current)}");
            return 0;
        }

        // The step executor in preview mode: every statement up or rollback would run, the
        // version-table bookkeeping included, and nothing executed (an irreversible Down is
        // refused as rollback refuses it: exit 5 naming it).
        using var recorder = new HistoryRecorder(ctx.Target.Provider, ctx.Catalog, provenance);
        using var executor = StepExecutor.ForPreview(ctx.Target, ctx.Catalog, ctx.Out, recorder);
        executor.PreviewStatements(versionTableUpgrade); // creating the version table, or adding its record columns, as a real run would

        await executor.RunAsync(plan, cancel: cancel);
        return 0;
    }
}
