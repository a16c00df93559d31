using FluentMigrator;
using FluentMigrator.Runner;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.DependencyInjection;
using TimeTrack.Migrations.Runner.Databases;
using TimeTrack.Migrations.Runner.Databases.Sqlite;
using TimeTrack.Migrations.Runner.Running;

namespace TimeTrack.Migrations.Runner.Schema;

/// <summary>
/// The schema after each version of the history, read from a scratch database the migrations are
/// applied to: the expected side of adoption and drift checks, taken from the code itself.
/// </summary>
/// <remarks>
/// The scratch database is an in-memory SQLite database, whatever the target: it needs no
/// privilege on the production server and writes nothing there. Its schema is read with SQLite's
/// capabilities (no constraint names, no identity), so comparisons against it check tables,
/// columns, types, lengths, nullability, keys, indexes and enum values — what adoption must verify.
/// </remarks>
public static class HistorySchemas
{
    /// <summary>The schema after every known version up to <paramref name="upTo"/>, in version order.</summary>
    public static async Task<IReadOnlyList<(long Version, DatabaseSchema Schema)>> BuildAsync(MigrationCatalog catalog, long upTo, CancellationToken cancel = default)
    {
        // A named shared in-memory database lives as long as one connection to it is open: ours
        // keeps it alive and reads it; FluentMigrator applies the migrations on its own connection.
        var connectionString = new SqliteConnectionStringBuilder
        {
            DataSource = "timetrack-expected-" + Guid.NewGuid().ToString("N"),
            Mode = SqliteOpenMode.Memory,
            Cache = SqliteCacheMode.Shared,
        }.ConnectionString;
        await using var keepAlive = new SqliteConnection(connectionString);
        await keepAlive.OpenAsync(cancel);

        using var services = FluentMigratorServices.Create(new DatabaseTarget(DatabaseKind.Sqlite, connectionString, "scratch"), catalog.Assembly);
        using var scope = services.CreateScope();
        var runner = (MigrationRunner)scope.ServiceProvider.GetRequiredService<IMigrationRunner>();
        var infos = runner.MigrationLoader.LoadMigrations();

        var result = new List<(long, DatabaseSchema)>();
        foreach (var migration in catalog.Migrations.Where(m => m.Version <= upTo))
        {
            var info = infos[migration.Version];
            runner.ApplyMigrationUp(info, info.TransactionBehavior == TransactionBehavior.Default);
            result.Add((migration.Version, (await SqliteCatalogReader.ReadAsync(keepAlive, cancel)).Without(Database.VersionTable)));
        }

        return result;
    }
}
