using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Microsoft.Data.Sqlite;

namespace TimeTrack.Migrations.Runner.Databases.Sqlite;

/// <summary>
/// How a connection of the runner waits for SQLite's file lock held by another process (the
/// application in a write transaction): in SQLite's busy handler, for at most the lock timeout,
/// and no longer once the run is cancelled (a stop signal). Microsoft.Data.Sqlite's own waiting is a retry loop
/// that sleeps between attempts, where nothing can cancel it (sqlite3_interrupt only reaches a
/// statement that runs): with FluentMigrator's hour-long command timeout it outlasted both
/// --lock-timeout and SIGTERM, and applied the step once the other writer let go. So that loop
/// is cut to its shortest (a command timeout of 1 s) and the handler does the waiting.
/// </summary>
internal static class SqliteBusyWait
{
    /// <summary>The command timeout of a connection that waits here: Microsoft.Data.Sqlite's loop retries for at most this long after the handler gives up.</summary>
    public const int CommandTimeoutSeconds = 1;

    private static readonly TimeSpan Nap = TimeSpan.FromMilliseconds(20);

    [UnmanagedFunctionPointer(CallingConvention.Cdecl)]
    private delegate int BusyHandler(IntPtr argument, int count);

    // SQLitePCLRaw does not wrap sqlite3_busy_handler; e_sqlite3 is the library it loads.
    [DllImport("e_sqlite3", CallingConvention = CallingConvention.Cdecl)]
    private static extern int sqlite3_busy_handler(IntPtr db, BusyHandler handler, IntPtr argument);

    // The handler lives as long as its connection (native code holds only a pointer to it).
    private static readonly ConditionalWeakTable<SqliteConnection, BusyHandler> Handlers = [];

    /// <summary>Makes the open <paramref name="connection"/> wait for another process's lock at most <paramref name="timeout"/>, and not once <paramref name="cancel"/> is cancelled.</summary>
    public static void Install(SqliteConnection connection, TimeSpan timeout, CancellationToken cancel)
    {
        var started = DateTime.UtcNow;
        BusyHandler handler = (_, count) =>
        {
            if (count == 0)
            {
                started = DateTime.UtcNow; // a new wait
            }

            if (cancel.IsCancellationRequested || DateTime.UtcNow - started >= timeout)
            {
                return 0; // give up: the statement fails with SQLITE_BUSY
            }

            Thread.Sleep(Nap);
            return 1;
        };
        Handlers.AddOrUpdate(connection, handler);
        var rc = sqlite3_busy_handler(connection.Handle!.DangerousGetHandle(), handler, IntPtr.Zero);
        if (rc != 0)
        {
            throw new InvalidOperationException($"sqlite3_busy_handler failed ({rc})");
        }

        connection.DefaultTimeout = CommandTimeoutSeconds;
    }
}
