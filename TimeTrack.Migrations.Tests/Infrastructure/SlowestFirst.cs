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
    // Measured: test-seconds per class in a full run (TRX, 2026-12-06, 796 tests), longest first (a
    // class not listed comes after, in xunit's order). Re-measure when the end of a run shows one
    // class alone: FailoverTests and LeastPrivilegeTests, added after the list was made, were the
    // last 25 s of a run. The previous runner's tests come first: on a machine without the cached
    // build, they start it (dotnet build of an older commit) while the others run.
    private static readonly string[] Slowest =
    [
        "Runner.SqlitePreviousRunnerTests",
        "Runner.ManifestBuildTests", // a dotnet build of a migrations project
        "Topology.StandbyTests", // starts the shared standby pair (a cluster, its base backup, a standby) that PoolerFrontTests uses too
        "Deploy.PostgresEntrypointTests",
        "Deploy.CiMigrateTests",
        "Deploy.CiMigrateTargetTests",
        "Deploy.SqliteEntrypointTests",
        "Runner.PostgresDriftMatrixTests",
        "Runner.PostgresSafetyTests",
        "Lint.LintTests",
        "Runner.PostgresSignalTests",
        "Runner.PostgresRestoreSafetyTests",
        "Topology.FailoverTests", // each case a standby pair of its own, promoted
        "Runner.ProcessContractTests",
        "Runner.PostgresBackupTests", // pg_dump and pg_restore processes
        "Runner.PostgresLockTimeoutTests",
        "Runner.PostgresRecordedHistoryTests",
        "Deploy.MigrateShTests",
        "Runner.TlsAndSocketTests",
        "Runner.ProgressTests",
        "Runner.SqliteSafetyTests",
        "Conformance.PostgresConformanceTests",
        "Runner.PostgresInitAndProfileTests",
        "Topology.LeastPrivilegeTests",
        "Runner.PostgresDamagedVersionTableTests",
        "Runner.PostgresNoHistoryTests",
        "Generation.PostgresGenerationRoundTripTests",
        "Runner.SecretsAndMaskingTests",
        "Conformance.SqliteConformanceTests",
        "Runner.PostgresRunnerCommandTests",
        "Runner.BadInputMatrixTests",
        "Topology.RoleTests",
        "Runner.SqliteSignalTests",
        "Runner.ManifestTests",
        "Runner.PostgresNoOpStartTests",
        "Deploy.CiMigrateLogTests",
        "Runner.PostgresPreviousRunnerTests",
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
