using FluentMigrator.Infrastructure;
using TimeTrack.Migrations.Runner.Databases;
using TimeTrack.Migrations.Runner.Schema;

namespace TimeTrack.Migrations.Runner.Running;

/// <summary>The expected schema: the known steps run in a scratch place (<see cref="StepMode.Scratch"/>), the schema read after each.</summary>
public sealed partial class StepExecutor
{
    private static StepExecutor ForScratch(DatabaseProvider provider, ScratchDatabase scratch, MigrationCatalog catalog) =>
        new(StepMode.Scratch, provider, scratch.ConnectionString, catalog,
            new FluentMigratorServices.Options { ExpectedSchemaBuild = true, DefaultSchema = scratch.DefaultSchema }, database: null, logs: null);

    /// <summary>
    /// The schema after every known version up to <paramref name="upTo"/>, in version order, built
    /// on <paramref name="provider"/>'s own engine (<see cref="DatabaseProvider.OpenScratchAsync"/>):
    /// the expected side of adoption and drift checks. <paramref name="live"/>: the database
    /// checked, when there is one (PostgreSQL builds its scratch schema there).
    /// </summary>
    /// <param name="read">The versions whose schema is read (all when null): reading the catalog
    /// after each of a thousand steps costs far more than applying them.</param>
    /// <param name="couldMatch">Given the (table, column) names after a version (where the scratch
    /// reads them cheaply), false when its schema is not worth reading.</param>
    public static async Task<IReadOnlyList<(long Version, DatabaseSchema Schema)>> BuildExpectedSchemasAsync(
        DatabaseProvider provider, Database? live, MigrationCatalog catalog, long upTo, CancellationToken cancel, Func<long, bool>? read = null,
        Func<IReadOnlySet<(string Table, string Column)>, bool>? couldMatch = null)
    {
        await using var scratch = await provider.OpenScratchAsync(live, cancel);
        using var executor = ForScratch(provider, scratch, catalog);
        var plan = catalog.Migrations.Where(m => m.Version <= upTo).Select(m => new PlannedStep(m, Direction.Up)).ToList();
        var result = new List<(long, DatabaseSchema)>();
        if (scratch.InOneTransaction)
        {
            executor._processor.BeginTransaction(); // every step joins it; never committed
        }

        try
        {
            scratch.SetUp(executor.ExecuteSql);
            await executor.RunAsync(plan, async step =>
            {
                if ((read?.Invoke(step.Version) ?? true)
                    && (couldMatch is null || await scratch.ReadColumnNamesAsync(executor.StepConnection, cancel) is not { } names || couldMatch(names)))
                {
                    result.Add((step.Version, (await scratch.ReadAsync(executor.StepConnection, cancel)).Without(VersionTable.Name)));
                }
            }, cancel);
            return result;
        }
        finally
        {
            executor._processor.RollbackTransaction(); // a no-op when each step committed
        }
    }
}
