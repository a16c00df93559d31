using System.Data;
using System.Data.Common;
using System.Diagnostics;
using TimeTrack.Migrations.Runner.Databases;

namespace TimeTrack.Migrations.Runner.Running;

/// <summary>What a step watch reports each heartbeat: how long the step has run, how far it has got, whom it waits for.</summary>
/// <param name="Progress">Null when the database cannot tell (SQLite; anything but an index build on PostgreSQL).</param>
/// <param name="WaitingFor">The sessions it waits for now; empty when none.</param>
public sealed record StepHeartbeat(TimeSpan Elapsed, StepProgress? Progress, IReadOnlyList<LockBlocker> WaitingFor)
{
    public const string EventName = "step.heartbeat";

    /// <summary>
    /// "applying 300 (Add index): running for 20 s; CREATE INDEX CONCURRENTLY, building index: scanning
    /// table, blocks 120 of 400 (30%); waiting for pid 4711 (...)", and the same as data for --log-format json.
    /// </summary>
    /// <param name="doing">"applying 300 (Add index)".</param>
    public Output.StructuredEvent ToEvent(PlannedStep step, string doing)
    {
        var seconds = (long)Elapsed.TotalSeconds;
        var message = $"{doing}: running for {seconds.ToString(System.Globalization.CultureInfo.InvariantCulture)} s"
            + (Progress is null ? "" : "; " + Progress.Describe())
            + (WaitingFor.Count == 0 ? "" : "; waiting for " + LockBlocker.Describe(WaitingFor));
        return new Output.StructuredEvent(EventName, message,
        [
            new("Version", step.Migration.Version),
            new("Description", step.Migration.Description),
            new("Direction", step.Direction == Direction.Up ? "up" : "down"),
            new("ElapsedSeconds", seconds),
            new("Progress", Progress is not { } p ? null : new KeyValuePair<string, object?>[]
            {
                new("Command", p.Command), new("Phase", p.Phase), new("BlocksDone", p.BlocksDone), new("BlocksTotal", p.BlocksTotal),
                new("TuplesDone", p.TuplesDone), new("TuplesTotal", p.TuplesTotal), new("LockersDone", p.LockersDone), new("LockersTotal", p.LockersTotal),
            }),
            new("WaitingFor", WaitingFor.Select(b => (IReadOnlyList<KeyValuePair<string, object?>>)
            [
                new("Pid", b.ProcessId), new("ApplicationName", b.ApplicationName), new("User", b.User), new("State", b.State),
                new("TransactionSeconds", b.TransactionAge is { } age ? (long)age.TotalSeconds : null),
            ]).ToList()),
        ]);
    }
}

