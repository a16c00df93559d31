using System.Diagnostics;
using FluentMigrator;
using FluentMigrator.Infrastructure;
using FluentMigrator.Runner;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Npgsql;
using TimeTrack.Migrations.Runner.Databases;
using TimeTrack.Migrations.Runner.Output;

namespace TimeTrack.Migrations.Runner.Running;

/// <summary>A step that ran, and how long it took.</summary>
public sealed record StepResult(long Version, string Description, Direction Direction, TimeSpan Duration);

/// <summary>
/// Runs a plan with FluentMigrator, one migration at a time, each in its own transaction unless
/// it declares it cannot run in one. The caller holds the migration lock; this builds
/// FluentMigrator's container only now, so its version snapshot is fresh.
/// </summary>
/// <remarks>
/// A signal (<see cref="Interruption"/>) cancels the step in progress (<see cref="StatementCanceller"/>)
/// and stops the run before the next step, with <see cref="MigrationInterruptedException"/> saying which.
/// </remarks>
public sealed class Migrator(Database database, MigrationCatalog catalog, ILoggerFactory logs)
{
    private readonly ILogger _log = logs.CreateLogger(Logging.Category);

    public IReadOnlyList<StepResult> Run(IReadOnlyList<PlannedStep> steps, Action<StepResult> onStep) =>
        // Nothing to do is the container-restart path: return before FluentMigrator (and the
        // dependency injection it is built with) is even loaded.
        steps.Count == 0 ? [] : RunWithFluentMigrator(steps, onStep);

    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.NoInlining)]
    private List<StepResult> RunWithFluentMigrator(IReadOnlyList<PlannedStep> steps, Action<StepResult> onStep)
    {
        var results = new List<StepResult>();
        using var services = FluentMigratorServices.Create(
            database.Target with { ConnectionString = database.MigrationConnectionString },
            catalog.Assembly,
            new FluentMigratorServices.Options { Logs = logs });
        using var scope = services.CreateScope();
        var runner = (MigrationRunner)scope.ServiceProvider.GetRequiredService<IMigrationRunner>();
        var stepConnection = ((FluentMigrator.Runner.Processors.GenericProcessorBase)scope.ServiceProvider.GetRequiredService<FluentMigrator.IMigrationProcessor>()).Connection;
        var interrupted = Interruption.Token;
        var infos = runner.MigrationLoader.LoadMigrations();

        if (steps.Any(s => s.Direction == Direction.Down))
        {
            RefuseIrreversible(steps, scope.ServiceProvider);
        }

        foreach (var step in steps)
        {
            if (interrupted.IsCancellationRequested)
            {
                throw new MigrationInterruptedException($"stopped before {Doing(step)}");
            }

            var info = infos[step.Migration.Version];
            var transactional = info.TransactionBehavior == TransactionBehavior.Default;
            _log.LogInformation("{Verb} {Version} {Description}{Note}",
                step.Direction == Direction.Up ? "applying" : "rolling back", step.Migration.Version, step.Migration.Description,
                transactional ? "" : " (not in a transaction)");
            var clock = Stopwatch.StartNew();
            try
            {
                using var canceller = new StatementCanceller(database, stepConnection, interrupted);
                if (step.Direction == Direction.Up)
                {
                    runner.ApplyMigrationUp(info, transactional);
                }
                else
                {
                    runner.ApplyMigrationDown(info, transactional);
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
                var done = results.Count == 0 ? "" : $" after {results.Count} successful step(s)";
                if (database.IsLockedByAnotherProcess(e))
                {
                    throw new UserError(ExitCode.LockTimeout,
                        $"migration {step.Migration.Version} ({step.Migration.Description}) could not start{done}: another process held a write lock on the database " +
                        $"for more than {database.BusyTimeout.TotalSeconds:0} s (--lock-timeout). It was rolled back", e);
                }

                throw new UserError(ExitCode.MigrationFailed,
                    $"migration {step.Migration.Version} ({step.Migration.Description}) failed{done}: {DatabaseError(e).TrimEnd('.')}. " +
                    (transactional ? "It was rolled back" : "It does not run in a transaction; it is written to be re-run safely"),
                    e);
            }

            var result = new StepResult(step.Migration.Version, step.Migration.Description, step.Direction, clock.Elapsed);
            results.Add(result);
            onStep(result);
        }

        if (interrupted.IsCancellationRequested)
        {
            // The last step completed before the cancel could take effect: it stays done.
            throw new MigrationInterruptedException($"{Doing(steps[^1])} completed before the cancel took effect");
        }

        return results;
    }

    private static string Doing(PlannedStep step) =>
        $"{(step.Direction == Direction.Up ? "applying" : "rolling back")} {step.Migration.Version} ({step.Migration.Description})";

    /// <summary>
    /// Builds the Down of every migration to undo before anything runs: one that throws or has
    /// no statements cannot be undone, and the rollback is refused naming it.
    /// </summary>
    public static void RefuseIrreversible(IReadOnlyList<PlannedStep> steps, IServiceProvider services)
    {
        var processor = services.GetRequiredService<FluentMigrator.IMigrationProcessor>();
        foreach (var step in steps.Where(s => s.Direction == Direction.Down))
        {
            var migration = (IMigration)Activator.CreateInstance(step.Migration.Type)!;
            var context = new MigrationContext(processor, services, "");
            string? reason = null;
            try
            {
                migration.GetDownExpressions(context);
                if (context.Expressions.Count == 0)
                {
                    reason = "its Down does nothing";
                }
            }
            catch (Exception e) when (e is NotSupportedException or NotImplementedException or InvalidOperationException)
            {
                reason = string.IsNullOrWhiteSpace(e.Message) ? "its Down throws" : e.Message;
            }

            if (reason is not null)
            {
                throw new UserError(ExitCode.Refused,
                    $"migration {step.Migration.Version} ({step.Migration.Description}) is irreversible ({reason}); nothing was rolled back");
            }
        }
    }

    /// <summary>The database's own words (SQLSTATE or SQLite code + message), never a stack trace.</summary>
    public static string DatabaseError(Exception e)
    {
        for (var inner = e; inner is not null; inner = inner.InnerException)
        {
            switch (inner)
            {
                case PostgresException pg:
                    return $"{pg.SqlState}: {pg.MessageText}";
                case SqliteException sqlite:
                    return sqlite.Message.Replace("SQLite Error ", "SQLite error ", StringComparison.Ordinal);
            }
        }

        return e.GetBaseException().Message;
    }
}
