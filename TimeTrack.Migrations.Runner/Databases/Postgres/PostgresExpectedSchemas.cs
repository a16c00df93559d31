using FluentMigrator.Runner;
using FluentMigrator.Runner.Processors;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;
using TimeTrack.Migrations.Runner.Output;
using TimeTrack.Migrations.Runner.Running;
using TimeTrack.Migrations.Runner.Schema;

namespace TimeTrack.Migrations.Runner.Databases.Postgres;

/// <summary>
/// The schema after each version of the history, built natively on the target server: the
/// migrations are applied to a scratch schema inside one transaction that is always rolled back,
/// and read back with the same catalog reader as the live database. So the comparison sees what
/// only PostgreSQL has — constraint names, serial defaults, default expressions, enum types.
/// </summary>
/// <remarks>
/// Nothing outlives the check: the scratch schema, its tables, types and version table exist only
/// inside the transaction (a killed runner's transaction is rolled back by the server). It needs
/// CREATE on the database (to create the scratch schema), which the owner of the database has.
/// FluentMigrator puts expressions without a schema in the scratch schema (its convention set's
/// default schema name), and raw SQL (CREATE TYPE, data steps) finds it through
/// <c>SET LOCAL search_path</c>. Steps that normally run outside a transaction use their
/// transactional form (<see cref="TimeTrack.Migrations.Migrations.ExpectedSchemaBuild"/>).
/// </remarks>
public static class PostgresExpectedSchemas
{
    public static async Task<IReadOnlyList<(long Version, DatabaseSchema Schema)>> BuildAsync(
        PostgresDatabase database, MigrationCatalog catalog, long upTo, CancellationToken cancel)
    {
        // A unique name: two checks on one database never meet (and neither would see the other's
        // uncommitted schema anyway). Lower case, so it needs no quoting rules beyond the usual.
        var scratch = "timetrack_expected_" + Guid.NewGuid().ToString("N")[..16];
        using var services = FluentMigratorServices.Create(
            database.Target with { ConnectionString = database.MigrationConnectionString },
            catalog.Assembly,
            new FluentMigratorServices.Options { ExpectedSchemaIn = scratch });
        using var scope = services.CreateScope();
        var runner = (MigrationRunner)scope.ServiceProvider.GetRequiredService<IMigrationRunner>();
        var processor = (GenericProcessorBase)runner.Processor;
        var infos = runner.MigrationLoader.LoadMigrations();

        // One scope = one transaction; every migration below joins it instead of committing its own.
        var transaction = runner.BeginScope();
        try
        {
            try
            {
                processor.Execute($"CREATE SCHEMA \"{scratch}\"");
            }
            catch (Exception e) when (PostgresErrors.Find<PostgresException>(e)?.SqlState == PostgresErrorCodes.InsufficientPrivilege)
            {
                throw new UserError(ExitCode.MigrationFailed,
                    "cannot build the expected schema: the role may not create a scratch schema (it needs CREATE on the database, " +
                    "as the database's owner has; the schema lives only in a transaction that is rolled back)", e);
            }

            // Only the scratch schema (pg_catalog is always searched): with "public" on the path, a
            // raw statement such as DROP INDEX IF EXISTS would find the live object when the scratch
            // one is missing, and lock it until the rollback.
            processor.Execute($"SET LOCAL search_path TO \"{scratch}\"");
            var connection = (NpgsqlConnection)processor.Connection;
            var result = new List<(long, DatabaseSchema)>();
            foreach (var migration in catalog.Migrations.Where(m => m.Version <= upTo))
            {
                cancel.ThrowIfCancellationRequested();
                runner.ApplyMigrationUp(infos[migration.Version], useTransaction: true);
                var schema = await PostgresCatalogReader.ReadAsync(connection, scratch, cancel);
                result.Add((migration.Version, schema.Without(Database.VersionTable)));
            }

            return result;
        }
        finally
        {
            transaction.Cancel(); // always: the scratch schema never outlives the check
        }
    }
}
