using System.Data;
using FluentMigrator.Runner;
using TimeTrack.Migrations.Runner.Databases.Postgres;
using TimeTrack.Migrations.Runner.Databases.Sqlite;
using TimeTrack.Migrations.Runner.Output;
using TimeTrack.Migrations.Runner.Schema;

namespace TimeTrack.Migrations.Runner.Databases;

/// <summary>
/// Everything the runner needs to know about one kind of database, in one object: the contract a
/// new database implements (see the README's checklist). Nothing outside <c>Databases/</c> asks
/// which database it is talking to; it asks the provider.
/// </summary>
/// <remarks>
/// The per-connection half of the contract is <see cref="Database"/> (the migration lock, the
/// catalog reader, cancelling a statement); this half needs no connection.
/// </remarks>
public abstract class DatabaseProvider
{
    /// <summary>Every provider, in the order the README lists them.</summary>
    public static IReadOnlyList<DatabaseProvider> All { get; } = [PostgresProvider.Instance, SqliteProvider.Instance];

    public static DatabaseProvider For(DatabaseKind kind) => All.First(p => p.Kind == kind);

    public abstract DatabaseKind Kind { get; }

    /// <summary>The name users know it by ("PostgreSQL").</summary>
    public abstract string Name { get; }

    // ---- URLs -------------------------------------------------------------------------------

    /// <summary>How a URL of this provider looks, for error messages.</summary>
    public abstract string UrlExample { get; }

    // ---- Connecting -------------------------------------------------------------------------

    /// <summary>
    /// Opens the runner's own connection, or throws a <see cref="Output.UserError"/> with exit
    /// code 3 saying which part was wrong (the cause attached, for <see cref="IsWorthRetrying"/>).
    /// </summary>
    /// <param name="readOnly">Change nothing, not even by opening (a missing SQLite file reads as empty).</param>
    public abstract Task<Database> ConnectAsync(DatabaseTarget target, bool readOnly, CancellationToken cancel);

    /// <summary>True when waiting can fix this connection failure (the server is not up yet); never for wrong credentials.</summary>
    public virtual bool IsWorthRetrying(Exception connectionError) => false;

    // ---- FluentMigrator ---------------------------------------------------------------------

    /// <summary>Registers this database's FluentMigrator processor and generator.</summary>
    public abstract void AddFluentMigrator(IMigrationRunnerBuilder runner);

    /// <summary>The connection string FluentMigrator's connection uses to run migration steps.</summary>
    public virtual string StepConnectionString(string connectionString) => connectionString;

    /// <summary>
    /// The connection string for printing SQL without running it (<c>script</c>): nothing may be
    /// created or changed, not even by opening.
    /// </summary>
    public virtual string PreviewConnectionString(DatabaseTarget target) => target.ConnectionString;

    /// <summary>A connection string that is never opened: rendering SQL offline (checksums, recorded Downs).</summary>
    public abstract string OfflineConnectionString { get; }

    // ---- Migrating under traffic ------------------------------------------------------------

    /// <summary>
    /// Statements run first in each transactional step's transaction that bound, for that
    /// transaction only, how long it waits for a lock and how long a statement runs (null: left
    /// as the session has it; zero: no bound). None where the database has no such settings (SQLite waits for its file lock
    /// as long as <see cref="Database.BusyTimeout"/>).
    /// </summary>
    public virtual IReadOnlyList<string> StepTimeoutStatements(TimeSpan? lockTimeout, TimeSpan? statementTimeout) => [];

    /// <summary>
    /// Statements run first in the transaction of each transactional step but the last of a run
    /// that let its commit return before the commit record is flushed to disk. Safe because the
    /// step and its version row commit together: a server crash can only lose the newest such
    /// commits whole (the database is left at an earlier version, and the next run applies them
    /// again), and the run's last commit is flushed, with everything before it, before the runner
    /// reports success. Applying a long history is otherwise one disk flush per migration.
    /// </summary>
    public virtual IReadOnlyList<string> UnflushedCommitStatements => [];

    /// <summary>True when <paramref name="e"/> says a step gave up waiting for a lock after its lock timeout (worth retrying).</summary>
    public virtual bool IsLockTimeout(Exception e) => false;

    // ---- Errors -----------------------------------------------------------------------------

    /// <summary>The database's own words for a failed statement (error code and message), or null when <paramref name="e"/> is not this database's.</summary>
    public abstract string? DescribeStatementError(Exception e);

    /// <summary>
    /// A failure outside any migration step that this database's error code classifies (a
    /// privilege the role lacks, a file that is no database), as the one-line <see cref="UserError"/>
    /// to report; null for the rest (an unexpected error).
    /// </summary>
    public virtual UserError? Classify(Exception e, DatabaseTarget target) => null;

    /// <summary>The database's own words for any failure: this provider's, or the innermost message.</summary>
    public string DescribeError(Exception e) => DescribeStatementError(e) ?? e.GetBaseException().Message;

    /// <summary>
    /// True when <paramref name="e"/> says the session itself is gone (a server restart, a
    /// failover, a cut network): the server rolls back whatever transaction it had open.
    /// </summary>
    public virtual bool IsConnectionLost(Exception e) => false;

