using Microsoft.Data.Sqlite;
using TimeTrack.Migrations.Runner.Output;

namespace TimeTrack.Migrations.Runner.Databases.Sqlite;

/// <summary>
/// A hot journal: the "-journal" file a crashed writer leaves beside the database. SQLite rolls
/// it back (to the last committed state) on the next read, which is a write: a read-only
/// connection cannot, and fails every read with "attempt to write a readonly database"
/// (SQLITE_READONLY_ROLLBACK). The read-only commands (status, check, script, baseline) open
/// the file once read-write for that, as any SQLite reader with write access would, and then
/// read-only; a user who cannot write it is told what to run.
/// </summary>
internal static class SqliteHotJournal
{
    private const int ReadOnlyRollback = 776; // SQLITE_READONLY_ROLLBACK
    private const int ReadOnly = 8; // SQLITE_READONLY: the file or its directory is not writable

    public static async Task<SqliteConnection> OpenReadOnlyAsync(string connectionString, DatabaseTarget target, CancellationToken cancel)
    {
        var connection = new SqliteConnection(connectionString);
        await connection.OpenAsync(cancel);
        try
        {
            await ProbeAsync(connection, cancel);
            return connection;
        }
        catch (SqliteException e) when (e.SqliteExtendedErrorCode == ReadOnlyRollback)
        {
            await connection.DisposeAsync();
        }
        catch
        {
            await connection.DisposeAsync();
            throw;
        }

        await RollBackAsync(target, cancel);
        connection = new SqliteConnection(connectionString);
        await connection.OpenAsync(cancel);
        return connection;
    }

    private static async Task RollBackAsync(DatabaseTarget target, CancellationToken cancel)
    {
        var path = target.SqlitePath!;
        var readWrite = new SqliteConnectionStringBuilder(target.ConnectionString) { Mode = SqliteOpenMode.ReadWrite, Pooling = false }.ConnectionString;
        try
        {
            await using var writer = new SqliteConnection(readWrite);
            await writer.OpenAsync(cancel);
            await ProbeAsync(writer, cancel); // the first read rolls the journal back
        }
        catch (SqliteException e) when (e.SqliteErrorCode == ReadOnly)
        {
            throw new UserError(ExitCode.ConnectionFailed,
                $"the SQLite database {path} has a hot journal ({path}-journal): a write was interrupted (a crash) and must be rolled back before " +
                "anything can read the database, which needs write access to the file and its directory, and this user has none. " +
                $"As a user who has, run: sqlite3 '{path}' 'PRAGMA quick_check' (or any timetrack-migrate command that writes, such as up)", e);
        }
    }

    private static async Task ProbeAsync(SqliteConnection connection, CancellationToken cancel)
    {
        await using var probe = connection.CreateCommand();
        probe.CommandText = "SELECT count(*) FROM sqlite_master";
        await probe.ExecuteScalarAsync(cancel);
    }
}
