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
    /// <param name="readOnly">Change nothing, not even by opening: a missing SQLite file reads as an empty database.</param>
    public static async Task<Database> OpenAsync(DatabaseTarget target, CancellationToken cancel = default, bool readOnly = false) => target.Kind switch
    {
        DatabaseKind.Postgres => await PostgresDatabase.ConnectAsync(target, cancel),
        _ => await SqliteDatabase.ConnectAsync(target, readOnly, cancel),
    };

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
            catch (Output.UserError e) when (e.InnerException is { } cause && Postgres.PostgresErrors.IsRetryable(cause) && DateTime.UtcNow + delay < deadline)
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

    /// <summary>True when <paramref name="e"/> says another process's lock outlasted <see cref="BusyTimeout"/>.</summary>
    public virtual bool IsLockedByAnotherProcess(Exception e) => false;

    /// <summary>The connection string FluentMigrator's runner uses (with this database's session settings).</summary>
    public virtual string MigrationConnectionString => Target.ConnectionString;

    /// <summary>
    /// Takes the lock that lets one runner at a time migrate this database, before anything is read
    /// or created, and holds it until disposed. Waits up to <paramref name="timeout"/>, then throws
    /// exit code 4. A killed process leaves no lock behind.
    /// </summary>
    public abstract Task<IAsyncDisposable> AcquireMigrationLockAsync(TimeSpan timeout, Action<string> onWaiting, CancellationToken cancel = default);

    protected static Output.UserError LockTimeout(TimeSpan timeout) =>
        new(Output.ExitCode.LockTimeout, $"another runner held the migration lock for more than {timeout.TotalSeconds:0} s (--lock-timeout); nothing was changed");

    /// <summary>The schema as it is now, version table included.</summary>
    public abstract Task<DatabaseSchema> ReadSchemaAsync(CancellationToken cancel = default);

    /// <summary>
    /// The schema after every known version up to <paramref name="upTo"/>, in version order, built
    /// by this database's own engine where it can (the expected side of adoption and drift checks).
    /// By default the migrations are applied to a scratch in-memory SQLite database.
    /// </summary>
    public virtual Task<IReadOnlyList<(long Version, DatabaseSchema Schema)>> BuildExpectedSchemasAsync(
        Running.MigrationCatalog catalog, long upTo, CancellationToken cancel = default) =>
        HistorySchemas.BuildAsync(catalog, upTo, cancel);

    /// <summary>True when the version table exists (checked in the catalog, never by creating it).</summary>
    public abstract Task<bool> HasVersionTableAsync(CancellationToken cancel = default);

    /// <summary>The open connection (idle while FluentMigrator migrates on its own).</summary>
    public abstract System.Data.Common.DbConnection DbConnection { get; }

    /// <summary>The applied migrations recorded in the version table, oldest first; empty when it does not exist.</summary>
    public async Task<IReadOnlyList<AppliedVersion>> ReadAppliedVersionsAsync(CancellationToken cancel = default)
    {
        if (!await HasVersionTableAsync(cancel))
        {
            return [];
        }

        await using var command = DbConnection.CreateCommand();
        command.CommandText = $"SELECT \"Version\", \"AppliedOn\", \"Description\" FROM \"{VersionTable}\" ORDER BY \"Version\"";
        await using var reader = await command.ExecuteReaderAsync(cancel);
        var result = new List<AppliedVersion>();
        while (await reader.ReadAsync(cancel))
        {
            result.Add(new AppliedVersion(
                reader.GetInt64(0),
                reader.IsDBNull(1) ? null : reader.GetDateTime(1),
                reader.IsDBNull(2) ? null : reader.GetString(2)));
        }

        return result;
    }

    /// <summary>
    /// Whether the database has a migration history. Only recorded versions count: an empty
    /// version table (left by an earlier failed run, or by hand) makes nothing "managed".
    /// </summary>
    public async Task<HistoryState> ReadHistoryStateAsync(IReadOnlyCollection<long> applied, CancellationToken cancel = default) =>
        applied.Count > 0 ? HistoryState.Managed
        : (await ReadSchemaAsync(cancel)).Without(VersionTable).IsEmpty ? HistoryState.Empty
        : HistoryState.Unmanaged;

    public virtual ValueTask DisposeAsync() => DbConnection.DisposeAsync();
}

public enum HistoryState
{
    /// <summary>Versions are recorded.</summary>
    Managed,
    /// <summary>No tables (an empty version table aside): a fresh deployment.</summary>
    Empty,
    /// <summary>Tables, but no recorded versions: to be adopted (init, stamp --profile), never migrated blindly.</summary>
    Unmanaged,
}

/// <summary>One row of the version table.</summary>
public sealed record AppliedVersion(long Version, DateTime? AppliedOn, string? Description);
