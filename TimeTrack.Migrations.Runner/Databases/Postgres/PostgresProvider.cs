using System.Data;
using FluentMigrator.Runner;
using Npgsql;
using TimeTrack.Migrations.Runner.Output;
using TimeTrack.Migrations.Runner.Schema;

namespace TimeTrack.Migrations.Runner.Databases.Postgres;

/// <summary>PostgreSQL: libpq URLs, Npgsql, FluentMigrator's PostgreSQL 15 generator, scratch schemas.</summary>
public sealed class PostgresProvider : DatabaseProvider
{
    public static PostgresProvider Instance { get; } = new();

    private PostgresProvider()
    {
    }

    public override DatabaseKind Kind => DatabaseKind.Postgres;

    public override string Name => "PostgreSQL";

    public override string UrlExample => "postgresql://user:password@host:5432/database";

    public override async Task<Database> ConnectAsync(DatabaseTarget target, bool readOnly, CancellationToken cancel)
    {
        // This connection reads and writes only built-in scalar types (numbers, text, timestamps;
        // lists come as rows or JSON text): the slim builder without arrays and no type-loading
        // query spare every start most of Npgsql's set-up. FluentMigrator's own connection keeps
        // the full defaults. TLS costs nothing until a server offers it; GSS only when the URL asks for it (gssencmode).
        var builder = new NpgsqlSlimDataSourceBuilder(target.ConnectionString)
            .EnableTransportSecurity()
            .ConfigureTypeLoading(types => types.EnableTypeLoading(false));
        if (target.UsesGss)
        {
            builder.EnableIntegratedSecurity();
        }

        var source = builder.Build();
        var connection = source.CreateConnection();
        try
        {
            await connection.OpenAsync(cancel);
        }
        catch (Exception e) when (PostgresErrors.IsConnectionError(e))
        {
            await connection.DisposeAsync();
            await source.DisposeAsync();
            throw new UserError(ExitCode.ConnectionFailed, await PostgresErrors.DescribeConnectionErrorAsync(e, target), e);
        }

        var database = new PostgresDatabase(target, source, connection);
        try
        {
            await database.ReadSessionFactsAsync(cancel);
            if (database.IsReadOnlyStandby && !readOnly)
            {
                throw new UserError(ExitCode.ConnectionFailed, StandbyMessage);
            }

            await database.AssumeRoleAsync(cancel);

            return database;
        }
        catch
        {
            await database.DisposeAsync();
            throw;
        }
    }

    /// <summary>A server in recovery (pg_is_in_recovery(), not default_transaction_read_only, which a role may set).</summary>
    public const string StandbyMessage =
        "the server is a read-only standby (in recovery): nothing was written. Connect to the primary, " +
        "e.g. with a multi-host URL postgresql://user:password@host1:5432,host2:5432/database?target_session_attrs=primary";

    public override bool IsWorthRetrying(Exception connectionError) => PostgresErrors.IsRetryable(connectionError);

    public override string OfflineConnectionString => "Host=localhost;Database=timetrack_offline";

    public override void AddFluentMigrator(IMigrationRunnerBuilder runner) => runner.AddPostgres15_0();

    /// <summary>SET LOCAL: the settings end with the step's transaction, on commit or rollback. Zero turns one off.</summary>
    public override IReadOnlyList<string> StepTimeoutStatements(TimeSpan? lockTimeout, TimeSpan? statementTimeout) =>
    [
        .. lockTimeout is { } l ? [$"SET LOCAL lock_timeout = '{Milliseconds(l)}ms'"] : Array.Empty<string>(),
        .. statementTimeout is { } s ? [$"SET LOCAL statement_timeout = '{Milliseconds(s)}ms'"] : Array.Empty<string>(),
    ];

    /// <summary>synchronous_commit off for the step's transaction only (any role may set it).</summary>
    public override IReadOnlyList<string> UnflushedCommitStatements { get; } = ["SET LOCAL synchronous_commit = off"];

