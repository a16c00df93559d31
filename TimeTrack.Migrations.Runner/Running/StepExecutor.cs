using System.Data;
using System.Diagnostics;
using FluentMigrator;
using FluentMigrator.Expressions;
using FluentMigrator.Infrastructure;
using FluentMigrator.Runner;
using FluentMigrator.Runner.Initialization;
using FluentMigrator.Runner.Processors;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using TimeTrack.Migrations.Runner.Databases;
using TimeTrack.Migrations.Runner.Output;
using TimeTrack.Migrations.Runner.Schema;

namespace TimeTrack.Migrations.Runner.Running;

/// <summary>A step that ran, and how long it took.</summary>
public sealed record StepResult(long Version, string Description, Direction Direction, TimeSpan Duration);

/// <summary>What the step executor does with each step.</summary>
public enum StepMode
{
    /// <summary>Run it, each step in its own transaction (unless it declares it cannot be), and record it in the version table.</summary>
    Apply,

    /// <summary>Print the SQL it would run, version-table bookkeeping included, and run nothing (<c>script</c>).</summary>
    Preview,

    /// <summary>Run it in a scratch place to read the schema it produces (adoption, <c>check</c>, generation).</summary>
    Scratch,

    /// <summary>Render its statements without a connection (checksums, the recorded Down).</summary>
    Render,
}

/// <summary>A step's statements as this provider renders them, or why it cannot be rendered as SQL alone.</summary>
/// <param name="RunsCode">Why the step is more than its SQL (it runs C# against the connection, or its Down throws); null when it is not.</param>
public sealed record RenderedStep(IReadOnlyList<string> Statements, string? RunsCode);

/// <summary>
/// The one place that runs migration steps. Each step's expressions are built from the migration
/// class (FluentMigrator's Up/Down, its conventions and validation), then executed on
/// FluentMigrator's processor, in the step's transaction, followed by the version-table row
/// (<see cref="VersionTable"/>). The three modes share all of it: what <c>script</c> prints is what
/// <c>up</c> runs, and the expected schema is built by the same statements.
/// </summary>
/// <remarks>
/// Every step of a plan is built before the first one runs: a migration whose Down cannot undo it
/// (it throws, or does nothing) is refused, naming it, with nothing changed, in every mode.
/// In <see cref="StepMode.Apply"/> a signal (<see cref="Interruption"/>) cancels the step in
/// progress (<see cref="StepWatch"/>) and stops the run before the next step, with
/// <see cref="MigrationInterruptedException"/> saying which.
/// FluentMigrator's MigrationRunner is not used: it would read and write the version table
/// through its own loader, and decide transactions from its own copy of the migration list.
/// </remarks>
public sealed class StepExecutor : IDisposable
{
    private readonly StepMode _mode;
    private readonly MigrationCatalog _catalog;
    private readonly ServiceProvider _services;
    private readonly GenericProcessorBase _processor;
    private readonly MigrationValidator _validator;
    private readonly string _connectionString;
    private readonly VersionTable _versions;
    private readonly ILogger _log;

    /// <summary>The runner's own connection to the database (Apply only): cancels statements, creates the version table.</summary>
    private readonly Database? _database;

    /// <summary>What is recorded with each applied step (Apply only).</summary>
    private readonly HistoryRecorder? _recorder;

    /// <summary>Lock and statement timeouts of transactional steps, and their retries (Apply only).</summary>
    private readonly DdlRetryPolicy _policy;

    /// <summary>How often a running step logs a heartbeat (Apply only); zero: never.</summary>
    private readonly TimeSpan _progressInterval;

    /// <summary>The statements the processor logged (Render only).</summary>
    private readonly List<string> _rendered = [];

