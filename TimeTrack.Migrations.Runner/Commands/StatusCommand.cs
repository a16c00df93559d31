using System.CommandLine;
using System.Globalization;
using TimeTrack.Migrations.Runner.Running;

namespace TimeTrack.Migrations.Runner.Commands;

/// <summary>`status`: what is applied, pending, unknown and out of order. Read-only: creates nothing, takes no lock.</summary>
public static class StatusCommand
{
    public static Command Create()
    {
        var command = new Command("status", "Show the current version, applied and pending migrations (read-only: creates nothing)");
        command.SetAction((parse, cancel) => Handler.RunAsync(parse, ctx => RunAsync(ctx, cancel)));
        return command;
    }

    public static async Task<int> RunAsync(CommandContext ctx, CancellationToken cancel)
    {
        await using var database = await ctx.ConnectAsync(cancel, readOnly: true);
        var applied = await database.ReadAppliedVersionsAsync(cancel);
        var state = new VersionState(ctx.Catalog, applied.Select(a => a.Version).ToList());

        var json = new
        {
            provider = ctx.ProviderName,
            database = ctx.Target.Display,
            usingEmbeddedDefault = ctx.Settings.UsingDefaultUrl,
            current = state.Current,
            head = ctx.Catalog.Head,
            upToDate = state.Pending.Count == 0 && state.Unknown.Count == 0,
            applied = applied.Select(a => new
            {
                version = a.Version,
                description = a.Description ?? ctx.Catalog.Find(a.Version)?.Description,
                appliedOn = a.AppliedOn,
                known = ctx.Catalog.Knows(a.Version),
            }),
            pending = state.Pending.Select(m => new { version = m.Version, description = m.Description }),
            unknown = state.Unknown,
            outOfOrder = state.OutOfOrder.Select(m => m.Version),
        };

        var text = new List<string>
        {
            $"provider:     {ctx.ProviderName}",
            $"database:     {ctx.Target.Display}{(ctx.Settings.UsingDefaultUrl ? " (embedded default)" : "")}",
            $"current:      {ctx.DescribeVersion(state.Current)}",
            $"head:         {ctx.Catalog.Head}",
            applied.Count == 0 ? "applied:      none" : "applied:",
        };
        text.AddRange(applied.Select(a =>
            $"  {a.Version}  {(a.AppliedOn?.ToString("yyyy-MM-dd HH:mm:ss", CultureInfo.InvariantCulture) ?? "-"),-19}  {a.Description}{(ctx.Catalog.Knows(a.Version) ? "" : "  [unknown to this build]")}"));
        text.Add(state.Pending.Count == 0 ? "pending:      none" : "pending:");
        text.AddRange(state.Pending.Select(m => $"  {m.Version}  {m.Description}{(state.OutOfOrder.Contains(m) ? "  [out of order: older than the newest applied]" : "")}"));
        if (state.Unknown.Count > 0)
        {
            text.Add($"unknown:      {string.Join(", ", state.Unknown)} ({(state.DatabaseIsAhead ? "newer than this build: the database is ahead of it" : "not in this build's history")})");
        }

        ctx.Result(json, text);
        return 0;
    }
}