    private static long Milliseconds(TimeSpan t) => t <= TimeSpan.Zero ? 0 : Math.Max(1, (long)t.TotalMilliseconds);

    public override bool IsLockTimeout(Exception e) =>
        PostgresErrors.Find<PostgresException>(e)?.SqlState == PostgresErrorCodes.LockNotAvailable;

    public override string? DescribeStatementError(Exception e) =>
        PostgresErrors.Find<PostgresException>(e) is { } pg ? $"{pg.SqlState}: {pg.MessageText}" : PostgresErrors.DescribeLostConnection(e);

    public override UserError? Classify(Exception e, DatabaseTarget target) => PostgresErrors.Classify(e, target);

    public override bool IsConnectionLost(Exception e) => PostgresErrors.IsConnectionLost(e);

    public override bool IsPrivilegeDenied(Exception e) => PostgresErrors.IsPrivilegeDenied(e);

    public override string? FenceBroken(Exception e) =>
        PostgresErrors.Find<PostgresException>(e) is { SqlState: PostgresErrors.FenceBroken } pg ? pg.MessageText : null;

    public override Task CheckPrivilegesAsync(Database database, Running.HistoryRecorder recorder, IReadOnlyList<Running.PlannedStep> plan, CancellationToken cancel) =>
        PostgresPrivileges.CheckAsync((PostgresDatabase)database, recorder, plan, cancel);

    public override Task CheckVersionTablePrivilegesAsync(Database database, CancellationToken cancel) =>
        PostgresPrivileges.CheckVersionTableAsync((PostgresDatabase)database, cancel);

    public override string ColumnType(VersionColumnType type) => type switch
    {
        VersionColumnType.BigInteger => "bigint",
        VersionColumnType.Timestamp => "timestamp",
        VersionColumnType.Text => "text",
        _ => "varchar(1024)",
    };

    // FluentMigrator's version table lives in "public", whatever the search_path says.
    public override string QualifiedTableName(string table) => $"\"public\".\"{table}\"";

    public override string RowIdentity => "ctid";

    public override DatabaseSchema EmptySchema => new([], [], [], SchemaCapabilities.Postgres);

    /// <summary>pg_dump's custom format, as pg_restore expects it.</summary>
    public override string BackupExtension => ".dump";

    public override string BackupName(DatabaseTarget target) => new NpgsqlConnectionStringBuilder(target.ConnectionString).Database ?? "postgres";

    /// <summary>pg_dump's custom format ("PGDMP", pg_backup_archiver.c).</summary>
    public override (byte[] Signature, string Format) BackupSignature { get; } = ("PGDMP"u8.ToArray(), "a pg_dump custom-format archive");

    public override Task<ScratchDatabase> OpenScratchAsync(Database? live, CancellationToken cancel) =>
        PostgresScratchSchema.OpenAsync(
            live as PostgresDatabase ?? throw new InvalidOperationException("PostgreSQL builds expected schemas on the live server"), cancel);
}

/// <summary>
/// The schema after each version of the history, built natively on the target server: the
/// migrations are applied to the session's temporary schema (pg_temp) inside one transaction
/// that is always rolled back, and read back with the same catalog reader as the live database.
/// So the comparison sees what only PostgreSQL has — constraint names, serial defaults, default
/// expressions, enum types.
/// </summary>
/// <remarks>
/// Nothing outlives the check, and nothing persistent is created even inside it: temporary
/// tables, types and sequences exist only in this session's transaction (a killed runner's is
/// rolled back by the server). So it needs no CREATE anywhere, only TEMPORARY on the database,
/// which PUBLIC has by default: a read-only role can run <c>check --database-url</c>, and the
/// migrating role adopt a database, without CREATE on the database.
/// FluentMigrator puts expressions without a schema in pg_temp (its default schema), and raw SQL
/// (CREATE TYPE, data steps) finds it through <c>SET LOCAL search_path</c>. Steps that normally
/// run outside a transaction use their transactional form
/// (<see cref="TimeTrack.Migrations.Migrations.ExpectedSchemaBuild"/>).
/// </remarks>
internal sealed class PostgresScratchSchema : ScratchDatabase
{
    private const string TemporarySchema = "pg_temp";

