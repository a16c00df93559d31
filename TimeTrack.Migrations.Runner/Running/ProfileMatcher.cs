using System.Globalization;
using TimeTrack.Migrations.Runner.Databases;
using TimeTrack.Migrations.Runner.Output;
using TimeTrack.Migrations.Runner.Schema;
using TimeTrack.Migrations.StampingProfiles;

namespace TimeTrack.Migrations.Runner.Running;

/// <summary>A schema state a database without history can be adopted at: a shipped profile, or a version of the history.</summary>
public sealed record ProfileCandidate(string Name, long Version, string Description);

/// <summary>A candidate and how the live database compares with the schema it expects.</summary>
public sealed record ProfileMatch(ProfileCandidate Profile, SchemaMatch Match);

/// <summary>
/// Finds the schema state an unmanaged database is in: the shipped stamping profiles (such as
/// `legacy`) and the schema after every version of the history (a database an earlier tool
/// brought to some point of it). Expected schemas come from the migrations, applied on the live
/// database's own engine (<see cref="StepExecutor.BuildExpectedSchemasAsync"/>).
/// </summary>
public sealed class ProfileMatcher(MigrationCatalog catalog)
{
    private IReadOnlyList<ProfileCandidate>? _candidates;

    /// <summary>Found on first use: init makes a matcher at every start, and a managed database never asks it.</summary>
    public IReadOnlyList<ProfileCandidate> Candidates => _candidates ??= FindCandidates(catalog);

    private static List<ProfileCandidate> FindCandidates(MigrationCatalog catalog)
    {
        var shipped = catalog.Assembly.GetExportedTypes()
            .Where(t => !t.IsAbstract && typeof(StampingProfile).IsAssignableFrom(t))
            .Select(t => (StampingProfile)Activator.CreateInstance(t)!)
            .Where(p => catalog.Knows(p.Version))
            .Select(p => new ProfileCandidate(p.Name, p.Version, p.Description));
        var history = catalog.Migrations.Select(m => new ProfileCandidate(
            m.Version.ToString(CultureInfo.InvariantCulture), m.Version, $"the schema after migration {m.Version} ({m.Description})"));
        return [.. shipped, .. history];
    }

    public ProfileCandidate Resolve(string name) =>
        Candidates.FirstOrDefault(c => c.Name.Equals(name, StringComparison.OrdinalIgnoreCase))
        ?? throw UserError.Invalid($"no stamping profile '{name}' (known: {string.Join(", ", Candidates.Select(c => c.Name))})");

    /// <summary>
    /// The candidates (or only <paramref name="forced"/>) compared with <paramref name="live"/>, best first (those whose columns differ are left out when another matches):
    /// matching ones before the others, then the newest version (a database at state 3 also
    /// "matches" state 2 with an extra table tolerated), then shipped profiles before history ones.
    /// </summary>
    /// <param name="database">The live database: its engine builds the expected schemas.</param>
    public async Task<IReadOnlyList<ProfileMatch>> CompareAsync(Database database, DatabaseSchema live, ProfileCandidate? forced, CancellationToken cancel)
    {
        var candidates = forced is null ? Candidates : [forced];
        var versions = candidates.Select(c => c.Version).ToHashSet();
        var upTo = candidates.Max(c => c.Version);

        // Reading the expected schema after each of a thousand versions costs far more than
        // building them: first only those whose tables have the live tables' columns (a missing
        // or extra column never matches; extra tables are tolerated). When none of them matches,
        // all of them, so that the closest one and its differences are found as before.
        var liveColumns = live.Tables.ToDictionary(t => t.Name, t => t.Columns.Select(c => c.Name).ToHashSet());
        bool CouldMatch(IReadOnlySet<(string Table, string Column)> names) =>
            names.Where(n => n.Table != VersionTable.Name).GroupBy(n => n.Table, n => n.Column)
                .All(t => liveColumns.TryGetValue(t.Key, out var columns) && columns.SetEquals(t));

        var expected = (await StepExecutor.BuildExpectedSchemasAsync(database.Provider, database, catalog, upTo, cancel, versions.Contains, CouldMatch))
            .ToDictionary(e => e.Version, e => e.Schema);
        if (!candidates.Any(c => expected.TryGetValue(c.Version, out var schema) && SchemaMatch.Of(live, schema, VersionTable.Name).Matches))
        {
            expected = (await StepExecutor.BuildExpectedSchemasAsync(database.Provider, database, catalog, upTo, cancel, versions.Contains))
                .ToDictionary(e => e.Version, e => e.Schema);
        }

        return candidates
            .Where(c => expected.ContainsKey(c.Version))
            .Select((c, order) => (Match: new ProfileMatch(c, SchemaMatch.Of(live, expected[c.Version], VersionTable.Name)), Order: order))
            .OrderByDescending(x => x.Match.Match.Matches)
            .ThenByDescending(x => x.Match.Match.Matches ? x.Match.Profile.Version : -x.Match.Match.Blocking.Count)
            .ThenBy(x => x.Order)
            .Select(x => x.Match)
            .ToList();
    }
}
