using System.Data;
using FluentMigrator.Runner;
using Microsoft.Data.Sqlite;
using TimeTrack.Migrations.Runner.Output;
using TimeTrack.Migrations.Runner.Schema;

namespace TimeTrack.Migrations.Runner.Databases.Sqlite;

/// <summary>SQLite: a file path URL, Microsoft.Data.Sqlite, FluentMigrator's SQLite generator, in-memory scratch databases.</summary>
public sealed class SqliteProvider : DatabaseProvider
{
    public static SqliteProvider Instance { get; } = new();

    private SqliteProvider()
    {
    }

    public override DatabaseKind Kind => DatabaseKind.Sqlite;

    public override string Name => "SQLite";

    public override string UrlExample => "sqlite:///relative.db or sqlite:////absolute/path.db";

    public override async Task<Database> ConnectAsync(DatabaseTarget target, bool readOnly, CancellationToken cancel)
    {
        var connection = new SqliteConnection(readOnly ? ReadOnlyConnectionString(target) : target.ConnectionString);
        try
        {
            await connection.OpenAsync(cancel);
            return new SqliteDatabase(target, connection);
        }
        catch (SqliteException e)
        {
            await connection.DisposeAsync();
            throw new UserError(ExitCode.ConnectionFailed, $"could not open SQLite database {target.SqlitePath}: {e.Message}", e);
        }
    }

    /// <summary>
    /// Read-only access that creates nothing: the file opened read-only, or, when it does not
    /// exist yet, an empty in-memory database that reads exactly like the empty file would.
    /// </summary>
    public static string ReadOnlyConnectionString(DatabaseTarget target) =>
        File.Exists(target.SqlitePath)
            ? new SqliteConnectionStringBuilder(target.ConnectionString) { Mode = SqliteOpenMode.ReadOnly }.ConnectionString
            : "Data Source=:memory:";

    public override string PreviewConnectionString(DatabaseTarget target) => ReadOnlyConnectionString(target);

    public override string OfflineConnectionString => "Data Source=:memory:";

    public override void AddFluentMigrator(IMigrationRunnerBuilder runner) => runner.AddSQLite();

    /// <summary>
    /// SQLite changes a table by rebuilding it, which needs foreign key enforcement off, and that
    /// can only be switched outside a transaction: so migrations run with it off (as Django's and
    /// Alembic's SQLite support do), and a rebuild checks every key before commit.
    /// </summary>
    internal static string WithoutForeignKeyEnforcement(string connectionString) =>
        new SqliteConnectionStringBuilder(connectionString) { ForeignKeys = false }.ConnectionString;

    public override string? DescribeStatementError(Exception e)
    {
        for (var inner = e; inner is not null; inner = inner.InnerException)
        {
            if (inner is SqliteException sqlite)
            {
                return sqlite.Message.Replace("SQLite Error ", "SQLite error ", StringComparison.Ordinal);
            }
        }

        return null;
    }

    public override string ColumnType(VersionColumnType type) => type switch
    {
        VersionColumnType.BigInteger => "INTEGER",
        VersionColumnType.Timestamp => "DATETIME",
        _ => "TEXT",
    };

    public override string QualifiedTableName(string table) => $"\"{table}\"";

    public override DatabaseSchema EmptySchema => new([], [], [], SchemaCapabilities.Sqlite);

    /// <summary>A backup is a SQLite database file, as the sqlite3 shell and any SQLite library open it.</summary>
    public override string BackupExtension => ".db";

    public override string BackupName(DatabaseTarget target) => Path.GetFileNameWithoutExtension(target.SqlitePath) ?? "sqlite";

    public override async Task<ScratchDatabase> OpenScratchAsync(Database? live, CancellationToken cancel)
    {
        var scratch = new SqliteScratchDatabase();
        await scratch.KeepAlive.OpenAsync(cancel);
        return scratch;
    }
}

/// <summary>
/// A named shared in-memory database: it lives as long as one connection to it is open. Ours keeps
/// it alive and reads it; FluentMigrator applies the migrations on its own connection, each step
/// committing (SQLite cannot read the schema on another command while a transaction is open on
/// the connection, and nothing of an in-memory database outlives it anyway).
/// </summary>
internal sealed class SqliteScratchDatabase : ScratchDatabase
{
    private readonly string _connectionString = new SqliteConnectionStringBuilder
    {
        DataSource = "timetrack-expected-" + Guid.NewGuid().ToString("N"),
        Mode = SqliteOpenMode.Memory,
        Cache = SqliteCacheMode.Shared,
    }.ConnectionString;

    public SqliteScratchDatabase() => KeepAlive = new SqliteConnection(_connectionString);

    public SqliteConnection KeepAlive { get; }

    public override string ConnectionString => SqliteProvider.WithoutForeignKeyEnforcement(_connectionString);

    public override bool InOneTransaction => false;

    public override Task<DatabaseSchema> ReadAsync(IDbConnection stepConnection, CancellationToken cancel) =>
        SqliteCatalogReader.ReadAsync(KeepAlive, cancel);

    public override ValueTask DisposeAsync() => KeepAlive.DisposeAsync();
}
