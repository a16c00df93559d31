using System.Data.Common;
using System.Diagnostics;
using System.Globalization;
using System.Reflection;
using Microsoft.Data.Sqlite;
using Npgsql;
using TimeTrack.Migrations.Migrations;
using TimeTrack.Migrations.Runner.Databases;
using TimeTrack.Migrations.Runner.Databases.Postgres;
using TimeTrack.Migrations.Runner.Running;
using TimeTrack.Migrations.Runner.Schema;

namespace TimeTrack.Migrations.Tests.Infrastructure;

/// <summary>
/// A real, empty database for one test class: a fresh database on the shared PostgreSQL
/// server, or a new SQLite file in a temporary directory. Dropped or deleted on dispose.
/// </summary>
public abstract class TestDatabase : IAsyncDisposable
{
    public abstract DatabaseKind Provider { get; }

    /// <summary>The URL as a user would pass it to timetrack-migrate.</summary>
    public abstract string Url { get; }

    public DatabaseTarget Target => DatabaseUrl.Parse(Url);

    public static async Task<TestDatabase> CreateAsync(DatabaseKind provider, string prefix = "tt") => provider switch
    {
        DatabaseKind.Postgres => await PostgresTestDatabase.CreateAsync(prefix),
        _ => SqliteTestDatabase.Create(),
    };

    /// <summary>
    /// A database already at head: a copy of one that the runner's step executor migrated once
    /// per test run (a PostgreSQL template, a SQLite file). For tests whose subject is what comes
    /// after head (drift, checks), not the migrating; those that test migrating start empty.
    /// </summary>
    public static async Task<TestDatabase> CreateAtHeadAsync(DatabaseKind provider, string prefix = "tt") => provider switch
    {
        DatabaseKind.Postgres => await PostgresTestDatabase.CreateAtHeadAsync(prefix),
        _ => await SqliteTestDatabase.CreateAtHeadAsync(),
    };

    public abstract DbConnection OpenConnection();

    /// <summary>The migration lock, held as a runner holds it (the provider's own; Conformance/ shows it is exclusive) until disposed.</summary>
    public async Task<IAsyncDisposable> HoldMigrationLockAsync()
    {
        var database = await Database.OpenAsync(Target);
        return new HeldLock(await database.AcquireMigrationLockAsync(TimeSpan.FromSeconds(30), _ => { }), database);
    }

    private sealed class HeldLock(IAsyncDisposable held, Database database) : IAsyncDisposable
    {
        public async ValueTask DisposeAsync()
        {
            await held.DisposeAsync();
            await database.DisposeAsync();
        }
    }

    /// <summary>Restores the pre-migration database of Fixtures/ into this (empty) database.</summary>
    public abstract Task RestoreLegacyFixtureAsync();

    /// <summary>
    /// Brings the database to <paramref name="version"/> (null: head), up or down, in-process through
    /// the runner's own step executor, as `init --to` would (without the lock or the adoption).
    /// <paramref name="migrations"/> may hold only the migrations to add (a generated one): the
    /// versions it does not know are taken as they are.
    /// </summary>
    public async Task MigrateToAsync(long? version = null, Assembly? migrations = null)
    {
        var catalog = MigrationCatalog.FromAssembly(migrations ?? typeof(TimeTrackMigration).Assembly);
        await using var database = await Database.OpenAsync(Target);
        var state = new VersionState(catalog, await database.ReadAppliedVersionsAsync());
        var plan = version is { } v && v < state.Current ? state.PlanRollback(v, null)
            : version == 0 ? []
            : state.PlanUp(version, allowUnknown: true, allowOutOfOrder: false);
        using var recorder = new HistoryRecorder(database.Provider, catalog, new Provenance("tests", null, Environment.MachineName, database.User));
        await StepExecutor.ApplyAsync(new ApplyRequest { Database = database, Catalog = catalog, Recorder = recorder, Plan = plan }, CancellationToken.None);
    }

    /// <summary>The live schema, version table left out.</summary>
    public async Task<DatabaseSchema> ReadSchemaAsync() => (await ReadWholeSchemaAsync()).Without(VersionTable.Name);

