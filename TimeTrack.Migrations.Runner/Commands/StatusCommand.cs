using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using Microsoft.Extensions.Logging;
using TimeTrack.Migrations.Runner.Running;

namespace TimeTrack.Migrations.Runner.Commands;

/// <summary>`status`: what is applied, pending, unknown and out of order. Read-only: creates nothing, takes no lock.</summary>
public static class StatusCommand
{
    public static readonly Option<bool> Markdown = new("--markdown") { Description = "Print the status as markdown tables (for a CI job summary; with --json: as the document's field markdown)" };

    /// <summary>On up, rollback and init: the status after the run in the same process, so a deploy job needs no second start and connection.</summary>
    public static readonly Option<bool> WithStatus = new("--with-status")
    {
        Description = "Also report the status after the run, read under the same lock (with --json: the field status, as 'status --json --markdown' prints it)",
    };

    /// <summary>The status document and its lines (text or markdown), from an open connection.</summary>
    public sealed record Report(object Json, IReadOnlyList<string> Lines);

    public static Command Create()
    {
        var command = new Command("status", "Show the current version, applied and pending migrations (read-only: creates nothing)") { Markdown, BackupOptions.Directory };
        command.SetAction((parse, cancel) => Handler.RunAsync(parse, ctx => RunAsync(ctx, parse.GetValue(Markdown), cancel)));
        return command;
    }

    public static async Task<int> RunAsync(CommandContext ctx, bool markdown, CancellationToken cancel)
    {
        await using var database = await ctx.ConnectAsync(cancel, readOnly: true);
        var report = await ReadAsync(ctx, database, markdown, cancel);
        ctx.Result(report.Json, report.Lines);
        if (database.IsReadOnlyStandby)
        {
            // What it reads there may lag the primary's; a deploy gate must not take it for the primary.
            ctx.Log.LogError("{Message}", Databases.Postgres.PostgresProvider.StandbyMessage);
            return (int)Output.ExitCode.ConnectionFailed;
        }

        return 0;
    }

    /// <summary><paramref name="json"/> with the field status when there is a report (--with-status); as it was otherwise, so the documents without it keep their shape.</summary>
    public static object WithReport(object json, Report? report)
    {
        if (report is null)
        {
            return json;
        }

        var document = JsonSerializer.SerializeToNode(json, CommandContext.JsonOptions)!.AsObject();
        document["status"] = JsonSerializer.SerializeToNode(report.Json, CommandContext.JsonOptions);
        return document;
    }

