using Microsoft.Data.Sqlite;
using TimeTrack.Migrations.Runner.Output;
using TimeTrack.Migrations.Runner.Schema;

namespace TimeTrack.Migrations.Runner.Databases.Sqlite;

public sealed class SqliteDatabase : Database
{
    internal SqliteDatabase(DatabaseTarget target, SqliteConnection connection) : base(target) => Connection = connection;

    public SqliteConnection Connection { get; }

    public override System.Data.Common.DbConnection DbConnection => Connection;

    /// <summary>SQLite has no users: the operating-system user of the runner.</summary>
    public override string? User => Environment.UserName;

    public override async Task<MigrationLock> AcquireMigrationLockAsync(TimeSpan timeout, Action<string> onWaiting, CancellationToken cancel = default)
    {
        // SQLite's own locks are per statement or transaction, and FluentMigrator runs each
        // migration in a transaction of its own on its own connection; so runners serialise on an
        // exclusive OS lock (flock) of a file beside the database, which the kernel releases when
        // the process ends, however it ends.
        // A write transaction of another process (the application) is SQLite's own lock: every
        // statement of ours waits for it as long as for the migration lock, then fails with exit 4.
        BusyTimeout = timeout;
        SqliteBusyWait.Install(Connection, timeout, cancel);
        var path = Target.SqlitePath + ".migration-lock";
        var deadline = DateTime.UtcNow + timeout;
        var told = false;
        while (true)
        {
            try
            {
                return new FileLock(new FileStream(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None, 1, FileOptions.None));
            }
            catch (IOException) when (File.Exists(path))
            {
                if (DateTime.UtcNow >= deadline)
                {
                    throw LockTimeout(timeout);
                }

                if (!told)
                {
                    onWaiting($"another runner is migrating this database; waiting for its lock (up to {timeout.TotalSeconds:0} s)");
                    told = true;
                }

                // flock has no wait with a timeout or a cancel: try again soon. A try is an open and
                // a flock, nothing else: 20 ms keeps the time between one runner releasing the lock
                // and the next taking it short (replicas starting together) at no real cost.
                await Task.Delay(TimeSpan.FromMilliseconds(20), cancel);
            }
            catch (UnauthorizedAccessException e)
            {
                throw new UserError(ExitCode.ConnectionFailed, $"cannot create the migration lock file {path}: {e.Message}", e);
            }
        }
    }

    /// <summary>
    /// The flock, held by an open descriptor of this process: it cannot be lost while the process
    /// lives, and the steps run on the same local file (there is no other server to fail over to),
    /// so SQLite needs no fence (<see cref="Database.StepFenceStatement"/>).
    /// </summary>
    private sealed class FileLock(FileStream file) : MigrationLock
    {
        public override Task ReleaseAsync() => file.DisposeAsync().AsTask();

        public override ValueTask DisposeAsync() => file.DisposeAsync();
    }

    /// <summary>
    /// FluentMigrator's connection: waits for another process's write lock as long as for the
    /// migration lock, and does not enforce foreign keys (<see cref="SqliteProvider.WithoutForeignKeyEnforcement"/>).
    /// </summary>
    public override string StepConnectionString => new SqliteConnectionStringBuilder(SqliteProvider.WithoutForeignKeyEnforcement(Target.ConnectionString))
    {
        DefaultTimeout = SqliteBusyWait.CommandTimeoutSeconds,
    }.ConnectionString;

    /// <summary>Opened here (FluentMigrator keeps an open connection as it is) to give it the runner's busy handler.</summary>
    public override void PrepareStepConnection(System.Data.IDbConnection stepConnection, CancellationToken cancel)
    {
        if (stepConnection is SqliteConnection connection)
        {
            if (connection.State != System.Data.ConnectionState.Open)
            {
                connection.Open();
            }

            SqliteBusyWait.Install(connection, BusyTimeout, cancel);
        }
    }

    /// <summary>Long statements are not timed out on SQLite: its command timeout bounds only the wait for a lock (<see cref="SqliteBusyWait"/>).</summary>
    public override TimeSpan? StepCommandTimeout => TimeSpan.FromSeconds(SqliteBusyWait.CommandTimeoutSeconds);

    /// <summary>SQLITE_BUSY / SQLITE_LOCKED: Microsoft.Data.Sqlite retried until the command timeout.</summary>
    public override bool IsLockedByAnotherProcess(Exception e)
    {
        for (var inner = e; inner is not null; inner = inner.InnerException)
        {
            if (inner is SqliteException { SqliteErrorCode: 5 or 6 })
            {
                return true;
            }
        }

        return false;
    }

    public override Task<DatabaseSchema> ReadSchemaAsync(CancellationToken cancel = default) =>
        SqliteCatalogReader.ReadAsync(Connection, cancel);

    public override async Task<bool> HasTableAsync(string table, CancellationToken cancel = default)
    {
        await using var command = Connection.CreateCommand();
        command.CommandText = "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = $name";
        command.Parameters.AddWithValue("$name", table);
        return (long)(await command.ExecuteScalarAsync(cancel))! > 0;
    }