    private StepExecutor(StepMode mode, DatabaseProvider provider, string connectionString, MigrationCatalog catalog,
        FluentMigratorServices.Options options, Database? database, ILoggerFactory? logs, HistoryRecorder? recorder = null, DdlRetryPolicy? policy = null,
        TimeSpan progressInterval = default)
    {
        _mode = mode;
        _progressInterval = progressInterval;
        _policy = policy ?? DdlRetryPolicy.Default;
        _catalog = catalog;
        _database = database;
        _recorder = recorder;
        _connectionString = connectionString;
        _versions = new VersionTable(provider);
        if (mode == StepMode.Render)
        {
            options = options with { SqlCapture = _rendered };
        }

        _services = FluentMigratorServices.Create(provider, connectionString, catalog.Assembly, options);
        _processor = (GenericProcessorBase)_services.GetRequiredService<IMigrationProcessor>();
        _validator = _services.GetRequiredService<MigrationValidator>();
        _log = (logs ?? Microsoft.Extensions.Logging.Abstractions.NullLoggerFactory.Instance).CreateLogger(Logging.Category);
    }

    /// <summary>Runs steps on <paramref name="database"/>, recording each with <paramref name="recorder"/>. The caller holds the migration lock.</summary>
    /// <param name="policy">How transactional steps wait for their locks (default <see cref="DdlRetryPolicy.Default"/>).</param>
    /// <param name="progressInterval">How often a running step logs a heartbeat (default <see cref="Settings.OptionDefinitions.ProgressInterval"/>'s); zero: never.</param>
    public static StepExecutor ForApply(Database database, MigrationCatalog catalog, ILoggerFactory logs, HistoryRecorder recorder, DdlRetryPolicy? policy = null,
        TimeSpan? progressInterval = null) =>
        new(StepMode.Apply, database.Provider, database.StepConnectionString, catalog,
            new FluentMigratorServices.Options { Logs = logs, CommandTimeout = database.StepCommandTimeout, BatchSteps = true }, database, logs, recorder, policy,
            progressInterval ?? TimeSpan.FromSeconds(Settings.OptionDefinitions.ProgressInterval.Default));

    /// <summary>Renders steps as <paramref name="provider"/> would run them, connecting nowhere.</summary>
    public static StepExecutor ForRendering(DatabaseProvider provider, MigrationCatalog catalog) =>
        new(StepMode.Render, provider, provider.OfflineConnectionString, catalog,
            new FluentMigratorServices.Options { Preview = true }, database: null, logs: null);

    /// <summary>
    /// Applies <paramref name="plan"/> to <paramref name="database"/> (the caller holds the migration
    /// lock), reporting each step to <paramref name="onStep"/> as it completes. Nothing to do is the
    /// container-restart path: it returns before FluentMigrator (and the dependency injection it
    /// is built with) is even loaded.
    /// </summary>
    public static async Task<IReadOnlyList<StepResult>> ApplyAsync(
        Database database, MigrationCatalog catalog, ILoggerFactory logs, HistoryRecorder recorder, IReadOnlyList<PlannedStep> plan, Action<StepResult> onStep, CancellationToken cancel,
        DdlRetryPolicy? policy = null, Func<Task>? beforeFirstChange = null, TimeSpan? progressInterval = null)
    {
        if (plan.Count == 0)
        {
            return [];
        }

        using var executor = ForApply(database, catalog, logs, recorder, policy, progressInterval);
        return await executor.RunAsync(plan, step =>
        {
            onStep(step);
            return Task.CompletedTask;
        }, cancel, beforeFirstChange);
    }

    /// <summary>Writes the SQL of steps to <paramref name="sql"/>, connecting read-only (SQLite: not even creating the file).</summary>
    /// <param name="recorder">Makes the version rows printed carry what a real run would record.</param>
    public static StepExecutor ForPreview(DatabaseTarget target, MigrationCatalog catalog, TextWriter sql, HistoryRecorder? recorder = null) =>
        new(StepMode.Preview, target.Provider, target.Provider.PreviewConnectionString(target), catalog,
            new FluentMigratorServices.Options { Preview = true, SqlOutput = sql }, database: null, logs: null, recorder);

    private static StepExecutor ForScratch(DatabaseProvider provider, ScratchDatabase scratch, MigrationCatalog catalog) =>
        new(StepMode.Scratch, provider, scratch.ConnectionString, catalog,
            new FluentMigratorServices.Options { ExpectedSchemaBuild = true, DefaultSchema = scratch.DefaultSchema }, database: null, logs: null);

    /// <summary>The connection the steps run on.</summary>
    public IDbConnection StepConnection => _processor.Connection;

