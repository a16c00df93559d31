using System.Data;
using FluentMigrator.Runner;
using Microsoft.Data.Sqlite;
using TimeTrack.Migrations.Runner.Commands;
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
        RefuseWhatIsNotADatabase(target.SqlitePath!);
        var existed = File.Exists(target.SqlitePath);
        SqliteConnection? connection = null;
        try
        {
            if (readOnly)
            {
                connection = await SqliteHotJournal.OpenReadOnlyAsync(ReadOnlyConnectionString(target), target, cancel);
            }
            else
            {
                connection = new SqliteConnection(target.ConnectionString);
                await connection.OpenAsync(cancel);
            }

            return new SqliteDatabase(target, connection) { CreatedByOpen = !existed && !readOnly };
        }
        catch (SqliteException e)
        {
            if (connection is not null)
            {
                await connection.DisposeAsync();
            }

            throw new UserError(ExitCode.ConnectionFailed, $"could not open SQLite database {target.SqlitePath}: {e.Message}", e);
        }
    }

    // SQLite's file header: https://www.sqlite.org/fileformat.html#the_database_header
    private static readonly byte[] Header = "SQLite format 3\0"u8.ToArray();

    /// <summary>
    /// An existing file that is not a SQLite database (sqlite:////etc/shadow, /dev/null) is refused
    /// before SQLite opens it, which could write a journal beside it or into it: exit 2, nothing touched.
    /// </summary>
    internal static void RefuseWhatIsNotADatabase(string path)
    {
        if (!File.Exists(path))
        {
            return; // created by the run (or read as empty)
        }

        if (FileKind.Of(path) is { } kind && kind != FileKind.Regular)
        {
            throw UserError.Invalid($"SQLite path '{path}' {FileKind.Describe(kind)}, not a database file");
        }

        var start = new byte[Header.Length];
        int read;
        try
        {
            using var file = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
            read = file.ReadAtLeast(start, start.Length, throwOnEndOfStream: false);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new UserError(ExitCode.ConnectionFailed, $"could not open SQLite database {path}: {(e is UnauthorizedAccessException ? "permission denied" : "it cannot be read")}", e);
        }

        // An empty file is a database with nothing in it, as SQLite itself takes it.
        if (read > 0 && !start.AsSpan(0, read).SequenceEqual(Header))
        {
            throw UserError.Invalid($"'{path}' is not a SQLite database (it does not start with SQLite's header): check the path; nothing was written to it");
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

    // SQLite's primary result codes: https://www.sqlite.org/rescode.html
    private const int NotADatabase = 26;
    private const int CannotOpen = 14;

    public override UserError? Classify(Exception e, DatabaseTarget target) => Postgres.PostgresErrors.Find<SqliteException>(e)?.SqliteErrorCode switch
    {
        NotADatabase => UserError.Invalid($"'{target.SqlitePath}' is not a SQLite database: check the path; nothing was written to it"),
        CannotOpen => new UserError(ExitCode.ConnectionFailed, $"could not open SQLite database {target.SqlitePath} (permissions, or its directory is not writable)", e),
        _ => null,
    };

    public override string ColumnType(VersionColumnType type) => type switch
    {
        VersionColumnType.BigInteger => "INTEGER",
        VersionColumnType.Timestamp => "DATETIME",
        _ => "TEXT",
    };

    public override string QualifiedTableName(string table) => $"\"{table}\"";

    public override string RowIdentity => "rowid";

    public override DatabaseSchema EmptySchema => new([], [], [], SchemaCapabilities.Sqlite);

    /// <summary>A backup is a SQLite database file, as the sqlite3 shell and any SQLite library open it.</summary>
    public override string BackupExtension => ".db";

    public override string BackupName(DatabaseTarget target) => Path.GetFileNameWithoutExtension(target.SqlitePath) ?? "sqlite";

    /// <summary>The SQLite file header (fileformat2.html, "The Database Header").</summary>
    public override (byte[] Signature, string Format) BackupSignature { get; } = ("SQLite format 3\0"u8.ToArray(), "an SQLite database");

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
