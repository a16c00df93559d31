using TimeTrack.Migrations.Runner.Schema;

namespace TimeTrack.Migrations.Runner.Databases;

/// <summary>
/// The runner's own open connection to the database being migrated: the per-connection half of
/// a provider (<see cref="DatabaseProvider"/>): the migration lock, the catalog, cancelling a
/// step's statement, and the connection string the steps run on. Migration steps run on
/// FluentMigrator's connection (<see cref="Running.StepExecutor"/>); this one stays idle meanwhile.
/// </summary>
public abstract class Database : IAsyncDisposable
{
    protected Database(DatabaseTarget target) => Target = target;

    public DatabaseTarget Target { get; }

    public DatabaseProvider Provider => Target.Provider;

    /// <summary>Connects, or throws a <see cref="Output.UserError"/> with exit code 3 saying why not.</summary>
    /// <param name="readOnly">Change nothing, not even by opening: a missing SQLite file reads as an empty database.</param>
    public static Task<Database> OpenAsync(DatabaseTarget target, CancellationToken cancel = default, bool readOnly = false) =>
        target.Provider.ConnectAsync(target, readOnly, cancel);

    /// <summary>
    /// Connects, retrying with backoff for up to <paramref name="wait"/> while the server is not
    /// ready (compose's depends_on does not wait for PostgreSQL to accept connections). Wrong
    /// credentials and a missing database fail at once: waiting cannot fix them.
    /// </summary>
    public static async Task<Database> OpenWaitingAsync(
        DatabaseTarget target, TimeSpan wait, Action<string> onRetry, CancellationToken cancel = default, bool readOnly = false)
    {
        var deadline = DateTime.UtcNow + wait;
        var delay = TimeSpan.FromMilliseconds(250);
        while (true)
        {
            try
            {
                return await OpenAsync(target, cancel, readOnly);
            }
            catch (Output.UserError e) when (e.InnerException is { } cause && target.Provider.IsWorthRetrying(cause) && DateTime.UtcNow + delay < deadline)
            {
                onRetry($"{e.Message}; retrying for up to {Math.Ceiling((deadline - DateTime.UtcNow).TotalSeconds)} s");
                await Task.Delay(delay, cancel);
                delay = TimeSpan.FromMilliseconds(Math.Min(delay.TotalMilliseconds * 2, 2000));
            }
        }
    }

    /// <summary>
    /// How long a statement waits for a lock another process holds on the database itself (SQLite's
    /// file lock): the migration lock's timeout, set when it is taken.
    /// </summary>
    public TimeSpan BusyTimeout { get; protected set; } = TimeSpan.FromSeconds(30);

    /// <summary>
    /// Makes FluentMigrator's connection wait for another process's lock on the database as this
    /// connection does (at most <see cref="BusyTimeout"/>, not once <paramref name="cancel"/> is
    /// cancelled); called before the steps run. Nothing to do where the server bounds its own lock
    /// waits (PostgreSQL).
    /// </summary>
    public virtual void PrepareStepConnection(System.Data.IDbConnection stepConnection, CancellationToken cancel)
    {
    }

    /// <summary>FluentMigrator's command timeout for the steps (null: an hour, long data steps must not die at the 30 s default).</summary>
    public virtual TimeSpan? StepCommandTimeout => null;

    /// <summary>True when <paramref name="e"/> says another process's lock outlasted <see cref="BusyTimeout"/>.</summary>
    public virtual bool IsLockedByAnotherProcess(Exception e) => false;

    /// <summary>Who the database knows the runner as (recorded with each migration applied).</summary>
    public abstract string? User { get; }

    /// <summary>The connection string FluentMigrator's connection runs the steps on (with this database's session settings).</summary>
    public virtual string StepConnectionString => Target.ConnectionString;

    /// <summary>True when the server is a standby in recovery: nothing can be written there.</summary>
    public virtual bool IsReadOnlyStandby => false;

    /// <summary>Run once on the step connection when it opens, before the first step (session settings).</summary>
    public virtual IReadOnlyList<string> StepSessionStatements => [];

    /// <summary>
    /// Run first in each step's own transaction once the migration lock is held (the fence): fails
    /// the step, with an error <see cref="DatabaseProvider.FenceBroken"/> recognises, when the step's
    /// session is no longer on the server the lock was taken on or the lock is no longer held.
    /// Null: nothing to fence (no lock held, or a lock that cannot be lost while the process lives).
    /// </summary>
    public virtual string? StepFenceStatement => null;

    /// <summary>
    /// Takes the lock that lets one runner at a time migrate this database, before anything is read
    /// or created, and holds it until released or disposed. Waits up to <paramref name="timeout"/>,
    /// then throws exit code 4. A killed process leaves no lock behind.
    /// </summary>
    public abstract Task<MigrationLock> AcquireMigrationLockAsync(TimeSpan timeout, Action<string> onWaiting, CancellationToken cancel = default);

    protected static Output.UserError LockTimeout(TimeSpan timeout) =>
        new(Output.ExitCode.LockTimeout, $"another runner held the migration lock for more than {timeout.TotalSeconds:0} s (--lock-timeout); nothing was changed");

    /// <summary>The schema as it is now, version table included.</summary>
    public abstract Task<DatabaseSchema> ReadSchemaAsync(CancellationToken cancel = default);