    /// <summary>
    /// The schema after every known version up to <paramref name="upTo"/>, in version order, built
    /// on <paramref name="provider"/>'s own engine (<see cref="DatabaseProvider.OpenScratchAsync"/>):
    /// the expected side of adoption and drift checks. <paramref name="live"/>: the database
    /// checked, when there is one (PostgreSQL builds its scratch schema there).
    /// </summary>
    /// <param name="read">The versions whose schema is read (all when null): reading the catalog
    /// after each of a thousand steps costs far more than applying them.</param>
    /// <param name="couldMatch">Given the (table, column) names after a version (where the scratch
    /// reads them cheaply), false when its schema is not worth reading.</param>
    public static async Task<IReadOnlyList<(long Version, DatabaseSchema Schema)>> BuildExpectedSchemasAsync(
        DatabaseProvider provider, Database? live, MigrationCatalog catalog, long upTo, CancellationToken cancel, Func<long, bool>? read = null,
        Func<IReadOnlySet<(string Table, string Column)>, bool>? couldMatch = null)
    {
        await using var scratch = await provider.OpenScratchAsync(live, cancel);
        using var executor = ForScratch(provider, scratch, catalog);
        var plan = catalog.Migrations.Where(m => m.Version <= upTo).Select(m => new PlannedStep(m, Direction.Up)).ToList();
        var result = new List<(long, DatabaseSchema)>();
        if (scratch.InOneTransaction)
        {
            executor._processor.BeginTransaction(); // every step joins it; never committed
        }

        try
        {
            scratch.SetUp(executor.ExecuteSql);
            await executor.RunAsync(plan, async step =>
            {
                if ((read?.Invoke(step.Version) ?? true)
                    && (couldMatch is null || await scratch.ReadColumnNamesAsync(executor.StepConnection, cancel) is not { } names || couldMatch(names)))
                {
                    result.Add((step.Version, (await scratch.ReadAsync(executor.StepConnection, cancel)).Without(VersionTable.Name)));
                }
            }, cancel);
            return result;
        }
        finally
        {
            executor._processor.RollbackTransaction(); // a no-op when each step committed
        }
    }

    /// <summary>
    /// Runs the plan in order; <paramref name="afterStep"/> sees each step as it completes.
    /// Apply: the version table is created first if missing.
    /// </summary>
    /// <param name="beforeFirstChange">Runs once the plan is known to be runnable, before anything is written (the --backup).</param>
    public async Task<IReadOnlyList<StepResult>> RunAsync(IReadOnlyList<PlannedStep> plan, Func<StepResult, Task>? afterStep = null, CancellationToken cancel = default,
        Func<Task>? beforeFirstChange = null)
    {
        var prepared = plan.Select(Prepare).ToList(); // refuses an irreversible Down before anything runs
        if (prepared.Count == 0)
        {
            return [];
        }

        if (beforeFirstChange is not null)
        {
            await beforeFirstChange();
        }

        if (_mode == StepMode.Apply)
        {
            _database!.PrepareStepConnection(StepConnection);
        }

        if (_database is not null && await _versions.UpgradeAsync(_database, cancel) is { Count: > 0 } added)
        {
            _log.LogInformation("{Message}", VersionTable.UpgradeMessage(added));
        }

        var results = new List<StepResult>();
        foreach (var step in prepared)
        {
            cancel.ThrowIfCancellationRequested();
            var result = _mode == StepMode.Apply ? RunApplying(step, results.Count, last: results.Count == prepared.Count - 1) : Run(step);
            results.Add(result);
            if (afterStep is not null)
            {
                await afterStep(result);
            }
        }

        if (_mode == StepMode.Apply && Interruption.Requested)
        {
            // The last step completed before the cancel could take effect: it stays done.
            throw new MigrationInterruptedException($"{Doing(plan[^1])} completed before the cancel took effect");
        }

        return results;
    }

    /// <summary>For <c>script</c>: statements a real run executes before the steps (the version table's creation or upgrade).</summary>
    public void PreviewStatements(IEnumerable<string> statements)
    {
        foreach (var statement in statements)
        {
            ExecuteSql(statement);
        }
    }