    /// <summary>sqlite3_interrupt, which SQLite allows from another thread.</summary>
    public override Task CancelStatementAsync(System.Data.IDbConnection stepConnection)
    {
        if (stepConnection is SqliteConnection { State: System.Data.ConnectionState.Open, Handle: { } handle })
        {
            SQLitePCL.raw.sqlite3_interrupt(handle);
        }

        return Task.CompletedTask;
    }

    /// <summary>
    /// SQLite's online backup API (sqlite3_backup, in one step): a consistent copy of every page
    /// taken under one read transaction, so the application may keep writing meanwhile (it waits
    /// at most the busy timeout for a writer). The result is an ordinary SQLite file.
    /// </summary>
    public override async Task BackupAsync(string file, IReadOnlyDictionary<string, string?> environment, CancellationToken cancel)
    {
        await using var destination = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = file, Mode = SqliteOpenMode.ReadWriteCreate, Pooling = false }.ConnectionString);
        try
        {
            await destination.OpenAsync(cancel);
            Connection.BackupDatabase(destination);
        }
        catch (SqliteException e)
        {
            throw new BackupException($"the SQLite backup to {file} failed: {e.Message}", e);
        }
    }

    /// <summary>This database's file did not exist before it was opened (so a failed restore removes it).</summary>
    internal bool CreatedByOpen { get; init; }

    /// <summary>
    /// The backup checked on a copy beside the database (PRAGMA quick_check reads all of it), then
    /// copied into this database by the backup API, which writes every page in ONE write
    /// transaction: a failure, or a kill, rolls it back and the database is as it was. Not a rename
    /// of the copy over the file: the application's open connections would go on writing to the old
    /// file, and a -wal file of the old database left beside the new one would be replayed into it.
    /// </summary>
    public override async Task RestoreAsync(string file, bool replace, bool force, IReadOnlyDictionary<string, string?> environment, CancellationToken cancel)
    {
        var copy = Path.Combine(Path.GetDirectoryName(Target.SqlitePath)!, $".{Path.GetFileName(Target.SqlitePath)}.restore-{Guid.NewGuid():N}");
        try
        {
            await CopyOwnerOnlyAsync(file, copy, cancel);
            await using var source = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = copy, Mode = SqliteOpenMode.ReadWrite, Pooling = false }.ConnectionString);
            string verdict;
            try
            {
                await source.OpenAsync(cancel);
                await using var check = source.CreateCommand();
                check.CommandText = "PRAGMA quick_check(1)";
                verdict = await check.ExecuteScalarAsync(cancel) as string ?? "no answer";
            }
            catch (SqliteException e) when (e.SqliteErrorCode is 11 or 26) // SQLITE_CORRUPT, SQLITE_NOTADB
            {
                verdict = e.Message;
            }

            if (verdict != "ok")
            {
                throw UserError.Invalid($"the backup file {file} is a damaged SQLite database ({verdict}), so nothing was changed");
            }

            source.BackupDatabase(Connection);
        }
        catch (Exception e) when (e is SqliteException or IOException or UnauthorizedAccessException)
        {
            RemoveIfCreated();
            throw new BackupException($"restoring {file} failed, so nothing was changed: {e.Message}", e);
        }
        catch (UserError)
        {
            RemoveIfCreated();
            throw;
        }
        finally
        {
            foreach (var leftover in new[] { copy, copy + "-journal", copy + "-wal", copy + "-shm" })
            {
                File.Delete(leftover);
            }
        }
    }

    private static async Task CopyOwnerOnlyAsync(string from, string to, CancellationToken cancel)
    {
        var options = new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write };
        if (!OperatingSystem.IsWindows())
        {
            options.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite; // it holds every row
        }

        await using var source = new FileStream(from, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
        await using var destination = new FileStream(to, options);
        await source.CopyToAsync(destination, cancel);
    }

    /// <summary>A database file this run created (empty) is not left behind by a failed restore.</summary>
    private void RemoveIfCreated()
    {
        if (CreatedByOpen && new FileInfo(Target.SqlitePath!) is { Exists: true, Length: 0 })
        {
            File.Delete(Target.SqlitePath!);
        }
    }

    /// <summary>The file's full path with every symbolic link on it resolved: a link to it, or to a directory above it, names the same database.</summary>
    public override Task<string> BackupIdentityAsync(CancellationToken cancel) => Task.FromResult("sqlite " + Canonical(Target.SqlitePath!, 0));

    internal static string Canonical(string path, int depth)
    {
        var full = Path.GetFullPath(path);
        var root = Path.GetPathRoot(full)!;
        var current = root;
        foreach (var part in full[root.Length..].Split(Path.DirectorySeparatorChar, StringSplitOptions.RemoveEmptyEntries))
        {
            current = Path.Combine(current, part);
            if (depth < 40 && new FileInfo(current).LinkTarget is { } link)
            {
                current = Canonical(Path.Combine(Path.GetDirectoryName(current)!, link), depth + 1);
            }
        }

        return current;
    }
}
