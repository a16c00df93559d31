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
    public static readonly Argument<string> Version = new("version") { Description = "A version number, or 'head'" };

    public static Command Create()
    {
        var command = new Command("stamp", "Record migrations up to VERSION as applied without running them; remove rows above it") { Version };
        command.SetAction((parse, cancel) => Handler.RunAsync(parse, ctx => RunAsync(ctx, parse.GetValue(Version)!, cancel)));
        return command;
    }

    public static Command CreateMarkCurrent()
    {
        var command = new Command("mark-current", "Same as 'stamp head': record every migration as applied without running it");
        command.SetAction((parse, cancel) => Handler.RunAsync(parse, ctx => RunAsync(ctx, "head", cancel)));
        return command;
    }

    public static Task<int> RunAsync(CommandContext ctx, string version, CancellationToken cancel) =>
        ctx.UnderLockAsync(async (database, state) =>
        {
            var target = state.ResolveStampTarget(version);
            var record = ctx.Catalog.Migrations.Where(m => m.Version <= target && !state.Applied.Contains(m.Version)).ToList();
            var remove = state.Applied.Where(v => v > target).ToList();

            if (record.Count > 0 || remove.Count > 0)
            {
                await new VersionTable(database, ctx.Catalog).StampAsync(record, remove, cancel);
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
                },
                [$"stamped at {ctx.DescribeVersion(target)}: {record.Count} version(s) recorded, {remove.Count} removed; no migration was run"]);
            return 0;
        }, cancel);
}