    /// <summary>A step ready to run: FluentMigrator's expressions, or the recorded SQL of a Down this build does not know.</summary>
    private sealed record PreparedStep(PlannedStep Step, IReadOnlyList<IMigrationExpression> Expressions, IReadOnlyList<string> RecordedSql);

    /// <summary>The step's expressions, conventions applied and validated; a Down that cannot undo the step is refused.</summary>
    private PreparedStep Prepare(PlannedStep step)
    {
        if (step.RecordedDown is { } recorded)
        {
            return new PreparedStep(step, [], recorded);
        }

        var (expressions, irreversible) = BuildExpressions(step);
        if (irreversible is not null)
        {
            throw new UserError(ExitCode.Refused,
                $"migration {step.Migration.Version} ({step.Migration.Description}) is irreversible ({irreversible}); nothing was rolled back");
        }

        return new PreparedStep(step, expressions, []);
    }

    /// <summary>FluentMigrator's expressions of the step, or why its Down cannot undo it (it throws, or does nothing).</summary>
    private (IReadOnlyList<IMigrationExpression> Expressions, string? Irreversible) BuildExpressions(PlannedStep step)
    {
        var migration = (IMigration)ActivatorUtilities.CreateInstance(_services, step.Migration.Type
            ?? throw new InvalidOperationException($"version {step.Migration.Version} has no migration class in this build"));
        var context = new MigrationContext(_processor, _services, _connectionString);
        try
        {
            if (step.Direction == Direction.Up)
            {
                migration.GetUpExpressions(context);
            }
            else
            {
                migration.GetDownExpressions(context);
                if (context.Expressions.Count == 0)
                {
                    return ([], "its Down does nothing");
                }
            }
        }
        catch (Exception e) when (step.Direction == Direction.Down && e is NotSupportedException or NotImplementedException or InvalidOperationException)
        {
            return ([], string.IsNullOrWhiteSpace(e.Message) ? "its Down throws" : e.Message);
        }

        _validator.ApplyConventionsToAndValidateExpressions(migration, context.Expressions);
        return (context.Expressions.ToList(), null);
    }

    /// <summary>
    /// The step's FluentMigrator expressions, conventions applied and validated, without running
    /// them (the lint reads them; <see cref="StepMode.Render"/> executor). A Down that cannot undo
    /// its step has none.
    /// </summary>
    public IReadOnlyList<IMigrationExpression> Expressions(PlannedStep step) => BuildExpressions(step).Expressions;

    /// <summary>
    /// The step's statements as this provider renders them (<see cref="StepMode.Render"/>); a step
    /// that runs code against the connection (Execute.WithConnection) or a Down that throws says so.
    /// </summary>
    public RenderedStep Render(PlannedStep step)
    {
        var (expressions, irreversible) = BuildExpressions(step);
        if (irreversible is not null)
        {
            return new RenderedStep([], irreversible);
        }

        _rendered.Clear();
        string? runsCode = null;
        foreach (var expression in expressions)
        {
            if (expression is PerformDBOperationExpression code)
            {
                runsCode ??= $"it runs code against the connection (Execute.WithConnection{(string.IsNullOrEmpty(code.Description) ? "" : ": " + code.Description)})";
                _rendered.Add($"-- code: {code.Description}");
                continue;
            }

            expression.ExecuteWith(_processor);
        }

        return new RenderedStep(_rendered.Select(s => s.Replace("\r\n", "\n", StringComparison.Ordinal).Trim()).ToList(), runsCode);
    }

