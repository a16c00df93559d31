using System.Data;
using System.Data.Common;
using TimeTrack.Migrations.Runner.Databases;

namespace TimeTrack.Migrations.Runner.Running;

/// <summary>
/// While one attempt of a migration step runs (synchronously, on FluentMigrator's connection),
/// asks from the runner's own idle connection which sessions the step waits for
/// (<see cref="Database.FindBlockersAsync"/>), a few times a second. Keeps the last non-empty
/// answer (a step that timed out waiting no longer waits once rolled back, so "right after" is
/// too late to ask), and reports each new set of blockers to <paramref name="onWaiting"/>:
/// the log of a step that waits by design (CREATE INDEX CONCURRENTLY) or without a lock timeout.
/// Disposing stops it before anything else uses the runner's connection again.
/// </summary>
public sealed class LockWaitMonitor : IDisposable
{
    private static readonly TimeSpan Interval = TimeSpan.FromMilliseconds(200);

    /// <summary>
    /// The first look comes sooner: a step that waits is usually waiting from its first statement,
    /// and with a short lock timeout on a busy machine a few 200 ms rounds could all come too late
    /// to see the blocker before the attempt gives up ("the blocking session was not seen").
    /// </summary>
    private static readonly TimeSpan FirstLook = TimeSpan.FromMilliseconds(50);

    private readonly Database _database;
    private readonly IDbConnection _stepConnection;
    private readonly Action<IReadOnlyList<LockBlocker>, TimeSpan>? _onWaiting;
    private readonly CancellationTokenSource _stop = new();
    private readonly System.Diagnostics.Stopwatch _clock = System.Diagnostics.Stopwatch.StartNew();
    private readonly Task _loop;
    private IReadOnlyList<LockBlocker> _last = [];

    /// <param name="onWaiting">Called (on the monitor's task) when the step starts waiting for a new set of sessions, with how long the attempt has run.</param>
    public LockWaitMonitor(Database database, IDbConnection stepConnection, Action<IReadOnlyList<LockBlocker>, TimeSpan>? onWaiting)
    {
        _database = database;
        _stepConnection = stepConnection;
        _onWaiting = onWaiting;
        _loop = Task.Run(LoopAsync);
    }

    /// <summary>The sessions the step waited for when last seen waiting; empty if it never was.</summary>
    public IReadOnlyList<LockBlocker> LastBlockers => Volatile.Read(ref _last);

    private async Task LoopAsync()
    {
        var reported = new HashSet<int>();
        var wait = FirstLook;
        while (!_stop.IsCancellationRequested)
        {
            try
            {
                await Task.Delay(wait, _stop.Token);
                wait = Interval;
            }
            catch (OperationCanceledException)
            {
                return;
            }

            try
            {
                var blockers = await _database.FindBlockersAsync(_stepConnection);
                if (blockers.Count == 0)
                {
                    continue;
                }

                Volatile.Write(ref _last, blockers);
                if (_onWaiting is not null && !blockers.All(b => reported.Contains(b.ProcessId)))
                {
                    reported.UnionWith(blockers.Select(b => b.ProcessId));
                    _onWaiting(blockers, _clock.Elapsed);
                }
            }
            catch (Exception e) when (e is DbException or InvalidOperationException or ObjectDisposedException)
            {
                // The step's connection is not open (yet, or any more), or the server did not
                // answer this time: the next round settles it. Watching is best effort.
            }
        }
    }

    public void Dispose()
    {
        _stop.Cancel();
        _loop.GetAwaiter().GetResult();
        _stop.Dispose();
    }
}
