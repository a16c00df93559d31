using Npgsql;
using TimeTrack.Migrations.Runner.Commands;
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

    /// <summary>With --role, the role the steps ran as and the login that did it: both are the audit's.</summary>
    public override string? User => Target.Role is { } role ? $"{role} (login {Connection.UserName})" : Connection.UserName;

    // Any constant works as long as every runner uses the same one: "TimeTrac" in ASCII.
    public const long MigrationLockKey = 0x54696D6554726163;

    // Since PostgreSQL 14 the server can notice a vanished client during a long statement and
    // roll back its transaction: a runner killed mid-migration leaves nothing half done and no
    // locks held for minutes. Set after connecting, not as the startup parameter "options", which
    // PgBouncer refuses (08P01); a session-mode pooler resets it when the client leaves.
    // --role: the steps' session switches to it as the runner's own session does (AssumeRoleAsync).
    public override IReadOnlyList<string> StepSessionStatements =>
    [
        .. Connection.PostgreSqlVersion.Major < 14 ? Array.Empty<string>() : ["SET client_connection_check_interval = 1000"],
        .. Target.SetRoleStatement() is { } role ? [role] : Array.Empty<string>(),
    ];

    /// <summary>
    /// --role: SET ROLE on this session, after connecting (PgBouncer refuses the startup parameter
    /// that would carry it). Through a pooler, only once transaction pooling is ruled out: there
    /// the role would stay on a server connection the pool hands to its next client. A role that
    /// does not exist, or that the login is not a member of, is exit 3 before anything is read.
    /// </summary>
    internal async Task AssumeRoleAsync(CancellationToken cancel)
    {
        if (Target.SetRoleStatement() is not { } statement)
        {
            return;
        }

        await RefuseTransactionPoolingAsync(cancel);
        try
        {
            await ExecuteAsync(statement, cancel);
        }
        catch (PostgresException e) when (e.SqlState is PostgresErrorCodes.InvalidParameterValue or PostgresErrorCodes.InsufficientPrivilege)
        {
            throw new UserError(ExitCode.ConnectionFailed, e.SqlState == PostgresErrorCodes.InsufficientPrivilege
                ? $"cannot SET ROLE \"{Target.Role}\" (--role): the login {Connection.UserName} is not a member of it (GRANT \"{Target.Role}\" TO {Connection.UserName}). Nothing was written"
                : $"cannot SET ROLE \"{Target.Role}\" (--role): {e.MessageText}. Nothing was written", e);
        }
    }

    public override bool IsReadOnlyStandby => _inRecovery;

    private bool _inRecovery;
    private int _backendPid;
    private int? _serverPort;
    private DateTime _serverStarted;

    /// <summary>What the session is connected to, in one round trip as it opens.</summary>
    internal async Task ReadSessionFactsAsync(CancellationToken cancel)
    {
        await using var command = new NpgsqlCommand("SELECT pg_is_in_recovery(), pg_backend_pid(), inet_server_port(), pg_postmaster_start_time()", Connection);
        await using var reader = await command.ExecuteReaderAsync(cancel);
        await reader.ReadAsync(cancel);
        _inRecovery = reader.GetBoolean(0);
        _backendPid = reader.GetInt32(1);
        _serverPort = reader.IsDBNull(2) ? null : reader.GetInt32(2);
        _serverStarted = reader.GetDateTime(3);
    }

    public override string? StepFenceStatement => _fence;

    private string? _fence;

    /// <summary>
    /// The fence of every step once the lock is held (docs/topologies.md, "Step fencing"): in the
    /// step's own transaction, the step's session must be on a primary (pg_is_in_recovery), the
    /// same server the lock was taken on (its postmaster's start time: a promoted standby's or a
    /// restarted server's differs; pg_control_system() would need a privilege the owner role may
    /// lack), and the lock's session must still hold the lock (pg_locks, readable by any role).
    /// </summary>
    private static string Fence(int lockHolder, DateTime serverStarted) =>
        $$"""
        DO $fence$ BEGIN
        IF pg_is_in_recovery() THEN
        RAISE EXCEPTION USING ERRCODE = '{{PostgresErrors.FenceBroken}}', MESSAGE = 'the server is a read-only standby now (a failover?)';
        END IF;
        IF pg_postmaster_start_time() <> '{{serverStarted.ToUniversalTime():yyyy-MM-dd HH:mm:ss.ffffff}}+00'::timestamptz THEN
        RAISE EXCEPTION USING ERRCODE = '{{PostgresErrors.FenceBroken}}', MESSAGE = 'the step''s session is not on the server the run took its migration lock on (a failover or a restart?)';
        END IF;
        IF NOT EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND pid = {{lockHolder}} AND granted
        AND classid = {{MigrationLockKey >> 32}} AND objid = {{MigrationLockKey & 0xFFFFFFFF}} AND objsubid = 1) THEN
        RAISE EXCEPTION USING ERRCODE = '{{PostgresErrors.FenceBroken}}', MESSAGE = 'the run no longer holds the migration lock (the session that held it ended)';
        END IF;
        END $fence$
        """;

    /// <summary>
    /// The session advisory lock protects only when this client keeps its server session between
    /// transactions. A pooler in transaction or statement mode (PgBouncer pool_mode=transaction or
    /// statement) hands the session to other clients between statements: the lock would then guard
    /// nothing and stay behind on a server connection someone else gets. Detected before the lock
    /// is taken: a second client of ours that lands on our backend, or our backend that changed.
    /// Only when the server's port is not the one we dialled (a proxy or pooler in between): a
    /// direct connection pays nothing. A pooler in session mode passes.
    /// </summary>
    private async Task RefuseTransactionPoolingAsync(CancellationToken cancel)
    {
        if (_serverPort == Connection.Port || _poolingRuledOut)
        {
            return;
        }

        int other;
        await using (var probe = await _source.OpenConnectionAsync(cancel))
        {
            // A pooler hands out the server connection used last (PgBouncer: LIFO) — ours, in transaction mode.
            await using var command = new NpgsqlCommand("SELECT pg_backend_pid()", probe);
            other = (int)(await command.ExecuteScalarAsync(cancel))!;
        }

        await using var again = new NpgsqlCommand("SELECT pg_backend_pid()", Connection);
        var now = (int)(await again.ExecuteScalarAsync(cancel))!;
        if (other == _backendPid || now != _backendPid)
        {
            throw new UserError(ExitCode.InvalidInput,
                "the connection goes through a pooler in transaction or statement mode (PgBouncer pool_mode=transaction or statement): " +
                "the migration lock and the steps need one server session from start to end. Nothing was written. " +
                $"Set {RunnerEnvironment.DirectUrlVariable} to a direct URL to the server (or one through a pool in session mode): the runner uses it " +
                "for everything, the application keeps DATABASE_URL");
        }

        _poolingRuledOut = true;
    }

    private bool _poolingRuledOut;

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

    public override async Task<MigrationLock> AcquireMigrationLockAsync(TimeSpan timeout, Action<string> onWaiting, CancellationToken cancel = default)
    {
        // A session-level advisory lock on this connection, which stays idle while the migrations
        // run on FluentMigrator's own connection. Waiters do not block in pg_advisory_lock: a
        // blocked waiter holds a snapshot, and CREATE INDEX CONCURRENTLY in the holder would wait
        // for it forever. They LISTEN instead (an idle listening session holds no snapshot), the
        // holder NOTIFYs as it releases the lock, and the next runner takes it at once: ten
        // replicas starting together take turns without sleeping between them. A holder that was
        // killed never notifies (the server releases its lock when the session ends): waiters try
        // again every LockPollInterval as well.
        await RefuseTransactionPoolingAsync(cancel);
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

                        _fence = Fence(_backendPid, _serverStarted);
                        return new AdvisoryLock(this);
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

    /// <summary>
    /// The session advisory lock. Released in one statement with the notification: the lock is
    /// free before the notification is delivered (at commit), so a woken waiter finds it free.
    /// </summary>
    private sealed class AdvisoryLock(PostgresDatabase database) : MigrationLock
    {
        private bool _released;

        /// <summary>
        /// The fence's last check: pg_advisory_unlock is true only when this session still held the
        /// lock, and a session never moves to another server; with each step's fence, the lock was
        /// held from the first step to the last commit.
        /// </summary>
        public override async Task ReleaseAsync()
        {
            bool held;
            try
            {
                held = await UnlockAsync();
            }
            catch (Exception e) when (PostgresErrors.IsConnectionLost(e) || e is InvalidOperationException)
            {
                throw Lost(database.Provider.DescribeError(e), e);
            }

            if (!held)
            {
                throw Lost("the session no longer held it", null);
            }
        }

        private static UserError Lost(string why, Exception? e) => new(ExitCode.MigrationFailed,
            $"the migration lock was lost before the run released it ({why.TrimEnd('.')}): every step applied was recorded, " +
            "but the last may have committed without the lock. Run status to see where the database is", e);

        public override async ValueTask DisposeAsync()
        {
            if (_released || database.Connection.State != System.Data.ConnectionState.Open)
            {
                return;
            }

            try
            {
                await UnlockAsync();
            }
            catch (NpgsqlException e) when (PostgresErrors.IsConnectionLost(e))
            {
                // The session is gone, and its lock with it (waiters poll). The error that
                // ended the run is the one to report, not this one.
            }
        }

        private async Task<bool> UnlockAsync()
        {
            _released = true;
            database._fence = null;
            await using var command = new NpgsqlCommand($"SELECT pg_advisory_unlock(@key), pg_notify('{LockReleasedChannel}', '')", database.Connection);
            command.Parameters.AddWithValue("key", MigrationLockKey);
            return (bool)(await command.ExecuteScalarAsync())!;
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

    /// <summary>pg_cancel_backend on the step's backend, sent from this (idle) connection.</summary>
    public override async Task CancelStatementAsync(System.Data.IDbConnection stepConnection)
    {
        if (stepConnection is NpgsqlConnection { State: System.Data.ConnectionState.Open } step)
        {
            await using var command = new NpgsqlCommand("SELECT pg_cancel_backend(@pid)", Connection);
            command.Parameters.AddWithValue("pid", step.ProcessID);
            await command.ExecuteScalarAsync();
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

        await using var command = new NpgsqlCommand(
            """
            SELECT a.pid, a.application_name::text, a.usename::text, a.state::text,
                   extract(epoch FROM clock_timestamp() - a.xact_start)::float8,
                   a.state IS NULL -- another role's session, seen without pg_read_all_stats
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
                reader.IsDBNull(4) ? null : TimeSpan.FromSeconds(reader.GetDouble(4)),
                reader.GetBoolean(5)));
        }

        return blockers;
    }

    /// <summary>
    /// pg_stat_progress_create_index (PostgreSQL 12 and later) of the step's backend: the phase of
    /// its index build and the blocks, tuples or transactions done of the phase's total.
    /// </summary>
    public override async Task<StepProgress?> ReadProgressAsync(System.Data.IDbConnection stepConnection)
    {
        if (stepConnection is not NpgsqlConnection { State: System.Data.ConnectionState.Open } step || Connection.PostgreSqlVersion.Major < 12)
        {
            return null;
        }

        await using var command = new NpgsqlCommand(
            """
            SELECT command, phase, blocks_done, blocks_total, tuples_done, tuples_total, lockers_done, lockers_total
            FROM pg_stat_progress_create_index WHERE pid = @pid
            """, Connection);
        command.Parameters.AddWithValue("pid", step.ProcessID);
        await using var reader = await command.ExecuteReaderAsync();
        if (!await reader.ReadAsync())
        {
            return null;
        }

        long Number(int column) => reader.IsDBNull(column) ? 0 : reader.GetInt64(column);
        return new StepProgress(reader.GetString(0), reader.GetString(1), Number(2), Number(3), Number(4), Number(5), Number(6), Number(7));
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

        // --role: pg_dump's own SET ROLE after connecting (the role may read what the login may not).
        string[] role = Target.Role is { } r ? [$"--role={r}"] : [];
        var (code, stdout, stderr) = await PostgresClientTools.RunAsync(pgDump, ["--format=custom", "--no-password", $"--file={file}", .. role],
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
        await Connection.DisposeAsync();
        await _source.DisposeAsync();
    }
}
