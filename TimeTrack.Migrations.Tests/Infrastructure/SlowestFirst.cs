using Xunit.Abstractions;

[assembly: TestCollectionOrderer("TimeTrack.Migrations.Tests.Infrastructure.SlowestFirst", "TimeTrack.Migrations.Tests")]

namespace TimeTrack.Migrations.Tests.Infrastructure;

/// <summary>
/// Starts the longest test classes first. Classes run one after the other inside and up to
/// maxParallelThreads at once (xunit.runner.json); in xunit's default order the longest ones (the
/// deploy scripts, each test of which runs the published runner several times) started last and
/// alone made the last minute of the run. Longest first leaves the short classes to fill the gaps.
/// </summary>
public sealed class SlowestFirst : ITestCollectionOrderer
{
    // Measured: test-seconds per class, longest first (a class not listed comes after, in xunit's order).
    // The previous runner's tests come first: on a machine without the cached build, they start
    // it (dotnet build of an older commit) while the others run.
    private static readonly string[] Slowest =
    [
        "Runner.SqlitePreviousRunnerTests",
        "Runner.ManifestBuildTests", // a dotnet build of a migrations project
        "Topology.StandbyTests", // starts the shared standby pair (a cluster, its base backup, a standby) that PoolerFrontTests uses too
        "Deploy.CiMigrateTests",
        "Deploy.CiMigrateTargetTests",
        "Deploy.PostgresEntrypointTests",
        "Runner.PostgresDriftMatrixTests",
        "Runner.PostgresSafetyTests",
        "Deploy.SqliteEntrypointTests",
        "Runner.PostgresPreviousRunnerTests",
        "Lint.LintTests",
        "Runner.PostgresSignalTests",
        "Runner.PostgresLockTimeoutTests",
        "Runner.PostgresBadInputTests",
        "Runner.SqliteSafetyTests",
        "Runner.PostgresNoHistoryTests",
        "Runner.PostgresRecordedHistoryTests",
        "Runner.PostgresRunnerCommandTests",
        "Runner.ProcessContractTests",
        "Runner.TlsAndSocketTests",
        "Generation.PostgresGenerationRoundTripTests",
        "Runner.SecretsAndMaskingTests",
        "Runner.PostgresInitAndProfileTests",
        "Runner.PostgresBackupTests", // pg_dump and pg_restore processes: it was alone at the end of a run
    ];

    public IEnumerable<ITestCollection> OrderTestCollections(IEnumerable<ITestCollection> testCollections) =>
        testCollections.Select((collection, index) => (collection, index))
            .OrderBy(c => Rank(c.collection.DisplayName))
            .ThenBy(c => c.index)
            .Select(c => c.collection);

    private static int Rank(string displayName)
    {
        for (var i = 0; i < Slowest.Length; i++)
        {
            if (displayName.EndsWith("." + Slowest[i], StringComparison.Ordinal))
            {
                return i;
            }
        }

        return Slowest.Length;
    }
}
