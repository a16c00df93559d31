using Microsoft.Extensions.Logging;
using TimeTrack.Migrations.Runner.Databases;
using TimeTrack.Migrations.Runner.Output;
using TimeTrack.Migrations.Runner.Schema;

namespace TimeTrack.Migrations.Runner.Running;

/// <summary>What adoption stamped, and the differences it tolerated.</summary>
public sealed record AdoptionResult(ProfileCandidate Profile, IReadOnlyList<string> Warnings);

/// <summary>
/// Adopting a database that has tables but no migration history (init's third scenario, and
/// `stamp --profile`): recognise its schema state, verify it, record its version without running
/// anything. The caller holds the migration lock, has read the live schema and resolved the
/// profile name (both once, before this).
/// </summary>
public sealed class Adoption(ProfileMatcher matcher, MigrationCatalog catalog, ILogger log)
{
    /// <param name="live">The live schema, version table excluded.</param>
    /// <param name="forced">The profile to verify against (--profile); null: find the best one.</param>
    /// <param name="force">Stamp even when it does not match (loudly).</param>
    /// <param name="recorder">Records each stamped version's checksum and Down, as if it had been applied.</param>
    /// <param name="beforeWrite">Runs once the database is verified, before the stamp is written (the --backup).</param>
    public async Task<AdoptionResult> AdoptAsync(Database database, DatabaseSchema live, ProfileCandidate? forced, bool force, HistoryRecorder recorder, CancellationToken cancel,
        Func<Task>? beforeWrite = null)
    {
        // Where adoption's time goes (--verbose): the expected schemas and the comparison, then the stamp.
        var clock = System.Diagnostics.Stopwatch.StartNew();
        var best = (await matcher.CompareAsync(database, live, forced, cancel))[0];
        log.LogDebug("adoption: expected schemas built and compared in {Milliseconds} ms", clock.ElapsedMilliseconds);

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

            log.LogWarning("FORCED: the database {What}{Closest}; stamping it at {Version} anyway (--force). Differences:{NewLine}{Diff}",
                what, closest, best.Profile.Version, Environment.NewLine, best.Match.RenderBlocking());
        }
        else
        {
            log.LogInformation("the database matches stamping profile '{Profile}': {Description}", best.Profile.Name, best.Profile.Description);
        }

        var warnings = best.Match.Warnings.Select(c => c.DescribeAsDrift())
            .Select(w => w == "extra table alembic_version" ? w + " (Flask-Migrate's history; left as it is)" : w)
            .ToList();
        foreach (var warning in warnings)
        {
            log.LogWarning("tolerated: {Difference}", warning);
        }

        clock.Restart();
        var record = catalog.Migrations.Where(m => m.Version <= best.Profile.Version)
            .Select(m => (m.Version, m.Description, (StepRecord?)recorder.Record(m, durationMs: null))).ToList();
        if (beforeWrite is not null)
        {
            await beforeWrite();
        }

        await new VersionTable(database.Provider).StampAsync(database, record, [], cancel);
        log.LogDebug("adoption: recorded, checked and stamped in {Milliseconds} ms", clock.ElapsedMilliseconds);
        log.LogInformation("stamped at {Version}: {Count} migration(s) recorded as applied without running them", best.Profile.Version, record.Count);
        return new AdoptionResult(best.Profile, warnings);
    }
}