    /// <summary>True when the server refused the role a statement for want of a privilege (PostgreSQL's 42501; SQLite has none).</summary>
    public virtual bool IsPrivilegeDenied(Exception e) => false;

    /// <summary>The fence's words when <paramref name="e"/> is a step stopped by <see cref="Database.StepFenceStatement"/>; null otherwise.</summary>
    public virtual string? FenceBroken(Exception e) => null;

    // ---- Privileges -------------------------------------------------------------------------

    /// <summary>
    /// Refuses (exit 5, one line naming the privilege, the object and the step) before anything
    /// is written when the role lacks a privilege a step of <paramref name="plan"/> or the version
    /// table needs. Called with the plan known, just before it is applied; costs nothing for an
    /// empty plan. Nothing to check where the database has no privileges (SQLite).
    /// </summary>
    public virtual Task CheckPrivilegesAsync(Database database, Running.HistoryRecorder recorder, IReadOnlyList<Running.PlannedStep> plan, CancellationToken cancel) =>
        Task.CompletedTask;

    /// <summary>The same for writing the version table alone (adoption's stamp).</summary>
    public virtual Task CheckVersionTablePrivilegesAsync(Database database, CancellationToken cancel) => Task.CompletedTask;

    // ---- The version table ------------------------------------------------------------------

    /// <summary>This database's spelling of a version-table column type.</summary>
    public abstract string ColumnType(VersionColumnType type);

    /// <summary>The version table's name as statements write it (schema-qualified where the database has schemas).</summary>
    public abstract string QualifiedTableName(string table);

    /// <summary>The hidden column that tells a table's rows apart when nothing else does (repairing a repeated version).</summary>
    public abstract string RowIdentity { get; }

    // ---- Expected schemas -------------------------------------------------------------------

    /// <summary>
    /// Where the history is applied to read the schema each version should produce (adoption,
    /// drift checks, generation), on this database's own engine so that it sees what only this
    /// database has. <paramref name="live"/> is the database being checked, when there is one.
    /// </summary>
    public abstract Task<ScratchDatabase> OpenScratchAsync(Database? live, CancellationToken cancel);

    /// <summary>An empty schema with this database's capabilities (the expected schema at version 0).</summary>
    public abstract DatabaseSchema EmptySchema { get; }

    // ---- Backups ----------------------------------------------------------------------------

    /// <summary>The file name extension of this database's backups (".dump"), which restores with its standard tools.</summary>
    public abstract string BackupExtension { get; }

    /// <summary>The database's name as backup file names carry it (PostgreSQL: the database; SQLite: the file's name).</summary>
    public abstract string BackupName(DatabaseTarget target);

    /// <summary>The bytes every backup file of this database starts with, and what such a file is called.</summary>
    public abstract (byte[] Signature, string Format) BackupSignature { get; }

    public override string ToString() => Name;
}

/// <summary>
/// A place to apply the history and read back the schema after each version: a scratch schema
/// inside a transaction that is never committed (PostgreSQL), or a scratch in-memory database
/// (SQLite). The step executor drives it (<see cref="Running.StepExecutor"/>).
/// </summary>
public abstract class ScratchDatabase : IAsyncDisposable
{
    /// <summary>FluentMigrator's connection string for the steps.</summary>
    public abstract string ConnectionString { get; }

    /// <summary>The schema FluentMigrator puts unqualified objects in; null for the database's default.</summary>
    public virtual string? DefaultSchema => null;

    /// <summary>
    /// True when every step runs in one transaction that is rolled back at the end (nothing may
    /// outlive the check); false when each step commits on its own in a throwaway database.
    /// </summary>
    public abstract bool InOneTransaction { get; }

    /// <summary>Runs first, inside the transaction when there is one: e.g. creates the scratch schema.</summary>
    public virtual void SetUp(Action<string> execute)
    {
    }

    /// <summary>The schema as the steps so far left it, version table excluded.</summary>
    public abstract Task<DatabaseSchema> ReadAsync(IDbConnection stepConnection, CancellationToken cancel);

    /// <summary>
    /// The (table, column) names the steps so far left, in one cheap query: lets adoption skip
    /// reading the schema after versions that cannot match. Null where it would cost as much as
    /// <see cref="ReadAsync"/> (SQLite's in-memory scratch).
    /// </summary>
    public virtual Task<IReadOnlySet<(string Table, string Column)>?> ReadColumnNamesAsync(IDbConnection stepConnection, CancellationToken cancel) =>
        Task.FromResult<IReadOnlySet<(string Table, string Column)>?>(null);

    public virtual ValueTask DisposeAsync() => ValueTask.CompletedTask;
}

/// <summary>The provider of a parsed target (a member here, not in DatabaseUrl.cs, which knows no provider).</summary>
public static class DatabaseTargetProvider
{
    extension(DatabaseTarget target)
    {
        /// <summary>The provider that knows this kind of database.</summary>
        public DatabaseProvider Provider => DatabaseProvider.For(target.Kind);
    }
}
