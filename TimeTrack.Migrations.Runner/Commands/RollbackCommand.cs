using System.CommandLine;
using TimeTrack.Migrations.Runner.Running;

namespace TimeTrack.Migrations.Runner.Commands;

/// <summary>`rollback` (seed name `downgrade`): run Down for applied migrations above a version, newest first.</summary>
public static class RollbackCommand
{
    public static readonly Option<long?> To = new("--to") { HelpName = "version", Description = "Roll back every migration above this applied version; 0 undoes everything" };
    public static readonly Option<int?> Steps = new("--steps") { HelpName = "n", Description = "Roll back this many migrations (default 1)" };

    public static Command Create()
    {
        var command = BackupOptions.AddTo(new Command("rollback", "Undo applied migrations (Down), newest first, after checking each has a Down") { To, Steps, UpCommand.AllowChanged, StatusCommand.WithStatus });
        command.SetAction((parse, cancel) => Handler.RunAsync(parse, ctx => RunAsync(ctx, parse.GetValue(To), parse.GetValue(Steps), cancel, parse.GetValue(UpCommand.AllowChanged), parse.GetValue(StatusCommand.WithStatus))));
        return command;
    }

    public static Task<int> RunAsync(CommandContext ctx, long? to, int? steps, CancellationToken cancel, bool allowChanged = false, bool withStatus = false) =>
        ctx.UnderLockAsync(async (database, state, recorder) =>
        {
            var plan = state.PlanRollback(to, steps);
            var results = await ctx.ApplyAsync(database, state, recorder, plan, cancel);
            var now = state.CurrentAfter(results);
            var after = withStatus ? await StatusCommand.ReadAsync(ctx, database, markdown: true, cancel) : null;
            ctx.Result(StatusCommand.WithReport(
                new
                {
                    command = "rollback",
                    database = ctx.Target.Display,
                    from = state.Current,
                    to = now,
                    rolledBack = results.Select(r => new { version = r.Version, description = r.Description, durationMs = CommandContext.Milliseconds(r.Duration) }),
                    backup = ctx.BackupTaken,
                }, after),
                [results.Count == 0
                    ? $"nothing to do: the database is at {ctx.DescribeVersion(state.Current)}"
                    : $"the database is at {ctx.DescribeVersion(now)}: {results.Count} migration(s) rolled back", .. after?.Lines ?? []]);
            return 0;
        }, cancel, allowChanged: allowChanged);
}