    /// <summary>One step: its transaction (unless it declares it cannot run in one, or an outer one is open), its statements, its version row.</summary>
    /// <param name="sessionSettings">Run first in the step's own transaction (its lock and statement timeouts).</param>
    private StepResult Run(PreparedStep prepared, IReadOnlyList<string>? sessionSettings = null)
    {
        var step = prepared.Step;
        // A recorded Down runs in a transaction unless its migration's could not.
        var ownTransaction = _processor.Transaction is null && (step.Migration.Transactional || _mode == StepMode.Scratch);
        // The record (checksum, Down rendered as SQL) is made before the transaction opens: rendering
        // builds FluentMigrator services the first time, which need not hold the step's locks.
        var record = step.Direction == Direction.Up ? _recorder?.Record(step.Migration, durationMs: null) : null;
        // Applying in its own transaction: the SET LOCALs, the statements and the version row go in
        // one round trip with the BEGIN (Npgsql sends it with the next command), then the COMMIT.
        // The server measures the step's duration there; script prints the same row.
        var batch = ownTransaction && _mode == StepMode.Apply ? _processor as IStepBatching : null;
        var durationSql = ownTransaction && _mode is StepMode.Apply or StepMode.Preview ? _versions.TransactionDuration : null;
        var clock = Stopwatch.StartNew();
        if (_mode == StepMode.Preview)
        {
            ExecuteSql($"-- {Doing(step)}{(step.Migration.Transactional ? "" : " (not in a transaction)")}");
        }

        if (ownTransaction)
        {
            _processor.BeginTransaction();
        }

        try
        {
            batch?.Hold();
            if (ownTransaction)
            {
                foreach (var setting in sessionSettings ?? [])
                {
                    ExecuteSql(setting);
                }
            }

            foreach (var expression in prepared.Expressions)
            {
                expression.ExecuteWith(_processor);
            }

            foreach (var statement in prepared.RecordedSql)
            {
                ExecuteSql(statement);
            }

            if (_mode != StepMode.Scratch)
            {
                ExecuteSql(step.Direction == Direction.Up
                    ? _versions.RecordStatement(step.Migration.Version, step.Migration.Description, DateTime.UtcNow,
                        record is null ? null : record with { DurationMs = (long)clock.Elapsed.TotalMilliseconds }, durationSql)
                    : _versions.DeleteStatement(step.Migration.Version));
            }

            batch?.Release();

            if (ownTransaction)
            {
                _processor.CommitTransaction();
            }
        }
        catch (Exception e)
        {
            batch?.Discard();
            if (ownTransaction)
            {
                try
                {
                    _processor.RollbackTransaction();
                }
                catch (Exception) when (_database?.Provider.IsConnectionLost(e) == true)
                {
                    // The session is gone: the server rolled the transaction back with it. Report why it ended.
                    _connectionLost = true;
                }
            }

            throw;
        }

        return new StepResult(step.Migration.Version, step.Migration.Description, step.Direction, clock.Elapsed);
    }