/// <summary>
/// The one watch over one attempt of a migration step, which runs synchronously on FluentMigrator's
/// connection: a task that ticks a few times a second and, from the runner's own idle connection
/// (one query at a time, so the connection needs no lock),
/// <list type="bullet">
/// <item>once the run's token is cancelled (a signal: the one token from Program.cs down), cancels the step's statement (<see cref="Database.CancelStatementAsync"/>) every
/// tick until the step returns: a step can be several statements, and a cancel between two does nothing;
/// the first cancel goes out at once;</item>
/// <item>asks whom the step waits for (<see cref="Database.FindBlockersAsync"/>), keeps the last non-empty
/// answer (a step that timed out waiting no longer waits once rolled back, so "right after" is too late to
/// ask) and reports each new set to <c>onWaiting</c>;</item>
/// <item>every <c>heartbeat</c> interval, reports the step's elapsed time, its progress
/// (<see cref="Database.ReadProgressAsync"/>) and whom it waits for to <c>onHeartbeat</c>.</item>
/// </list>
/// Disposing stops it before anything else uses the runner's connection again.
/// </summary>
public sealed class StepWatch : IDisposable
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
    private readonly CancellationToken _interrupted;
    private readonly Action<IReadOnlyList<LockBlocker>, TimeSpan>? _onWaiting;
    private readonly TimeSpan _heartbeat;
    private readonly Action<StepHeartbeat>? _onHeartbeat;
    private readonly Stopwatch _step;
    private readonly Stopwatch _attempt = Stopwatch.StartNew();
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _loop;
    private IReadOnlyList<LockBlocker> _last = [];

    /// <param name="interrupted">The run's cancellation token: once cancelled, the step's statement is cancelled.</param>
    /// <param name="step">Started when the step's first attempt did: heartbeats give the step's elapsed time, across attempts.</param>
    /// <param name="onWaiting">Called (on the watch's task) when the step starts waiting for a new set of sessions, with how long the attempt has run.</param>
    /// <param name="heartbeat">Zero: no heartbeat.</param>
    /// <param name="onHeartbeat">Called (on the watch's task) every <paramref name="heartbeat"/>.</param>
    public StepWatch(Database database, IDbConnection stepConnection, CancellationToken interrupted, Stopwatch step,
        Action<IReadOnlyList<LockBlocker>, TimeSpan>? onWaiting, TimeSpan heartbeat, Action<StepHeartbeat>? onHeartbeat)
    {
        _database = database;
        _stepConnection = stepConnection;
        _interrupted = interrupted;
        _step = step;
        _onWaiting = onWaiting;
        _heartbeat = onHeartbeat is null ? TimeSpan.Zero : heartbeat;
        _onHeartbeat = onHeartbeat;
        // Not Task.Run: the loop's first await (a timer) comes at once, and a step that ends before
        // the first look then costs no thread-pool hop, started or waited for (a thousand steps, a thousand hops).
        _loop = LoopAsync();
    }

    /// <summary>The sessions the step waited for when last seen waiting; empty if it never was.</summary>
    public IReadOnlyList<LockBlocker> LastBlockers => Volatile.Read(ref _last);

    private async Task LoopAsync()
    {
        var reported = new HashSet<int>();
        var wait = FirstLook;
        var nextBeat = _heartbeat;
        // Until the cancel: a tick's wait ends early when it comes, so the first cancel goes out at once.
        using var signalOrStop = CancellationTokenSource.CreateLinkedTokenSource(_stop.Token, _interrupted);
        while (!_stop.IsCancellationRequested)
        {
            try
            {
                await Task.Delay(wait, _interrupted.IsCancellationRequested ? _stop.Token : signalOrStop.Token);
                wait = Interval;
            }
            catch (OperationCanceledException) when (!_stop.IsCancellationRequested)
            {
                // The signal: tick now.
            }
            catch (OperationCanceledException)
            {
                return;
            }

            try
            {
                if (_interrupted.IsCancellationRequested)
                {
                    await _database.CancelStatementAsync(_stepConnection);
                    continue;
                }

                var blockers = await _database.FindBlockersAsync(_stepConnection);
                if (blockers.Count > 0)
                {
                    Volatile.Write(ref _last, blockers);
                    if (_onWaiting is not null && !blockers.All(b => reported.Contains(b.ProcessId)))
                    {
                        reported.UnionWith(blockers.Select(b => b.ProcessId));
                        _onWaiting(blockers, _attempt.Elapsed);
                    }
                }

                if (_heartbeat > TimeSpan.Zero && _attempt.Elapsed >= nextBeat)
                {
                    while (nextBeat <= _attempt.Elapsed)
                    {
                        nextBeat += _heartbeat; // a late tick does not bring a burst of beats
                    }

                    var progress = await _database.ReadProgressAsync(_stepConnection);
                    _onHeartbeat!(new StepHeartbeat(_step.Elapsed, progress, blockers));
                }
            }
            catch (Exception e) when (e is DbException or InvalidOperationException or ObjectDisposedException)
            {
                // The step's connection is not open (yet, or any more), or the server did not
                // answer this time: the next round, or the step's end, settles it. Best effort.
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