    /// <summary>The live schema with the version table, read by the runner's catalog reader.</summary>
    protected virtual async Task<DatabaseSchema> ReadWholeSchemaAsync()
    {
        await using var database = await Database.OpenAsync(Target, readOnly: true);
        return await database.ReadSchemaAsync();
    }

    public virtual async Task<IReadOnlyList<long>> AppliedVersionsAsync()
    {
        await using var database = await Database.OpenAsync(Target);
        return (await database.ReadAppliedVersionsAsync()).Select(v => v.Version).ToList();
    }

    /// <summary>
    /// A connection for a helper's statement, returned when disposed: on PostgreSQL from a pool
    /// of this database's own (a new session costs the server a fork and cold catalog caches,
    /// most of what the suite's helpers cost it), so it must leave no session state behind.
    /// Tests that need a session of their own (a blocker, a lock holder) use OpenConnection.
    /// </summary>
    protected virtual DbConnection OpenHelperConnection() => OpenConnection();

    public async Task<int> ExecuteAsync(string sql)
    {
        await using var connection = OpenHelperConnection();
        await using var command = connection.CreateCommand();
        command.CommandText = sql;
        return await command.ExecuteNonQueryAsync();
    }

    public async Task<long> CountAsync(string sqlOrTable)
    {
        await using var connection = OpenHelperConnection();
        await using var command = connection.CreateCommand();
        command.CommandText = sqlOrTable.Contains(' ') ? sqlOrTable : $"SELECT count(*) FROM {sqlOrTable}";
        return Convert.ToInt64(await command.ExecuteScalarAsync(), CultureInfo.InvariantCulture);
    }

    /// <summary>
    /// Every row of a table as text, sorted: for before/after comparisons. Columns named in
    /// <paramref name="exceptColumns"/> are left out (a column a later migration added).
    /// </summary>
    public abstract Task<IReadOnlyList<string>> SnapshotAsync(string table, params string[] exceptColumns);

    /// <summary>
    /// Everything a command could change: the schema (version table included) and every row of
    /// every table. Equal fingerprints before and after mean the database was left as it was.
    /// </summary>
    public async Task<string> FingerprintAsync()
    {
        if (this is SqliteTestDatabase sqlite && !File.Exists(sqlite.Path))
        {
            return "(no database file)";
        }

        var schema = await ReadWholeSchemaAsync();
        var text = new System.Text.StringBuilder(SchemaComparer.Compare(new DatabaseSchema([], [], [], schema.Capabilities), schema).Render());
        text.AppendLine();
        foreach (var table in schema.Tables)
        {
            text.AppendJoin('\n', await SnapshotAsync(table.Name)).AppendLine();
        }

        return text.ToString();
    }

    /// <summary>A full dump: pg_dump's schema and data on PostgreSQL, the file's bytes on SQLite.</summary>
    public abstract Task<string> DumpAsync();

    public abstract ValueTask DisposeAsync();

    public static string RepositoryRoot => FindRepositoryRoot();

    private static string FindRepositoryRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "TimeTrack.sln")))
            {
                return dir.FullName;
            }
        }

        throw new InvalidOperationException("could not find the repository root (TimeTrack.sln) above " + AppContext.BaseDirectory);
    }

    /// <summary>The legacy fixtures, copied into the repository (Fixtures/README.md) so every clone has them.</summary>
    public static string LegacyFixture(string file) => Path.Combine(RepositoryRoot, "TimeTrack.Migrations.Tests", "Fixtures", file);
}

public sealed class PostgresTestDatabase : TestDatabase
{
    private PostgresTestDatabase(PostgresServer server, string name)
    {
        Server = server;
        Name = name;
        _helpers = new(() => NpgsqlDataSource.Create(server.HelperConnectionStringFor(name)));
    }

    private readonly Lazy<NpgsqlDataSource> _helpers;

    public PostgresServer Server { get; }
    public string Name { get; }
    public override DatabaseKind Provider => DatabaseKind.Postgres;
    public override string Url => Server.UrlFor(Name);

    public static async Task<PostgresTestDatabase> CreateAsync(string prefix)
    {
        var server = await PostgresServer.GetAsync();
        return new PostgresTestDatabase(server, await server.CreateDatabaseAsync(prefix));
    }

