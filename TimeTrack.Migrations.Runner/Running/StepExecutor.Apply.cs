using System.Diagnostics;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using TimeTrack.Migrations.Runner.Databases;
using TimeTrack.Migrations.Runner.Output;

namespace TimeTrack.Migrations.Runner.Running;

/// <summary>What <see cref="StepExecutor.ApplyAsync"/> applies, where, and how.</summary>
public sealed record ApplyRequest
{
    /// <summary>The runner's own connection; the caller holds the migration lock on it.</summary>
    public required Database Database { get; init; }

    public required MigrationCatalog Catalog { get; init; }

    /// <summary>What is recorded with each applied step.</summary>
    public required HistoryRecorder Recorder { get; init; }

    /// <summary>The steps, in the order they run.</summary>
    public required IReadOnlyList<PlannedStep> Plan { get; init; }

    public ILoggerFactory Logs { get; init; } = NullLoggerFactory.Instance;

    /// <summary>Sees each step as it completes.</summary>
    public Action<StepResult>? OnStep { get; init; }

    /// <summary>How transactional steps wait for their locks.</summary>
    public DdlRetryPolicy Policy { get; init; } = DdlRetryPolicy.Default;

    /// <summary>Runs once the plan is known to be runnable, before anything is written (the --backup).</summary>
    public Func<Task>? BeforeFirstChange { get; init; }

    /// <summary>How often a running step logs a heartbeat; zero: never.</summary>
    public TimeSpan ProgressInterval { get; init; } = TimeSpan.FromSeconds(Settings.OptionDefinitions.ProgressInterval.Default);
}

/// <summary>
/// A real run (<see cref="StepMode.Apply"/>): each step fenced, timed out, retried, watched and
/// cancelled. One cancellation token, the caller's, reaches the step: it cancels the statement in
/// progress (<see cref="StepWatch"/>) and stops the run before the next step, with
/// <see cref="MigrationInterruptedException"/> saying which.
/// </summary>
public sealed partial class StepExecutor
{
    private static StepExecutor ForApply(ApplyRequest request) =>
        new(StepMode.Apply, request.Database.Provider, request.Database.StepConnectionString, request.Catalog,
            new FluentMigratorServices.Options { Logs = request.Logs, CommandTimeout = request.Database.StepCommandTimeout, BatchSteps = true },
            request.Database, request.Logs, request.Recorder, request.Policy, request.ProgressInterval);

    /// <summary>
    /// Applies the request's plan (the caller holds the migration lock), reporting each step as it
    /// completes. Nothing to do is the container-restart path: it returns before FluentMigrator
    /// (and the dependency injection it is built with) is even loaded.
    /// </summary>
    public static async Task<IReadOnlyList<StepResult>> ApplyAsync(ApplyRequest request, CancellationToken cancel)
    {
        if (request.Plan.Count == 0)
        {
            return [];
        }

        using var executor = ForApply(request);
        return await executor.RunAsync(request.Plan, step =>
        {
            request.OnStep?.Invoke(step);
            return Task.CompletedTask;
        }, cancel, request.BeforeFirstChange);
    }

