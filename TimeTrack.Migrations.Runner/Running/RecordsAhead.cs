using TimeTrack.Migrations.Runner.Databases;

namespace TimeTrack.Migrations.Runner.Running;

/// <summary>
/// The records of a run's Up steps (checksum, Down rendered as SQL), made in order on a thread of
/// their own while the steps run: a record depends only on the code, and rendering a Down is a
/// second FluentMigrator build of the step, CPU that would otherwise wait in series with the
/// server's time. The step asks for its record when it writes its version row, and waits if it
/// is not made yet; a record that fails to render throws there, as it did when made in the step.
/// </summary>
/// <remarks>
/// While the thread runs it is the only user of the recorder (the steps only ask it for records
/// through here); <see cref="Dispose"/> stops it and waits for the record in hand, so the recorder
/// (and its renderer) outlive it. Nothing is sent to the database from here.
/// </remarks>
public sealed class RecordsAhead : IDisposable
{
    private readonly Dictionary<long, TaskCompletionSource<StepRecord>> _records = [];
    private readonly Thread _thread;
    private volatile bool _stopping;

    public RecordsAhead(HistoryRecorder recorder, IEnumerable<KnownMigration> migrations)
    {
        var inOrder = new List<(KnownMigration Migration, TaskCompletionSource<StepRecord> Record)>();
        foreach (var migration in migrations)
        {
            if (!_records.ContainsKey(migration.Version))
            {
                var record = new TaskCompletionSource<StepRecord>(TaskCreationOptions.RunContinuationsAsynchronously);
                _records[migration.Version] = record;
                inOrder.Add((migration, record));
            }
        }

        _thread = new Thread(() =>
        {
            foreach (var (migration, record) in inOrder)
            {
                if (_stopping)
                {
                    record.TrySetCanceled();
                    continue;
                }

                try
                {
                    record.TrySetResult(recorder.Record(migration, durationMs: null));
                }
                catch (Exception e)
                {
                    record.TrySetException(e);
                }
            }
        })
        { IsBackground = true, Name = "timetrack records ahead" };
        _thread.Start();
    }

    /// <summary>The record of <paramref name="migration"/> (one of the run's Up steps), once made.</summary>
    public StepRecord For(KnownMigration migration) =>
        _records.TryGetValue(migration.Version, out var record)
            ? record.Task.GetAwaiter().GetResult()
            : throw new InvalidOperationException($"version {migration.Version} is not an Up step of this run");

    public void Dispose()
    {
        _stopping = true;
        _thread.Join();
    }
}
