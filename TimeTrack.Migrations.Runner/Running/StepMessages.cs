using TimeTrack.Migrations.Runner.Databases;
using TimeTrack.Migrations.Runner.Output;

namespace TimeTrack.Migrations.Runner.Running;

/// <summary>
/// The one-line reports of a step of a real run that did not complete (<see cref="StepExecutor"/>):
/// each names the step, says what became of it and whether rerunning is safe.
/// </summary>
internal static class StepMessages
{
    /// <summary>"applying 300 (Add index)", "rolling back 300 (Add index)".</summary>
    public static string Doing(PlannedStep step) =>
        $"{(step.Direction == Direction.Up ? "applying" : "rolling back")} {step.Migration.Version} ({step.Migration.Description})";

    private static string Named(PlannedStep step) => $"migration {step.Migration.Version} ({step.Migration.Description})";

    /// <summary>The step's statement was cancelled (a signal, or the caller's token).</summary>
    public static MigrationInterruptedException Cancelled(PlannedStep step, bool transactional, Exception e) =>
        new($"{Doing(step)} was cancelled and " +
            (transactional ? "its transaction rolled back" : "left to the next run (it runs outside a transaction and is written to be re-run safely)"),
            e);

    /// <summary>
    /// Why the step failed, from the database's error: the fence (the run lost its lock or its
    /// server), another process's lock on the database (SQLite), a lost connection, or the step's own error.
    /// </summary>
    /// <param name="after">" after 3 successful step(s)", or empty.</param>
    public static UserError Failed(Database database, PlannedStep step, bool transactional, string after, Exception e)
    {
        if (database.Provider.FenceBroken(e) is { } fence)
        {
            return new UserError(ExitCode.MigrationFailed,
                $"{Named(step)} was not started{after}: {fence.TrimEnd('.')}. Nothing of it was applied; the steps before it are recorded. " +
                "Rerunning is safe: the next run takes the lock again on the primary and applies it", e);
        }

        if (database.IsLockedByAnotherProcess(e))
        {
            return new UserError(ExitCode.LockTimeout,
                $"{Named(step)} could not start{after}: another process held a write lock on the database " +
                $"for more than {database.BusyTimeout.TotalSeconds:0} s (--lock-timeout). It was rolled back", e);
        }

        if (database.Provider.IsConnectionLost(e))
        {
            return new UserError(ExitCode.MigrationFailed,
                $"the connection to the database was lost during {Named(step)}{after} " +
                $"({database.Provider.DescribeError(e).TrimEnd('.')}): " +
                (transactional
                    ? "the server rolled its transaction back, nothing of it was applied. Rerunning is safe: the next run applies it"
                    : "it does not run in a transaction and is written to be re-run safely. Rerunning is safe: the next run applies it again"),
                e);
        }

        return new UserError(ExitCode.MigrationFailed,
            $"{Named(step)} failed{after}: {database.Provider.DescribeError(e).TrimEnd('.')}. " +
            (transactional ? "It was rolled back" : "It does not run in a transaction; it is written to be re-run safely"),
            e);
    }

    /// <summary>Every attempt waited its lock timeout and was rolled back, and the retry budget is spent.</summary>
    public static UserError NoLock(PlannedStep step, string after, int attempts, TimeSpan elapsed, string policy, IReadOnlyList<LockBlocker> blockers) =>
        new(ExitCode.MigrationFailed,
            $"{Named(step)} failed{after}: could not get its lock in {attempts} attempt(s) " +
            $"over {DdlRetryPolicy.Seconds(TimeSpan.FromSeconds(Math.Round(elapsed.TotalSeconds)))} s " +
            $"({policy}); {Blockers(blockers)}. Every attempt was rolled back: nothing of it was applied");

    /// <summary>Whom an attempt that timed out waited for.</summary>
    public static string Blockers(IReadOnlyList<LockBlocker> blockers) =>
        blockers.Count > 0 ? $"blocked by {LockBlocker.Describe(blockers)}" : "the blocking session was not seen (it ended as the lock timed out)";
}