    private readonly Database _live;

    /// <summary>pg_temp_N, once the first temporary object made it exist in this session.</summary>
    private string? _schema;

    private PostgresScratchSchema(Database live) => _live = live;

    /// <summary>Refuses (exit 5, saying which privilege) a role that may not create temporary objects.</summary>
    public static async Task<ScratchDatabase> OpenAsync(PostgresDatabase live, CancellationToken cancel)
    {
        await using var command = new NpgsqlCommand("SELECT has_database_privilege(current_database(), 'TEMPORARY'), current_user::text, current_database()::text", live.Connection);
        await using var reader = await command.ExecuteReaderAsync(cancel);
        await reader.ReadAsync(cancel);
        if (!reader.GetBoolean(0))
        {
            throw new UserError(ExitCode.Refused,
                $"role {reader.GetString(1)} lacks TEMPORARY on database {reader.GetString(2)}: the expected schema (check --database-url, adopting a database) " +
                "is built in temporary tables that are rolled back. Grant it (GRANT TEMPORARY ON DATABASE ...); 'check --model-only' needs no privilege");
        }

        return new PostgresScratchSchema(live);
    }

    public override string ConnectionString => _live.StepConnectionString;

    public override string? DefaultSchema => TemporarySchema;

    public override bool InOneTransaction => true;

    public override void SetUp(Action<string> execute)
    {
        // --role: the expected schema is built as the role the migrations run as, for this transaction only.
        if (_live.Target.SetRoleStatement(local: true) is { } role)
        {
            execute(role);
        }

        // Only the temporary schema (pg_catalog is always searched): with "public" on the path, a
        // raw statement such as DROP INDEX IF EXISTS would find the live object when the scratch
        // one is missing, and lock it until the rollback. Unqualified CREATEs land in pg_temp.
        execute($"SET LOCAL search_path TO {TemporarySchema}");
    }

    public override async Task<DatabaseSchema> ReadAsync(IDbConnection stepConnection, CancellationToken cancel) =>
        await PostgresCatalogReader.ReadAsync((NpgsqlConnection)stepConnection, await SchemaNameAsync((NpgsqlConnection)stepConnection, cancel), cancel);

    /// <summary>The session's temporary schema by name (pg_temp_N), for the catalog reader; "pg_temp" (no such name: nothing) until it exists.</summary>
    private async Task<string> SchemaNameAsync(NpgsqlConnection connection, CancellationToken cancel)
    {
        if (_schema is null)
        {
            await using var command = new NpgsqlCommand("SELECT nspname::text FROM pg_namespace WHERE oid = pg_my_temp_schema()", connection);
            _schema = await command.ExecuteScalarAsync(cancel) as string;
        }

        return _schema ?? TemporarySchema;
    }

    public override async Task<IReadOnlySet<(string Table, string Column)>?> ReadColumnNamesAsync(IDbConnection stepConnection, CancellationToken cancel)
    {
        await using var command = new NpgsqlCommand(
            """
            SELECT c.relname::text, a.attname::text FROM pg_class c
            JOIN pg_namespace n ON n.oid = c.relnamespace
            JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
            WHERE n.nspname = @schema AND c.relkind IN ('r', 'p')
            """, (NpgsqlConnection)stepConnection);
        command.Parameters.AddWithValue("schema", await SchemaNameAsync((NpgsqlConnection)stepConnection, cancel));
        var names = new HashSet<(string, string)>();
        await using var reader = await command.ExecuteReaderAsync(cancel);
        while (await reader.ReadAsync(cancel))
        {
            names.Add((reader.GetString(0), reader.GetString(1)));
        }

        return names;
    }
}