    /// <summary>
    /// <see cref="Run"/> with the log, the cancellation, the fence and the errors of a real run. A
    /// transactional step runs with its lock timeout (and statement timeout, if any); an attempt
    /// that times out waiting for a lock is rolled back and retried (<see cref="DdlRetryPolicy"/>),
    /// each attempt logged with the sessions it waited for. A step outside a transaction (CREATE
    /// INDEX CONCURRENTLY, which waits out older transactions by design) gets no lock timeout: the
    /// log says what it waits for.
    /// </summary>
    /// <param name="last">The run's last step: its commit is flushed (<see cref="DatabaseProvider.UnflushedCommitStatements"/>).</param>
    private StepResult RunApplying(PreparedStep prepared, int done, bool last, CancellationToken cancel)
    {
        var step = prepared.Step;
        if (cancel.IsCancellationRequested)
        {
            throw new MigrationInterruptedException($"stopped before {Doing(step)}");
        }

        PrepareStepSession();

        var transactional = step.Migration.Transactional;
        _log.LogInformation("{Verb} {Version} {Description}{Note}",
            step.Direction == Direction.Up ? "applying" : "rolling back", step.Migration.Version, step.Migration.Description,
            (transactional ? "" : " (not in a transaction)") + (step.RecordedDown is null ? "" : " with the Down recorded when it was applied"));

        var lockTimeout = step.Migration.LockTimeoutSeconds is { } ownLock ? TimeSpan.FromSeconds(ownLock) : _policy.LockTimeout;
        var statementTimeout = step.Migration.StatementTimeoutSeconds is { } ownStatement ? TimeSpan.FromSeconds(ownStatement) : _policy.StatementTimeout;
        var timeouts = transactional
            ? _database!.Provider.StepTimeoutStatements(
                step.Migration.LockTimeoutSeconds is not null || lockTimeout > TimeSpan.Zero ? lockTimeout : null,
                step.Migration.StatementTimeoutSeconds is not null || statementTimeout > TimeSpan.Zero ? statementTimeout : null)
            : [];

        // The fence runs first in the step's own transaction (no round trip of its own); a step
        // outside a transaction runs it just before, on its own.
        var fence = _database!.StepFenceStatement;
        IReadOnlyList<string> settings = transactional
            ? [.. fence is null ? [] : new[] { fence }, .. timeouts, .. last ? [] : _database.Provider.UnflushedCommitStatements]
            : [];
        var retrying = transactional && lockTimeout > TimeSpan.Zero && timeouts.Count > 0;
        var after = done == 0 ? "" : $" after {done} successful step(s)";
        var clock = Stopwatch.StartNew();
        for (var attempt = 1; ; attempt++)
        {
            IReadOnlyList<LockBlocker> blockers;
            try
            {
                using var monitor = new StepWatch(_database, StepConnection, cancel, clock, retrying ? null : (waitingFor, waited) =>
                    _log.LogWarning("{Doing} is waiting for {Blockers} (waiting {Seconds} s; {Why})",
                        Doing(step), LockBlocker.Describe(waitingFor), DdlRetryPolicy.Seconds(TimeSpan.FromSeconds(Math.Round(waited.TotalSeconds))),
                        transactional ? "no lock timeout for this step" : "it runs outside a transaction and is not timed out: it waits for older transactions by design"),
                    _progressInterval, beat => StructuredEvent.Log(_log, LogLevel.Information, beat.ToEvent(step, Doing(step))));
                try
                {
                    if (!transactional && fence is not null)
                    {
                        ExecuteSql(fence);
                    }

                    return Run(prepared, settings);
                }
                catch (Exception e) when (retrying && !cancel.IsCancellationRequested && _database.Provider.IsLockTimeout(e))
                {
                    blockers = monitor.LastBlockers;
                }
            }
            catch (Exception e) when (cancel.IsCancellationRequested)
            {
                throw StepMessages.Cancelled(step, transactional, e);
            }
            catch (Exception e)
            {
                throw StepMessages.Failed(_database, step, transactional, after, e);
            }

            // The attempt waited lock_timeout for a lock and was rolled back: nothing of it stays.
            var delay = DdlRetryPolicy.Delay(attempt, Random.Shared);
            if (!_policy.MayRetry(attempt, clock.Elapsed, delay, lockTimeout))
            {
                throw StepMessages.NoLock(step, after, attempt, clock.Elapsed, _policy.Describe(lockTimeout), blockers);
            }

            _log.LogWarning("{Doing}: attempt {Attempt} waited {LockTimeout} s for a lock (lock timeout) and was rolled back; {Who}; retrying in {Delay} s",
                Doing(step), attempt, DdlRetryPolicy.Seconds(lockTimeout), StepMessages.Blockers(blockers),
                DdlRetryPolicy.Seconds(TimeSpan.FromSeconds(Math.Round(delay.TotalSeconds, 1))));
            if (cancel.WaitHandle.WaitOne(delay))
            {
                // Between two attempts: the last one was rolled back, as a cancelled one would be.
                throw new MigrationInterruptedException($"{Doing(step)} was cancelled and its transaction rolled back");
            }
        }
    }

    private bool _sessionPrepared;

    /// <summary>
    /// The database's session settings on the step connection, once, as it opens (the processor
    /// keeps a connection that is open already). Not in the connection string: see
    /// <see cref="Database.StepSessionStatements"/>.
    /// </summary>
    private void PrepareStepSession()
    {
        if (_sessionPrepared || _database is not { StepSessionStatements: { Count: > 0 } statements })
        {
            return;
        }

        _sessionPrepared = true;
        var connection = _processor.Connection;
        if (connection.State != System.Data.ConnectionState.Open)
        {
            connection.Open();
        }

        using var command = connection.CreateCommand();
        command.CommandText = string.Join("; ", statements);
        command.ExecuteNonQuery();
    }
}
