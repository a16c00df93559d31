using System.CommandLine;
using Microsoft.Extensions.Logging;
using TimeTrack.Migrations.Runner.Output;
using TimeTrack.Migrations.Runner.Running;
using TimeTrack.Migrations.Runner.Settings;

namespace TimeTrack.Migrations.Runner.Commands;

/// <summary>`up` (seed name `apply`): apply pending migrations in order, under the migration lock.</summary>
public static class UpCommand
{
    public static readonly Option<long?> To = new("--to") { HelpName = "version", Description = "Apply up to and including this version (default: all)" };
    public static readonly Option<bool> AllowUnknown = new(OptionDefinitions.AllowUnknown.Name) { Description = "Migrate even when the database records versions between known ones that this build does not know" };
    public static readonly Option<bool> AllowOutOfOrder = new(OptionDefinitions.AllowOutOfOrder.Name) { Description = "Apply pending migrations older than the newest applied one" };
    public static readonly Option<bool> AllowChanged = new(OptionDefinitions.AllowChanged.Name)
    {
        Description = "Run even when applied migrations differ from this build's (checksum changed): loudly, once; 'stamp --repair' accepts the change for good",
    };

    public static Command Create()
    {
        var command = BackupOptions.AddTo(new Command("up", "Apply pending migrations, each in its own transaction, printing each with its duration") { To, AllowUnknown, AllowOutOfOrder, AllowChanged, StatusCommand.WithStatus });
        command.SetAction((parse, cancel) => Handler.RunAsync(parse, ctx =>
            RunAsync(ctx, parse.GetValue(To), parse.GetValue(AllowUnknown), parse.GetValue(AllowOutOfOrder), cancel, parse.GetValue(AllowChanged), parse.GetValue(StatusCommand.WithStatus))));
        return command;
    }

    public static Task<int> RunAsync(CommandContext ctx, long? to, bool allowUnknown, bool allowOutOfOrder, CancellationToken cancel, bool allowChanged = false, bool withStatus = false) =>
        ctx.UnderLockAsync(async (database, state, recorder) =>
        {
            var steps = state.PlanUp(to, allowUnknown, allowOutOfOrder);
            if (state.DatabaseIsAhead)
            {
                ctx.Log.LogWarning("the database records version(s) {Versions} newer than this build knows (was the image rolled back?); continuing",
                    string.Join(", ", state.Unknown));
            }
            else if (state.Unknown.Count > 0)
            {
                ctx.Log.LogWarning("continuing despite unknown version(s) {Versions} (--allow-unknown)", string.Join(", ", state.Unknown));
            }

            // Nothing pending: the container-restart path. No FluentMigrator container, no writes.
            var results = await ctx.ApplyAsync(database, state, recorder, steps, cancel);
            var now = state.CurrentAfter(results);
            var after = withStatus ? await StatusCommand.ReadAsync(ctx, database, markdown: true, cancel) : null;
            ctx.Result(
                StatusCommand.WithReport(
                    new UpResult("up", ctx.Target.Display, state.Current, now, ctx.Catalog.Head,
                        [.. results.Select(r => new StepDocument(r.Version, r.Description, CommandContext.Milliseconds(r.Duration)))], ctx.BackupDocument),
                    after),
                [results.Count == 0
                    ? $"nothing to do: the database is at {ctx.DescribeVersion(state.Current)}"
                    : $"the database is at {ctx.DescribeVersion(now)}: {results.Count} migration(s) applied", .. after?.Lines ?? []]);
            return 0;
        }, cancel, allowChanged: allowChanged, toHead: to is null);
}
