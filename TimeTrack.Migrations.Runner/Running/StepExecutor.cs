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
/// A real run (<see cref="ApplyAsync"/>, StepExecutor.Apply.cs) is fenced, retried and cancelled
/// there; the expected schema is built in StepExecutor.ExpectedSchemas.cs.
/// FluentMigrator's MigrationRunner is not used: it would read and write the version table
/// through its own loader, and decide transactions from its own copy of the migration list.
/// </remarks>
public sealed partial class StepExecutor : IDisposable
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

    /// <summary>What is recorded with each applied step (Apply, and Preview's version rows).</summary>
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

    /// <summary>Renders steps as <paramref name="provider"/> would run them, connecting nowhere.</summary>
    public static StepExecutor ForRendering(DatabaseProvider provider, MigrationCatalog catalog) =>
        new(StepMode.Render, provider, provider.OfflineConnectionString, catalog,
            new FluentMigratorServices.Options { Preview = true }, database: null, logs: null);

    /// <summary>Writes the SQL of steps to <paramref name="sql"/>, connecting read-only (SQLite: not even creating the file).</summary>
    /// <param name="recorder">Makes the version rows printed carry what a real run would record.</param>
    public static StepExecutor ForPreview(DatabaseTarget target, MigrationCatalog catalog, TextWriter sql, HistoryRecorder? recorder = null) =>
        new(StepMode.Preview, target.Provider, target.Provider.PreviewConnectionString(target), catalog,
            new FluentMigratorServices.Options { Preview = true, SqlOutput = sql }, database: null, logs: null, recorder);

    /// <summary>The connection the steps run on.</summary>
    public IDbConnection StepConnection => _processor.Connection;

    /// <summary>
    /// Runs the plan in order; <paramref name="afterStep"/> sees each step as it completes.
    /// Apply: the version table is created first if missing; <paramref name="cancel"/> cancels the
    /// step in progress and stops the run (<see cref="MigrationInterruptedException"/> says which).
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
            _database!.PrepareStepConnection(StepConnection, cancel);
        }

        if (_database is not null && await _versions.UpgradeAsync(_database, cancel) is { Count: > 0 } added)
        {
            _log.LogInformation("{Message}", VersionTable.UpgradeMessage(added));
        }

        var results = new List<StepResult>();
        foreach (var step in prepared)
        {
            StepResult result;
            if (_mode == StepMode.Apply)
            {
                result = RunApplying(step, results.Count, last: results.Count == prepared.Count - 1, cancel);
            }
            else
            {
                cancel.ThrowIfCancellationRequested();
                result = Run(step);
            }

            results.Add(result);
            if (afterStep is not null)
            {
                await afterStep(result);
            }
        }

        if (_mode == StepMode.Apply && cancel.IsCancellationRequested)
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
    /// One statement of ours (version table, scratch set-up, a recorded Down) through the
    /// processor: in the current transaction, and printed in preview. (This overload of Execute
    /// takes the text as it is; the one with arguments would read braces as placeholders.)
    /// </summary>
    private void ExecuteSql(string sql) => _processor.Execute(sql);

    private static string Doing(PlannedStep step) => StepMessages.Doing(step);

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