    /// <param name="markdown">The lines as markdown, and with --json the markdown in the document too (a deploy job reads both from one start).</param>
    public static async Task<Report> ReadAsync(CommandContext ctx, Databases.Database database, bool markdown, CancellationToken cancel)
    {
        var applied = await database.ReadAppliedVersionsAsync(cancel);
        var state = new VersionState(ctx.Catalog, applied);
        var (history, _) = await database.ReadHistoryStateAsync(state.Applied, cancel);
        using var recorder = new HistoryRecorder(database.Provider, ctx.Catalog, ctx.Provenance(database));
        var records = applied.ToDictionary(a => a.Version, a => RecordOf(ctx, recorder, a));
        var lastBackup = ctx.Backup is { } backups ? Backups.Last(backups.Directory, await BackupIdentity.OfAsync(database, cancel)) : null;

        var json = new
        {
            provider = ctx.ProviderName,
            database = ctx.Target.Display,
            usingEmbeddedDefault = ctx.Settings.UsingDefaultUrl,
            readOnlyStandby = database.IsReadOnlyStandby,
            history,
            current = state.Current,
            head = ctx.Catalog.Head,
            upToDate = state.Pending.Count == 0 && state.Unknown.Count == 0,
            applied = applied.Select(a => new
            {
                version = a.Version,
                description = a.Description ?? ctx.Catalog.Find(a.Version)?.Description,
                appliedOn = a.AppliedOn,
                known = ctx.Catalog.Knows(a.Version),
                checksum = records[a.Version].Checksum,
                downRecorded = a.DownSql is not null,
                downNotCaptured = a.DownNotCaptured,
                appliedBy = a.HasRecord
                    ? new { runnerVersion = a.RunnerVersion, imageRevision = a.ImageRevision, host = a.AppliedByHost, user = a.AppliedByUser, durationMs = a.DurationMs }
                    : null,
            }),
            pending = state.Pending.Select(m => new { version = m.Version, description = m.Description }),
            unknown = state.Unknown,
            outOfOrder = state.OutOfOrder.Select(m => m.Version),
            backupDirectory = ctx.Backup?.Directory,
            lastBackup,
        };

        var text = new List<string>
        {
            $"provider:     {ctx.ProviderName}",
            $"database:     {ctx.Target.Display}{(ctx.Settings.UsingDefaultUrl ? " (embedded default)" : "")}",
            $"current:      {ctx.DescribeVersion(state.Current)}{(history == Databases.HistoryState.Unmanaged ? " (tables but no migration history: adopt it with init)" : "")}",
            $"head:         {ctx.Catalog.Head}",
            applied.Count == 0 ? "applied:      none" : "applied:",
        };
        foreach (var a in applied)
        {
            // Each row one line, whatever the version table holds (a description with a line break).
            text.Add(Output.LogLine.Printable($"  {a.Version}  {(a.AppliedOn?.ToString("yyyy-MM-dd HH:mm:ss", CultureInfo.InvariantCulture) ?? "-"),-19}  {a.Description}{(ctx.Catalog.Knows(a.Version) ? "" : "  [unknown to this build]")}", oneLine: true));
            text.Add(Output.LogLine.Printable($"                {records[a.Version].Summary}", oneLine: true));
        }

        text.Add(state.Pending.Count == 0 ? "pending:      none" : "pending:");
        text.AddRange(state.Pending.Select(m => $"  {m.Version}  {m.Description}{(state.OutOfOrder.Contains(m) ? "  [out of order: older than the newest applied]" : "")}"));
        if (state.Unknown.Count > 0)
        {
            text.Add($"unknown:      {string.Join(", ", state.Unknown)} ({(state.DatabaseIsAhead ? "newer than this build: the database is ahead of it" : "not in this build's history")})");
        }

        if (ctx.Backup is { } policy)
        {
            text.Add($"last backup:  {LastBackup(policy, lastBackup)}");
        }

        if (!markdown)
        {
            return new Report(json, text);
        }

        var lines = MarkdownLines(ctx, state, applied, history, records, lastBackup).ToList();
        var withMarkdown = JsonSerializer.SerializeToNode(json, CommandContext.JsonOptions)!.AsObject();
        withMarkdown["markdown"] = string.Join('\n', lines);
        return new Report(withMarkdown, lines);
    }

    private static string LastBackup(BackupPolicy policy, BackupFile? last) => last?.Describe() ?? $"none of this database in {policy.Directory}";

    /// <summary>What the version table records of one applied version, as status shows it.</summary>
    /// <param name="Checksum">ok, changed, not recorded, or not known to this build.</param>
    private sealed record RecordView(string Checksum, string Down, string AppliedBy)
    {
        public string Summary => $"checksum {Checksum}; Down {Down}; {AppliedBy}";
    }

    private static RecordView RecordOf(CommandContext ctx, HistoryRecorder recorder, Databases.AppliedVersion a)
    {
        var checksum = a.Checksum is null ? "not recorded"
            : ctx.Catalog.Find(a.Version) is not { } known ? "not known to this build"
            : recorder.Matches(known, a.Checksum) ? "ok"
            : "CHANGED since it was applied";
        var down = a.DownSql is not null ? "recorded"
            : a.DownNotCaptured is { } why ? $"not captured ({why})"
            : "not recorded";
        var by = !a.HasRecord ? "applied before the runner recorded history"
            : a.RunnerVersion?.EndsWith("(recorded afterwards)", StringComparison.Ordinal) == true ? $"recorded afterwards by timetrack-migrate {a.RunnerVersion.Replace(" (recorded afterwards)", "", StringComparison.Ordinal)}"
            : $"applied by {(a.ImageRevision is { } revision ? $"image {revision}" : "a runner outside an image")} (timetrack-migrate {a.RunnerVersion}) on {a.AppliedByHost ?? "?"} as {a.AppliedByUser ?? "?"}" +
              (a.DurationMs is { } ms ? $" ({ms} ms)" : "");
        return new RecordView(checksum, down, by);
    }

    /// <summary>The status as markdown: a summary table and one row a migration.</summary>
    private static IEnumerable<string> MarkdownLines(CommandContext ctx, VersionState state, IReadOnlyList<Databases.AppliedVersion> applied, Databases.HistoryState history,
        IReadOnlyDictionary<long, RecordView> records, BackupFile? lastBackup)
    {
        static string Cell(string? text) => (text ?? "").Replace("|", "\\|", StringComparison.Ordinal).Replace("\n", " ", StringComparison.Ordinal);

        yield return "| | |";
        yield return "|---|---|";
        yield return $"| provider | {ctx.ProviderName} |";
        yield return $"| database | `{Cell(ctx.Target.Display)}` |";
        yield return $"| current version | {Cell(ctx.DescribeVersion(state.Current))} |";
        yield return $"| history | {(history == Databases.HistoryState.Unmanaged ? "none: tables without migration history (init adopts it)" : history.ToString().ToLowerInvariant())} |";
        yield return $"| head of this build | {ctx.Catalog.Head} |";
        yield return $"| pending | {state.Pending.Count} |";
        if (ctx.Backup is { } policy)
        {
            yield return $"| last backup | {Cell(LastBackup(policy, lastBackup))} |";
        }
        yield return "";
        yield return "| version | description | applied on | state | checksum | Down | applied by |";
        yield return "|---|---|---|---|---|---|---|";
        var rows = applied.Select(a => (a.Version, Description: a.Description ?? ctx.Catalog.Find(a.Version)?.Description,
                AppliedOn: a.AppliedOn?.ToString("yyyy-MM-dd HH:mm:ss", CultureInfo.InvariantCulture),
                State: ctx.Catalog.Knows(a.Version) ? "applied" : "applied, unknown to this build", Record: (RecordView?)records[a.Version]))
            .Concat(state.Pending.Select(m => (m.Version, Description: (string?)m.Description, AppliedOn: (string?)null,
                State: state.OutOfOrder.Contains(m) ? "pending, out of order" : "pending", Record: (RecordView?)null)))
            .OrderBy(r => r.Version);
        foreach (var row in rows)
        {
            yield return $"| {row.Version} | {Cell(row.Description)} | {row.AppliedOn ?? ""} | {row.State} | {Cell(row.Record?.Checksum)} | {Cell(row.Record?.Down)} | {Cell(row.Record?.AppliedBy)} |";
        }
    }
}
