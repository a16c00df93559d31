using TimeTrack.Migrations.Runner.Databases.Postgres;
using TimeTrack.Migrations.Runner.Databases.Sqlite;
using TimeTrack.Migrations.Runner.Schema;

namespace TimeTrack.Migrations.Runner.Databases;

/// <summary>
/// An open connection to the database being migrated, and everything that differs between
/// PostgreSQL and SQLite outside of FluentMigrator: connecting (with clear errors), the
/// migration lock, reading the catalog and the version table.
/// </summary>
public abstract class Database : IAsyncDisposable
{
    public const string VersionTable = "VersionInfo";

    protected Database(DatabaseTarget target) => Target = target;

    public DatabaseTarget Target { get; }

    /// <summary>Connects, or throws a <see cref="Output.UserError"/> with exit code 3 saying why not.</summary>
    public static async Task<Database> OpenAsync(DatabaseTarget target, CancellationToken cancel = default) => target.Provider switch
    {
        DatabaseProvider.Postgres => await PostgresDatabase.ConnectAsync(target, cancel),
        _ => await SqliteDatabase.ConnectAsync(target, cancel),
    };

    /// <summary>The schema as it is now, version table included.</summary>
    public abstract Task<DatabaseSchema> ReadSchemaAsync(CancellationToken cancel = default);

    /// <summary>True when the version table exists (checked in the catalog, never by creating it).</summary>
    public abstract Task<bool> HasVersionTableAsync(CancellationToken cancel = default);

    /// <summary>The applied migrations recorded in the version table, oldest first; empty when it does not exist.</summary>
    public abstract Task<IReadOnlyList<AppliedVersion>> ReadAppliedVersionsAsync(CancellationToken cancel = default);

    public abstract ValueTask DisposeAsync();
}

/// <summary>One row of the version table.</summary>
public sealed record AppliedVersion(long Version, DateTime? AppliedOn, string? Description);
