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
        // This connection reads only built-in types (numbers, text, timestamps, text arrays): the
        // slim builder and no type-loading query spare the container-restart path most of
        // Npgsql's set-up. FluentMigrator's own connection keeps the full defaults. TLS costs
        // nothing until a server offers it; GSS only when the URL asks for it (gssencmode).
        var builder = new NpgsqlSlimDataSourceBuilder(target.ConnectionString)
            .EnableArrays()
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
        PostgresErrors.Find<PostgresException>(e) is { } pg ? $"{pg.SqlState}: {pg.MessageText}" : null;

    public override UserError? Classify(Exception e, DatabaseTarget target) => PostgresErrors.Classify(e, target);

    public override bool IsConnectionLost(Exception e) => PostgresErrors.IsConnectionLost(e);

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
        Task.FromResult<ScratchDatabase>(new PostgresScratchSchema(
            live ?? throw new InvalidOperationException("PostgreSQL builds expected schemas on the live server")));
}

/// <summary>
/// The schema after each version of the history, built natively on the target server: the
/// migrations are applied to a scratch schema inside one transaction that is always rolled back,
/// and read back with the same catalog reader as the live database. So the comparison sees what
/// only PostgreSQL has — constraint names, serial defaults, default expressions, enum types.
/// </summary>
/// <remarks>
/// Nothing outlives the check: the scratch schema, its tables and types exist only inside the
/// transaction (a killed runner's transaction is rolled back by the server). It needs CREATE on
/// the database (to create the scratch schema), which the owner of the database has.
/// FluentMigrator puts expressions without a schema in the scratch schema (its default schema),
/// and raw SQL (CREATE TYPE, data steps) finds it through <c>SET LOCAL search_path</c>. Steps
/// that normally run outside a transaction use their transactional form
/// (<see cref="TimeTrack.Migrations.Migrations.ExpectedSchemaBuild"/>).
/// </remarks>
internal sealed class PostgresScratchSchema(Database live) : ScratchDatabase
{
    // A unique name: two checks on one database never meet (and neither would see the other's
    // uncommitted schema anyway). Lower case, so it needs no quoting rules beyond the usual.
    private readonly string _schema = "timetrack_expected_" + Guid.NewGuid().ToString("N")[..16];

    public override string ConnectionString => live.StepConnectionString;

    public override string? DefaultSchema => _schema;

    public override bool InOneTransaction => true;

    public override void SetUp(Action<string> execute)
    {
        try
        {
            execute($"CREATE SCHEMA \"{_schema}\"");
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
        execute($"SET LOCAL search_path TO \"{_schema}\"");
    }

    public override Task<DatabaseSchema> ReadAsync(IDbConnection stepConnection, CancellationToken cancel) =>
        PostgresCatalogReader.ReadAsync((NpgsqlConnection)stepConnection, _schema, cancel);

    public override async Task<IReadOnlySet<(string Table, string Column)>?> ReadColumnNamesAsync(IDbConnection stepConnection, CancellationToken cancel)
    {
        await using var command = new NpgsqlCommand(
            """
            SELECT c.relname::text, a.attname::text FROM pg_class c
            JOIN pg_namespace n ON n.oid = c.relnamespace
            JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
            WHERE n.nspname = @schema AND c.relkind IN ('r', 'p')
            """, (NpgsqlConnection)stepConnection);
        command.Parameters.AddWithValue("schema", _schema);
        var names = new HashSet<(string, string)>();
        await using var reader = await command.ExecuteReaderAsync(cancel);
        while (await reader.ReadAsync(cancel))
        {
            names.Add((reader.GetString(0), reader.GetString(1)));
        }

        return names;
    }
}