    private static readonly Lazy<Task<string>> HeadTemplate = new(() => CreateTemplateAsync("tt_head_template", t => t.MigrateToAsync()));

    /// <summary>
    /// A database filled once per run, for tests to copy (CREATE DATABASE … TEMPLATE). On a
    /// server of the developer's (TIMETRACK_TEST_DATABASE_URL) it is dropped when the run ends.
    /// </summary>
    private static async Task<string> CreateTemplateAsync(string prefix, Func<PostgresTestDatabase, Task> fill)
    {
        var template = await CreateAsync(prefix);
        await fill(template);
        NpgsqlConnection.ClearAllPools(); // a template is copied only while nobody is connected to it
        if (template.Server.Root is null)
        {
            AppDomain.CurrentDomain.ProcessExit += (_, _) => template.Server.DropDatabaseAsync(template.Name).GetAwaiter().GetResult();
        }

        return template.Name;
    }

    public static async Task<PostgresTestDatabase> CreateAtHeadAsync(string prefix)
    {
        var template = await HeadTemplate.Value;
        var server = await PostgresServer.GetAsync();
        return new PostgresTestDatabase(server, await server.CreateDatabaseAsync(prefix, template));
    }

    /// <summary>A session of its own, over TCP with the password as users connect: closed, not pooled, when disposed.</summary>
    public override DbConnection OpenConnection()
    {
        var connection = new NpgsqlConnection(Server.ConnectionStringFor(Name));
        connection.Open();
        return connection;
    }

    protected override DbConnection OpenHelperConnection() => _helpers.Value.OpenConnection();

    /// <summary>On a pooled helper session: a new one per read cost the server a fork and a cold catalog cache.</summary>
    protected override async Task<DatabaseSchema> ReadWholeSchemaAsync()
    {
        await using var connection = await _helpers.Value.OpenConnectionAsync();
        return await PostgresCatalogReader.ReadAsync(connection);
    }

    /// <summary>The versions recorded, read as SQL of its own on a pooled helper session (none when there is no version table).</summary>
    public override async Task<IReadOnlyList<long>> AppliedVersionsAsync()
    {
        await using var connection = await _helpers.Value.OpenConnectionAsync();
        await using var command = new NpgsqlCommand(
            $"SELECT to_regclass('public.\"{VersionTable.Name}\"') IS NOT NULL", connection);
        if (await command.ExecuteScalarAsync() is not true)
        {
            return [];
        }

        command.CommandText = $"SELECT \"Version\" FROM public.\"{VersionTable.Name}\" ORDER BY 1";
        var versions = new List<long>();
        await using var reader = await command.ExecuteReaderAsync();
        while (await reader.ReadAsync())
        {
            versions.Add(reader.GetInt64(0));
        }

        return versions;
    }

    /// <summary>
    /// The legacy fixture restored once per run into a template; each test's copy is a
    /// CREATE DATABASE from it under the test database's name (a file copy, where psql replaying
    /// the dump cost a client process and the server a few hundred statements every time).
    /// </summary>
    public override async Task RestoreLegacyFixtureAsync()
    {
        var template = await LegacyTemplate.Value;
        if (_helpers.IsValueCreated)
        {
            _helpers.Value.Clear(); // its idle connections are to the database dropped here
        }

        await Server.DropDatabaseAsync(Name);
        await Server.CreateDatabaseNamedAsync(Name, template);
    }

    private static readonly Lazy<Task<string>> LegacyTemplate =
        new(() => CreateTemplateAsync("tt_legacy_template", t => t.Server.LoadDumpAsync(t.Name, LegacyFixture("legacy-postgres.sql"))));

    public override async Task<IReadOnlyList<string>> SnapshotAsync(string table, params string[] exceptColumns)
    {
        // Whole rows as jsonb text: enum columns included, which Npgsql cannot read as object.
        await using var connection = OpenHelperConnection();
        await using var command = connection.CreateCommand();
        command.CommandText = $"SELECT (to_jsonb(t) - @except)::text FROM \"{table}\" t ORDER BY 1";
        command.Parameters.Add(new NpgsqlParameter("except", exceptColumns));
        await using var reader = await command.ExecuteReaderAsync();
        var rows = new List<string>();
        while (await reader.ReadAsync())
        {
            rows.Add($"{table}: {reader.GetString(0)}");
        }

        return rows;
    }

