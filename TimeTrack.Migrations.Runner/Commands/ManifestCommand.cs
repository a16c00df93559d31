using System.CommandLine;
using Microsoft.Extensions.Logging;
using TimeTrack.Migrations.Runner.Generation;
using TimeTrack.Migrations.Runner.Output;
using TimeTrack.Migrations.Runner.Running;

namespace TimeTrack.Migrations.Runner.Commands;

/// <summary>
/// `manifest`: writes the checksums of the built migrations (per provider) to
/// TimeTrack.Migrations/migrations.manifest, which the build embeds (development only; run it
/// after adding a migration, before committing). `--check` only compares (CI, tests). A changed
/// checksum of a migration the manifest already lists is refused: applied migrations are not
/// edited; `--accept` keeps the old checksum as accepted, for a change that renders the same
/// operations differently (a FluentMigrator upgrade).
/// </summary>
public static class ManifestCommand
{
    public static readonly Option<bool> Check = new("--check") { Description = "Only compare the manifest with the migrations; exit 5 when it is out of date" };
    public static readonly Option<bool> Accept = new("--accept")
    {
        Description = "Write even when listed migrations' checksums changed, keeping the old ones as accepted (same operations, rendered differently)",
    };

    public static Command Create()
    {
        var command = new Command("manifest", "Write (or --check) the migrations' checksums that the build embeds (development only)") { Check, Accept, NewCommand.Source };
        command.SetAction((parse, cancel) => Handler.RunAsync(parse, ctx =>
            Task.FromResult(Run(ctx, parse.GetValue(Check), parse.GetValue(Accept), parse.GetValue(NewCommand.Source)))));
        return command;
    }

    public static int Run(CommandContext ctx, bool check, bool accept, string? source)
    {
        var folder = MigrationGenerator.SourceFolder(source, ctx.Terminal);
        var path = Path.Combine(folder, MigrationManifest.FileName);
        var written = File.Exists(path) ? MigrationManifest.Parse(File.ReadAllText(path)) : new MigrationManifest([]);
        var computed = MigrationManifest.Compute(ctx.Catalog);

        var changed = computed.Migrations
            .Where(m => written.Find(m.Version) is { } old && !old.Checksums.OrderBy(c => c.Key).SequenceEqual(m.Checksums.OrderBy(c => c.Key)))
            .Select(m => m.Version).ToList();
        var added = computed.Migrations.Where(m => written.Find(m.Version) is null).Select(m => m.Version).ToList();
        var removed = written.Migrations.Where(m => computed.Find(m.Version) is null).Select(m => m.Version).ToList();
        var upToDate = changed.Count == 0 && added.Count == 0 && removed.Count == 0;

        if (check || upToDate)
        {
            ctx.Result(new { command = "manifest", path, upToDate, added, changed, removed },
                [upToDate
                    ? $"{path} matches the migrations"
                    : $"{path} is out of date (added: {List(added)}; changed: {List(changed)}; removed: {List(removed)}): run 'timetrack-migrate manifest' and commit it"]);
            return upToDate ? 0 : (int)ExitCode.Refused;
        }

        if (changed.Count > 0 && !accept)
        {
            throw new UserError(ExitCode.Refused,
                $"the checksums of migration(s) {List(changed)} changed: databases that applied them will refuse to start. Revert the edit and add a new migration; " +
                "if the operations are the same and only their rendering changed (a FluentMigrator upgrade), pass --accept");
        }

        // Keep what was accepted before, and (with --accept) the checksums being replaced.
        var merged = computed.Migrations.Select(m =>
        {
            var old = written.Find(m.Version);
            var accepted = new Dictionary<string, IReadOnlyList<string>>();
            foreach (var (provider, checksum) in m.Checksums)
            {
                var previous = (old?.Accepted?.GetValueOrDefault(provider) ?? []).ToList();
                if (old?.Checksums.GetValueOrDefault(provider) is { } replaced && replaced != checksum)
                {
                    previous.Add(replaced);
                }

                if (previous.Count > 0)
                {
                    accepted[provider] = previous.Distinct().ToList();
                }
            }

            return m with { Accepted = accepted.Count > 0 ? accepted : null };
        }).ToList();

        File.WriteAllText(path, new MigrationManifest(merged).ToText());
        if (changed.Count > 0)
        {
            ctx.Log.LogWarning("ACCEPTED: the old checksums of migration(s) {Versions} stay valid for databases that recorded them", List(changed));
        }

        ctx.Result(new { command = "manifest", path, upToDate = true, added, changed, removed },
            [$"wrote {path} (added: {List(added)}; changed: {List(changed)}; removed: {List(removed)}); rebuild to embed it"]);
        return 0;
    }

    private static string List(IReadOnlyList<long> versions) => versions.Count == 0 ? "none" : string.Join(", ", versions);
}
