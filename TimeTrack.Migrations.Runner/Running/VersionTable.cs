using System.Data.Common;
using FluentMigrator.Runner;
using Microsoft.Extensions.DependencyInjection;
using TimeTrack.Migrations.Runner.Databases;

namespace TimeTrack.Migrations.Runner.Running;

/// <summary>Writes the version table directly, for stamping (no migration runs).</summary>
public sealed class VersionTable(Database database, MigrationCatalog catalog)
{
    /// <summary>Records <paramref name="record"/> and deletes <paramref name="remove"/> in one transaction.</summary>
    public async Task StampAsync(IReadOnlyList<KnownMigration> record, IReadOnlyList<long> remove, CancellationToken cancel)
    {
        try
        {
            await WriteAsync(record, remove, cancel);
        }
        catch (Exception e) when (database.IsLockedByAnotherProcess(e))
        {
            throw new Output.UserError(Output.ExitCode.LockTimeout,
                $"another process held a write lock on the database for more than {database.BusyTimeout.TotalSeconds:0} s (--lock-timeout); nothing was stamped", e);
        }
    }

    private async Task WriteAsync(IReadOnlyList<KnownMigration> record, IReadOnlyList<long> remove, CancellationToken cancel)
    {
        await EnsureExistsAsync(cancel);
        var connection = database.DbConnection;

        await using var transaction = await connection.BeginTransactionAsync(cancel);
        foreach (var version in remove)
        {
            await using var delete = connection.CreateCommand();
            delete.Transaction = transaction;
            delete.CommandText = $"DELETE FROM \"{Database.VersionTable}\" WHERE \"Version\" = @v";
            AddParameter(delete, "@v", version);
            await delete.ExecuteNonQueryAsync(cancel);
        }

        foreach (var migration in record)
        {
            await using var insert = connection.CreateCommand();
            insert.Transaction = transaction;
            insert.CommandText = $"INSERT INTO \"{Database.VersionTable}\" (\"Version\", \"AppliedOn\", \"Description\") VALUES (@v, @on, @d)";
            AddParameter(insert, "@v", migration.Version);
            AddParameter(insert, "@on", DateTime.UtcNow);
            AddParameter(insert, "@d", migration.Description);
            await insert.ExecuteNonQueryAsync(cancel);
        }

        await transaction.CommitAsync(cancel);
    }

    /// <summary>FluentMigrator creates its version table (and index) when its loader starts; we hold the lock.</summary>
    private Task EnsureExistsAsync(CancellationToken cancel)
    {
        using var services = FluentMigratorServices.Create(
            database.Target with { ConnectionString = database.MigrationConnectionString }, catalog.Assembly);
        using var scope = services.CreateScope();
        _ = scope.ServiceProvider.GetRequiredService<IVersionLoader>();
        return Task.CompletedTask;
    }

    private static void AddParameter(DbCommand command, string name, object value)
    {
        var parameter = command.CreateParameter();
        parameter.ParameterName = name;
        parameter.Value = value;
        command.Parameters.Add(parameter);
    }
}