    public override async Task<string> DumpAsync()
    {
        var result = await RunnerProcess.RunProgramAsync("pg_dump",
            ["--no-owner", "-h", Server.Host, "-p", Server.Port.ToString(CultureInfo.InvariantCulture), "-U", Server.User, "-d", Name],
            new Dictionary<string, string?> { ["PGPASSWORD"] = Server.Password });
        if (result.ExitCode != 0)
        {
            throw new InvalidOperationException($"pg_dump failed:\n{result}");
        }

        // Newer pg_dump versions open and close the dump with a random \restrict key.
        return string.Join('\n', result.Stdout.Split('\n').Where(l => !l.StartsWith("\\restrict", StringComparison.Ordinal) && !l.StartsWith("\\unrestrict", StringComparison.Ordinal)));
    }

    public override async ValueTask DisposeAsync()
    {
        if (_helpers.IsValueCreated)
        {
            await _helpers.Value.DisposeAsync();
        }

        NpgsqlConnection.ClearAllPools();
        await Server.DropDatabaseAsync(Name);
    }
}

public sealed class SqliteTestDatabase : TestDatabase
{
    private SqliteTestDatabase(string directory) => Directory = directory;

    public string Directory { get; }
    public string Path => System.IO.Path.Combine(Directory, "timetrack.db");
    public override DatabaseKind Provider => DatabaseKind.Sqlite;
    public override string Url => "sqlite:///" + Path; // an absolute path gives sqlite:////...

    public static SqliteTestDatabase Create() =>
        new(System.IO.Directory.CreateTempSubdirectory("timetrack-sqlite-").FullName);

    private static readonly Lazy<Task<SqliteTestDatabase>> Head = new(async () =>
    {
        var head = Create();
        await head.MigrateToAsync();
        SqliteConnection.ClearAllPools();
        AppDomain.CurrentDomain.ProcessExit += (_, _) => head.DisposeAsync().AsTask().GetAwaiter().GetResult();
        return head;
    });

    public static async Task<SqliteTestDatabase> CreateAtHeadAsync()
    {
        var head = await Head.Value;
        var copy = Create();
        File.Copy(head.Path, copy.Path);
        return copy;
    }

    public override DbConnection OpenConnection()
    {
        var connection = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = Path, Pooling = false }.ConnectionString);
        connection.Open();
        return connection;
    }

    public override async Task RestoreLegacyFixtureAsync()
    {
        // The .dump output is plain SQL with its own BEGIN/COMMIT; Microsoft.Data.Sqlite runs
        // every statement of a command text in turn.
        await ExecuteAsync(await File.ReadAllTextAsync(LegacyFixture("legacy-sqlite.sql")));
    }

    public override async Task<IReadOnlyList<string>> SnapshotAsync(string table, params string[] exceptColumns)
    {
        await using var connection = OpenConnection();
        await using var command = connection.CreateCommand();
        command.CommandText = $"SELECT * FROM \"{table}\"";
        await using var reader = await command.ExecuteReaderAsync();
        var rows = new List<string>();
        while (await reader.ReadAsync())
        {
            var values = Enumerable.Range(0, reader.FieldCount)
                .Where(i => !exceptColumns.Contains(reader.GetName(i)))
                .Select(i => reader.GetName(i) + "=" + (reader.IsDBNull(i) ? "NULL" : Convert.ToString(reader.GetValue(i), CultureInfo.InvariantCulture)));
            rows.Add($"{table}: {string.Join("|", values)}");
        }

        rows.Sort(StringComparer.Ordinal);
        return rows;
    }

    public override async Task<string> DumpAsync() =>
        File.Exists(Path) ? Convert.ToHexString(System.Security.Cryptography.SHA256.HashData(await File.ReadAllBytesAsync(Path))) : "(no file)";

    public override ValueTask DisposeAsync()
    {
        SqliteConnection.ClearAllPools();
        System.IO.Directory.Delete(Directory, recursive: true);
        return ValueTask.CompletedTask;
    }
}