    /// <summary>True when the table exists in the schema migrations use (checked in the catalog, never by creating it).</summary>
    public abstract Task<bool> HasTableAsync(string table, CancellationToken cancel = default);

    // While a step runs, only its watch (Running.StepWatch) uses this connection, from one task,
    // one query at a time: the three methods below need no lock of their own.

    /// <summary>
    /// Cancels the statement running on <paramref name="stepConnection"/> (FluentMigrator's), from
    /// this connection or this process; a no-op when nothing runs there.
    /// </summary>
    public abstract Task CancelStatementAsync(System.Data.IDbConnection stepConnection);

    /// <summary>
    /// The sessions the statement running on <paramref name="stepConnection"/> waits for (they hold
    /// or queue ahead for a lock it needs), asked from this connection; empty when it waits for
    /// nobody, or the database cannot tell.
    /// </summary>
    public virtual Task<IReadOnlyList<LockBlocker>> FindBlockersAsync(System.Data.IDbConnection stepConnection) =>
        Task.FromResult<IReadOnlyList<LockBlocker>>([]);

    /// <summary>
    /// How far the statement running on <paramref name="stepConnection"/> has got, asked from this
    /// connection; null when the database cannot tell (SQLite; PostgreSQL for anything but an index build).
    /// </summary>
    public virtual Task<StepProgress?> ReadProgressAsync(System.Data.IDbConnection stepConnection) =>
        Task.FromResult<StepProgress?>(null);

    /// <summary>The open connection (idle while the steps run on FluentMigrator's).</summary>
    public abstract System.Data.Common.DbConnection DbConnection { get; }

    /// <summary>The applied migrations recorded in the version table, oldest first; empty when it does not exist.</summary>
    public Task<IReadOnlyList<AppliedVersion>> ReadAppliedVersionsAsync(CancellationToken cancel = default) =>
        VersionTable.ReadAsync(this, cancel);

    /// <summary>
    /// Whether the database has a migration history, and the schema read to decide it (null when
    /// versions are recorded: the restart path reads nothing more). Only recorded versions count:
    /// an empty version table (left by an earlier failed run, or by hand) makes nothing "managed".
    /// </summary>
    public async Task<(HistoryState State, DatabaseSchema? Live)> ReadHistoryStateAsync(IReadOnlyCollection<long> applied, CancellationToken cancel = default)
    {
        if (applied.Count > 0)
        {
            return (HistoryState.Managed, null);
        }

        var live = (await ReadSchemaAsync(cancel)).Without(VersionTable.Name);
        return (live.IsEmpty ? HistoryState.Empty : HistoryState.Unmanaged, live);
    }

    /// <summary>
    /// Writes a backup of the whole database to <paramref name="file"/> (which does not exist yet),
    /// consistent even while the application writes, in the form this database's standard tools
    /// restore. Throws <see cref="BackupException"/> saying why it could not.
    /// </summary>
    /// <param name="environment">The invocation's environment: where the database's client programs are (PATH, TIMETRACK_PG_DUMP).</param>
    public abstract Task BackupAsync(string file, IReadOnlyDictionary<string, string?> environment, CancellationToken cancel);

    /// <summary>
    /// Restores a backup made by <see cref="BackupAsync"/> into this database, all or nothing. The
    /// caller holds the migration lock and has checked that the database is empty, or
    /// <paramref name="replace"/> (--force): then what the database holds is replaced.
    /// <paramref name="force"/> also restores a backup that is not one of ours (PostgreSQL: objects in
    /// other schemas). Throws <see cref="BackupException"/>, or a <see cref="Output.UserError"/> for a
    /// file that is no backup (2) or a refusal (5).
    /// </summary>
    public abstract Task RestoreAsync(string file, bool replace, bool force, IReadOnlyDictionary<string, string?> environment, CancellationToken cancel);

    /// <summary>
    /// What tells this database from any other whose backups share a directory (its server and
    /// name; SQLite: the file's full path): backup file names carry a hash of it.
    /// </summary>
    public abstract Task<string> BackupIdentityAsync(CancellationToken cancel);

    public virtual ValueTask DisposeAsync() => DbConnection.DisposeAsync();
}

/// <summary>
/// The migration lock, held (<see cref="Database.AcquireMigrationLockAsync"/>). A run that
/// completed releases it with <see cref="ReleaseAsync"/>, which reports a lock lost before it (the
/// last check of the fence); disposing releases it quietly (after an error, whose report comes first).
/// </summary>
public abstract class MigrationLock : IAsyncDisposable
{
    /// <summary>Releases the lock; a <see cref="Output.UserError"/> when it had been lost already.</summary>
    public abstract Task ReleaseAsync();

    public abstract ValueTask DisposeAsync();
}

/// <summary>A backup or restore that could not be done, in words for the operator (no secret in them).</summary>
public sealed class BackupException(string message, Exception? inner = null) : Exception(message, inner);

public enum HistoryState
{
    /// <summary>Versions are recorded.</summary>
    Managed,
    /// <summary>No tables (an empty version table aside): a fresh deployment.</summary>
    Empty,
    /// <summary>Tables, but no recorded versions: to be adopted (init, stamp --profile), never migrated blindly.</summary>
    Unmanaged,
}
