using System.Data;
using System.Data.Common;
using TimeTrack.Migrations.Runner.Databases;

namespace TimeTrack.Migrations.Runner.Running;

/// <summary>
/// While one migration step runs (synchronously, on FluentMigrator's connection), a signal
/// cancels the step's statement from outside, so the step fails, its transaction is rolled back
/// and nothing stays queued on the server: an ALTER TABLE waiting behind a long transaction
/// would otherwise keep blocking every query on that table. How a statement is cancelled is the
/// provider's (<see cref="Database.CancelStatementAsync"/>). Repeated until the step returns,
/// because a step can be several statements and a cancel between two of them does nothing.
/// Disposing stops it before anything else uses the runner's connection again.
/// </summary>
public sealed class StatementCanceller : IDisposable
{
    private static readonly TimeSpan Interval = TimeSpan.FromMilliseconds(200);

    private readonly Database _database;
    private readonly IDbConnection _stepConnection;
    private readonly CancellationTokenSource _stop = new();
    private readonly CancellationTokenRegistration _registration;
    private Task _loop = Task.CompletedTask;

    public StatementCanceller(Database database, IDbConnection stepConnection, CancellationToken interrupted)
    {
        _database = database;
        _stepConnection = stepConnection;
        _registration = interrupted.Register(() => Volatile.Write(ref _loop, Task.Run(LoopAsync)));
    }

    private async Task LoopAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            try
            {
                await CancelOnceAsync();
            }
            catch (Exception e) when (e is DbException or InvalidOperationException)
            {
                // The step's connection is not open (yet, or any more), or the server did not
                // answer this time: the next round, or the step's end, settles it.
            }

            try
            {
                await Task.Delay(Interval, _stop.Token);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }

    private Task CancelOnceAsync() => _database.CancelStatementAsync(_stepConnection);

    public void Dispose()
    {
        _registration.Dispose(); // waits for the callback if it is running: _loop is then set
        _stop.Cancel();
        Volatile.Read(ref _loop).GetAwaiter().GetResult();
        _stop.Dispose();
    }
}
