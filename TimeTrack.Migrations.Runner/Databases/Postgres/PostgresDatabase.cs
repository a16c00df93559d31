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

    /// <summary>The channel a runner NOTIFYs when it releases the migration lock; waiters LISTEN on it.</summary>
    public const string LockReleasedChannel = "timetrack_migrate_lock_released";

    /// <summary>
    /// How often a waiter tries again without a notification: a killed holder's lock (or an older
    /// runner's) goes with its session, unannounced. Settable for the tests that prove the
    /// notification is what wakes a waiter.
    /// </summary>
    public TimeSpan LockPollInterval { get; set; } = TimeSpan.FromMilliseconds(500);

    /// <summary>For the tests: called when a waiter listens, has found the lock taken since, and is about to wait.</summary>
    internal Action? Waiting { get; set; }

    public override async Task<IAsyncDisposable> AcquireMigrationLockAsync(TimeSpan timeout, Action<string> onWaiting, CancellationToken cancel = default)
    {
        // A session-level advisory lock on this connection, which stays idle while the migrations
        // run on FluentMigrator's own connection. Waiters do not block in pg_advisory_lock: a
        // blocked waiter holds a snapshot, and CREATE INDEX CONCURRENTLY in the holder would wait
        // for it forever. They LISTEN instead (an idle listening session holds no snapshot), the
        // holder NOTIFYs as it releases the lock, and the next runner takes it at once: ten
        // replicas starting together take turns without sleeping between them. A holder that was
        // killed never notifies (the server releases its lock when the session ends): waiters try
        // again every LockPollInterval as well.
        var started = DateTime.UtcNow;
        var deadline = started + timeout;
        var notified = false;
        NotificationEventHandler? listener = null;
        try
        {
            while (true)
            {
                notified = false;
                await using (var command = new NpgsqlCommand("SELECT pg_try_advisory_lock(@key)", Connection))
                {
                    command.Parameters.AddWithValue("key", MigrationLockKey);
                    if ((bool)(await command.ExecuteScalarAsync(cancel))!)
                    {
                        if (listener is not null)
                        {
                            onWaiting($"took the migration lock after waiting {(DateTime.UtcNow - started).TotalSeconds:0.000} s");
                        }

                        return new AdvisoryLock(Connection);
                    }
                }

                if (DateTime.UtcNow >= deadline)
                {
                    throw LockTimeout(timeout);
                }

                if (listener is null)
                {
                    onWaiting($"another runner is migrating this database; waiting for its lock (up to {timeout.TotalSeconds:0} s)");
                    // Listening from now on, then trying once more: a release between the first
                    // try and the LISTEN notified nobody.
                    listener = (_, e) => notified |= e.Channel == LockReleasedChannel;
                    Connection.Notification += listener;
                    await ExecuteAsync($"LISTEN {LockReleasedChannel}", cancel);
                    continue;
                }

                // A notification that came with the last try's reply has been handled already.
                if (!notified)
                {
                    Waiting?.Invoke();
                    var wait = TimeSpan.FromMilliseconds(Math.Max(10, Math.Min(LockPollInterval.TotalMilliseconds, (deadline - DateTime.UtcNow).TotalMilliseconds)));
                    await Connection.WaitAsync(wait, cancel);
                }
            }
        }
        finally
        {
            if (listener is not null)
            {
                Connection.Notification -= listener;
                if (Connection.State == System.Data.ConnectionState.Open && !cancel.IsCancellationRequested)
                {
                    await ExecuteAsync($"UNLISTEN {LockReleasedChannel}", CancellationToken.None);
                }
            }
        }
    }

    private async Task ExecuteAsync(string sql, CancellationToken cancel)
    {
        await using var command = new NpgsqlCommand(sql, Connection);
        await command.ExecuteNonQueryAsync(cancel);
    }

    private sealed class AdvisoryLock(NpgsqlConnection connection) : IAsyncDisposable
    {
        public async ValueTask DisposeAsync()
        {
            if (connection.State == System.Data.ConnectionState.Open)
            {
                // One statement: the lock is free before the notification is delivered (at commit),
                // so a woken waiter finds it free.
                await using var command = new NpgsqlCommand($"SELECT pg_advisory_unlock(@key), pg_notify('{LockReleasedChannel}', '')", connection);
                command.Parameters.AddWithValue("key", MigrationLockKey);
                await command.ExecuteNonQueryAsync();
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

    /// <summary>
    /// pg_dump --format=custom (pg_restore reads it; compressed; one consistent snapshot, so the
    /// application may keep writing). pg_dump must be at least the server's major version:
    /// checked first, and refused in words rather than with pg_dump's own abort mid-way.
    /// </summary>
    public override async Task BackupAsync(string file, IReadOnlyDictionary<string, string?> environment, CancellationToken cancel)
    {
        var server = Connection.PostgreSqlVersion.Major;
        var pgDump = PostgresClientTools.Find("pg_dump", PostgresClientTools.PgDumpVariable, environment, server);
        var client = await PostgresClientTools.MajorVersionAsync(pgDump, cancel);
        if (client < server)
        {
            throw new BackupException(
                $"pg_dump {client} ({pgDump}) is older than the server (PostgreSQL {server}): a backup needs pg_dump {server} or newer. " +
                $"Install postgresql-client-{server} (or newer), or set {PostgresClientTools.PgDumpVariable} to such a pg_dump");
        }

        var (code, stdout, stderr) = await PostgresClientTools.RunAsync(pgDump, ["--format=custom", "--no-password", $"--file={file}"],
            PostgresClientTools.Environment(Target), cancel);
        if (code != 0)
        {
            throw new BackupException($"pg_dump failed (exit {code}): {PostgresClientTools.LastLines(stderr + stdout)}");
        }

        // pg_dump can exit 0 and leave an empty file when the disk is full (seen with
        // bench/faults.sh on a full tmpfs): every custom-format archive starts with its signature.
        var (signature, format) = Provider.BackupSignature;
        var head = new byte[signature.Length];
        int read;
        await using (var stream = new FileStream(file, FileMode.Open, FileAccess.Read, FileShare.ReadWrite, 1))
        {
            read = await stream.ReadAtLeastAsync(head, head.Length, throwOnEndOfStream: false, cancel);
        }

        if (read < head.Length || !head.AsSpan().SequenceEqual(signature))
        {
            throw new BackupException($"pg_dump exited 0 but wrote {new FileInfo(file).Length} bytes that are not {format} (is the disk full?)");
        }
    }

    /// <summary>
    /// The backup in one transaction with the emptying of the database (--force), run through psql
    /// (<see cref="PostgresRestore"/>): the database as it was, or the backup's contents. Ownership
    /// goes to the restoring user (--no-owner), as the original owner need not exist here.
    /// </summary>
    public override Task RestoreAsync(string file, bool replace, bool force, IReadOnlyDictionary<string, string?> environment, CancellationToken cancel) =>
        PostgresRestore.RunAsync(this, file, replace, force, environment, cancel);

    /// <summary>
    /// The server by its system identifier, which a failover keeps and another cluster does not
    /// share (a physical copy does); a role that may not read it (42501) gets host and port.
    /// </summary>
    public override async Task<string> BackupIdentityAsync(CancellationToken cancel)
    {
        var b = new NpgsqlConnectionStringBuilder(Target.ConnectionString);
        try
        {
            await using var command = new NpgsqlCommand("SELECT system_identifier FROM pg_control_system()", Connection);
            return $"postgresql system {await command.ExecuteScalarAsync(cancel)} database {b.Database}";
        }
        catch (PostgresException e) when (e.SqlState is PostgresErrorCodes.InsufficientPrivilege or PostgresErrorCodes.UndefinedFunction)
        {
            return $"postgresql server {b.Host?.ToLowerInvariant()}:{b.Port} database {b.Database}";
        }
    }

    public override async ValueTask DisposeAsync()
    {
        _busy.Dispose();
        await Connection.DisposeAsync();
        await _source.DisposeAsync();
    }
}
