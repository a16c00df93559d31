using Microsoft.Extensions.Logging;
using TimeTrack.Migrations.Runner.Databases;
using TimeTrack.Migrations.Runner.Output;
using TimeTrack.Migrations.Runner.Running;

namespace TimeTrack.Migrations.Runner.Commands;

/// <summary>
/// Adopting a database that has tables but no migration history (init's scenario 2, and
/// `stamp --profile`): recognise its schema state, verify it, record its version. Shared by both
/// commands; the caller holds the migration lock.
/// </summary>
public static class Adoption
{
    /// <returns>The profile the database was stamped at, and the warnings about tolerated differences.</returns>
    public static async Task<(ProfileCandidate Profile, IReadOnlyList<string> Warnings)> AdoptAsync(
        CommandContext ctx, Database database, string? forcedProfile, bool force, CancellationToken cancel)
    {
        var matcher = new ProfileMatcher(ctx.Catalog);
        var forced = forcedProfile is null ? null : matcher.Resolve(forcedProfile);
        var live = (await database.ReadSchemaAsync(cancel)).Without(Database.VersionTable);
        var best = (await matcher.CompareAsync(database, live, forced, cancel))[0];

        if (!best.Match.Matches)
        {
            var what = forced is null ? "matches no stamping profile" : $"does not match stamping profile '{forced.Name}'";
            var closest = forced is null ? $"; closest is '{best.Profile.Name}' ({best.Profile.Description})" : "";
            if (!force)
            {
                throw new UserError(ExitCode.Refused,
                    $"the database has tables but no migration history, and {what}{closest}. Nothing was written. Differences:{Environment.NewLine}" +
                    best.Match.RenderBlocking() + $"{Environment.NewLine}Fix the schema, choose a profile with --profile, or stamp anyway with --force");
            }

            ctx.Log.LogWarning("FORCED: the database {What}{Closest}; stamping it at {Version} anyway (--force). Differences:{NewLine}{Diff}",
                what, closest, best.Profile.Version, Environment.NewLine, best.Match.RenderBlocking());
        }
        else
        {
            ctx.Log.LogInformation("the database matches stamping profile '{Profile}': {Description}", best.Profile.Name, best.Profile.Description);
        }

        var warnings = best.Match.Warnings.Select(c => c.DescribeAsDrift())
            .Select(w => w == "extra table alembic_version" ? w + " (Flask-Migrate's history; left as it is)" : w)
            .ToList();
        foreach (var warning in warnings)
        {
            ctx.Log.LogWarning("tolerated: {Difference}", warning);
        }

        var record = ctx.Catalog.Migrations.Where(m => m.Version <= best.Profile.Version).ToList();
        await new VersionTable(database, ctx.Catalog).StampAsync(record, [], cancel);
        ctx.Log.LogInformation("stamped at {Version}: {Count} migration(s) recorded as applied without running them", best.Profile.Version, record.Count);
        return (best.Profile, warnings);
    }
}
