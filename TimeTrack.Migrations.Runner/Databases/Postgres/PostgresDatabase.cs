using Npgsql;
using TimeTrack.Migrations.Runner.Output;
using TimeTrack.Migrations.Runner.Schema;

namespace TimeTrack.Migrations.Runner.Databases.Postgres;

public sealed class PostgresDatabase : Database
{
    internal PostgresDatabase(DatabaseTarget target, NpgsqlDataSource source, NpgsqlConnection connection) : base(target)
    {
        _source = source;
        Connection = connection;
    }

    private readonly NpgsqlDataSource _source;

    public NpgsqlConnection Connection { get; }

    public override System.Data.Common.DbConnection DbConnection => Connection;

    public override string? User => Connection.UserName;

    // Any constant works as long as every runner uses the same one: "TimeTrac" in ASCII.
    public const long MigrationLockKey = 0x54696D6554726163;

    public override string StepConnectionString
    {
        get
        {
            // Since PostgreSQL 14 the server can notice a vanished client during a long statement
            // and roll back its transaction: a runner killed mid-migration leaves nothing half done
            // and no locks held for minutes. Older servers reject the setting, so ask first.
            if (Connection.PostgreSqlVersion.Major < 14)
            {
                return Target.ConnectionString;
            }

            var builder = new NpgsqlConnectionStringBuilder(Target.ConnectionString);
            builder.Options = string.Join(' ', new[] { builder.Options, "-c client_connection_check_interval=1000" }.Where(o => !string.IsNullOrEmpty(o)));
            return builder.ConnectionString;
        }
    }

    public override async Task<IAsyncDisposable> AcquireMigrationLockAsync(TimeSpan timeout, Action<string> onWaiting, CancellationToken cancel = default)
    {
        // A session-level advisory lock on this connection, which stays idle while the migrations
        // run on FluentMigrator's own connection. Waiters poll pg_try_advisory_lock instead of
        // blocking in pg_advisory_lock: a blocked waiter holds a snapshot, and CREATE INDEX
        // CONCURRENTLY in the holder would wait for it forever.
        var deadline = DateTime.UtcNow + timeout;
        var told = false;
        while (true)
        {
            await using (var command = new NpgsqlCommand("SELECT pg_try_advisory_lock(@key)", Connection))
            {
                command.Parameters.AddWithValue("key", MigrationLockKey);
                if ((bool)(await command.ExecuteScalarAsync(cancel))!)
                {
                    return new AdvisoryLock(Connection);
                }
            }

            if (DateTime.UtcNow >= deadline)
            {
                throw LockTimeout(timeout);
            }

            if (!told)
            {
                onWaiting($"another runner is migrating this database; waiting for its lock (up to {timeout.TotalSeconds:0} s)");
                told = true;
            }

            await Task.Delay(TimeSpan.FromMilliseconds(Math.Min(500, Math.Max(10, (deadline - DateTime.UtcNow).TotalMilliseconds))), cancel);
        }
    }

    private sealed class AdvisoryLock(NpgsqlConnection connection) : IAsyncDisposable
    {
        public async ValueTask DisposeAsync()
        {
            if (connection.State == System.Data.ConnectionState.Open)
            {
                await using var command = new NpgsqlCommand("SELECT pg_advisory_unlock(@key)", connection);
                command.Parameters.AddWithValue("key", MigrationLockKey);
                await command.ExecuteScalarAsync();
            }
        }
    }

    public override Task<DatabaseSchema> ReadSchemaAsync(CancellationToken cancel = default) =>
        PostgresCatalogReader.ReadAsync(Connection, cancel);

    public override async Task<bool> HasTableAsync(string table, CancellationToken cancel = default)
    {
        await using var command = new NpgsqlCommand(
            "SELECT EXISTS (SELECT 1 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'public' AND c.relname = @name AND c.relkind = 'r')",
            Connection);
        command.Parameters.AddWithValue("name", table);
        return (bool)(await command.ExecuteScalarAsync(cancel))!;
    }

    /// <summary>
    /// While a step runs, this connection is shared by the statement canceller (a signal) and the
    /// lock-wait monitor, each from a task of its own: one command at a time.
    /// </summary>
    private readonly SemaphoreSlim _busy = new(1, 1);

    /// <summary>pg_cancel_backend on the step's backend, sent from this (idle) connection.</summary>
    public override async Task CancelStatementAsync(System.Data.IDbConnection stepConnection)
    {
        if (stepConnection is NpgsqlConnection { State: System.Data.ConnectionState.Open } step)
        {
            await _busy.WaitAsync();
            try
            {
                await using var command = new NpgsqlCommand("SELECT pg_cancel_backend(@pid)", Connection);
                command.Parameters.AddWithValue("pid", step.ProcessID);
                await command.ExecuteScalarAsync();
            }
            finally
            {
                _busy.Release();
            }
        }
    }

    /// <summary>
    /// pg_blocking_pids of the step's backend (the sessions holding a lock it waits for, or queued
    /// ahead of it; for CREATE INDEX CONCURRENTLY the transactions it waits out), with what
    /// pg_stat_activity says of them: never the query text, which can carry literal values.
    /// </summary>
    public override async Task<IReadOnlyList<LockBlocker>> FindBlockersAsync(System.Data.IDbConnection stepConnection)
    {
        if (stepConnection is not NpgsqlConnection { State: System.Data.ConnectionState.Open } step)
        {
            return [];
        }

        await _busy.WaitAsync();
        try
        {
            await using var command = new NpgsqlCommand(
                """
                SELECT a.pid, a.application_name::text, a.usename::text, a.state::text,
                       extract(epoch FROM clock_timestamp() - a.xact_start)::float8
                FROM unnest(pg_blocking_pids(@pid)) AS b(pid)
                JOIN pg_stat_activity a ON a.pid = b.pid
                ORDER BY a.xact_start NULLS LAST, a.pid
                """, Connection);
            command.Parameters.AddWithValue("pid", step.ProcessID);
            var blockers = new List<LockBlocker>();
            await using var reader = await command.ExecuteReaderAsync();
            while (await reader.ReadAsync())
            {
                blockers.Add(new LockBlocker(
                    reader.GetInt32(0),
                    reader.IsDBNull(1) ? null : reader.GetString(1),
                    reader.IsDBNull(2) ? null : reader.GetString(2),
                    reader.IsDBNull(3) ? null : reader.GetString(3),
                    reader.IsDBNull(4) ? null : TimeSpan.FromSeconds(reader.GetDouble(4))));
            }

            return blockers;
        }
        finally
        {
            _busy.Release();
        }
    }

    public override async ValueTask DisposeAsync()
    {
        _busy.Dispose();
        await Connection.DisposeAsync();
        await _source.DisposeAsync();
    }
}