    /// <summary>
    /// <see cref="Run"/> with the log, the signal handling and the errors of a real run. A
    /// transactional step runs with its lock timeout (and statement timeout, if any); an attempt
    /// that times out waiting for a lock is rolled back and retried (<see cref="DdlRetryPolicy"/>),
    /// each attempt logged with the sessions it waited for. A step outside a transaction (CREATE
    /// INDEX CONCURRENTLY, which waits out older transactions by design) gets no lock timeout: the
    /// log says what it waits for.
    /// </summary>
    /// <param name="last">The run's last step: its commit is flushed (<see cref="DatabaseProvider.UnflushedCommitStatements"/>).</param>
    private StepResult RunApplying(PreparedStep prepared, int done, bool last)
    {
        var step = prepared.Step;
        var interrupted = Interruption.Token;
        if (interrupted.IsCancellationRequested)
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
        IReadOnlyList<string> settings = transactional && !last ? [.. timeouts, .. _database!.Provider.UnflushedCommitStatements] : timeouts;
        var retrying = transactional && lockTimeout > TimeSpan.Zero && timeouts.Count > 0;
        var after = done == 0 ? "" : $" after {done} successful step(s)";
        var clock = Stopwatch.StartNew();
        for (var attempt = 1; ; attempt++)
        {
            IReadOnlyList<LockBlocker> blockers;
            try
            {
                using var monitor = new StepWatch(_database!, StepConnection, interrupted, clock, retrying ? null : (waitingFor, waited) =>
                    _log.LogWarning("{Doing} is waiting for {Blockers} (waiting {Seconds} s; {Why})",
                        Doing(step), LockBlocker.Describe(waitingFor), DdlRetryPolicy.Seconds(TimeSpan.FromSeconds(Math.Round(waited.TotalSeconds))),
                        transactional ? "no lock timeout for this step" : "it runs outside a transaction and is not timed out: it waits for older transactions by design"),
                    _progressInterval, beat => StructuredEvent.Log(_log, LogLevel.Information, beat.ToEvent(step, Doing(step))));
                try
                {
                    return Run(prepared, settings);
                }
                catch (Exception e) when (retrying && !interrupted.IsCancellationRequested && _database!.Provider.IsLockTimeout(e))
                {
                    blockers = monitor.LastBlockers;
                }
            }
            catch (Exception e) when (interrupted.IsCancellationRequested)
            {
                throw new MigrationInterruptedException(
                    $"{Doing(step)} was cancelled and " +
                    (transactional ? "its transaction rolled back" : "left to the next run (it runs outside a transaction and is written to be re-run safely)"),
                    e);
            }
            catch (Exception e)
            {
                if (_database!.IsLockedByAnotherProcess(e))
                {
                    throw new UserError(ExitCode.LockTimeout,
                        $"migration {step.Migration.Version} ({step.Migration.Description}) could not start{after}: another process held a write lock on the database " +
                        $"for more than {_database.BusyTimeout.TotalSeconds:0} s (--lock-timeout). It was rolled back", e);
                }

                if (_database.Provider.IsConnectionLost(e))
                {
                    throw new UserError(ExitCode.MigrationFailed,
                        $"the connection to the database was lost during migration {step.Migration.Version} ({step.Migration.Description}){after} " +
                        $"({_database.Provider.DescribeError(e).TrimEnd('.')}): " +
                        (transactional
                            ? "the server rolled its transaction back, nothing of it was applied. Rerunning is safe: the next run applies it"
                            : "it does not run in a transaction and is written to be re-run safely. Rerunning is safe: the next run applies it again"),
                        e);
                }

                throw new UserError(ExitCode.MigrationFailed,
                    $"migration {step.Migration.Version} ({step.Migration.Description}) failed{after}: {_database.Provider.DescribeError(e).TrimEnd('.')}. " +
                    (transactional ? "It was rolled back" : "It does not run in a transaction; it is written to be re-run safely"),
                    e);
            }

            // The attempt waited lock_timeout for a lock and was rolled back: nothing of it stays.
            var who = blockers.Count > 0 ? $"blocked by {LockBlocker.Describe(blockers)}" : "the blocking session was not seen (it ended as the lock timed out)";
            var delay = DdlRetryPolicy.Delay(attempt, Random.Shared);
            if (!_policy.MayRetry(attempt, clock.Elapsed, delay, lockTimeout))
            {
                throw new UserError(ExitCode.MigrationFailed,
                    $"migration {step.Migration.Version} ({step.Migration.Description}) failed{after}: could not get its lock in {attempt} attempt(s) " +
                    $"over {DdlRetryPolicy.Seconds(TimeSpan.FromSeconds(Math.Round(clock.Elapsed.TotalSeconds)))} s " +
                    $"({_policy.Describe(lockTimeout)}); {who}. Every attempt was rolled back: nothing of it was applied");
            }

            _log.LogWarning("{Doing}: attempt {Attempt} waited {LockTimeout} s for a lock (lock timeout) and was rolled back; {Who}; retrying in {Delay} s",
                Doing(step), attempt, DdlRetryPolicy.Seconds(lockTimeout), who, DdlRetryPolicy.Seconds(TimeSpan.FromSeconds(Math.Round(delay.TotalSeconds, 1))));
            if (interrupted.WaitHandle.WaitOne(delay))
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

    /// <summary>
    /// One statement of ours (version table, scratch set-up, a recorded Down) through the
    /// processor: in the current transaction, and printed in preview. (This overload of Execute
    /// takes the text as it is; the one with arguments would read braces as placeholders.)
    /// </summary>
    private void ExecuteSql(string sql) => _processor.Execute(sql);

    private static string Doing(PlannedStep step) =>
        $"{(step.Direction == Direction.Up ? "applying" : "rolling back")} {step.Migration.Version} ({step.Migration.Description})";

    /// <summary>Set when the step's session died with its transaction open: FluentMigrator's processor still holds that transaction.</summary>
    private bool _connectionLost;

    public void Dispose()
    {
        try
        {
            _services.Dispose();
        }
        catch (Exception) when (_connectionLost)
        {
            // The processor rolls back its dead transaction as it is disposed, and fails: the error that ended the run is already on its way.
        }
    }
}
