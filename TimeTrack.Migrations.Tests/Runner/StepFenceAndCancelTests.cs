using TimeTrack.Migrations.Runner.Databases;
using TimeTrack.Migrations.Runner.Databases.Postgres;
using TimeTrack.Migrations.Runner.Output;
using TimeTrack.Migrations.Runner.Running;
using TimeTrack.Migrations.TestScenarios;
using TimeTrack.Migrations.Tests.Infrastructure;

namespace TimeTrack.Migrations.Tests.Runner;

/// <summary>
/// What stops an in-process apply (<see cref="StepExecutor.ApplyAsync"/>) under the migration lock,
/// on PostgreSQL, with the scenario migrations (100, 200, 300): the caller's cancellation token
/// (the one channel from the signal to the statement), and the fence of each step and of the
/// lock's release (docs/topologies.md, "Step fencing").
/// </summary>
public sealed class StepFenceAndCancelTests : IAsyncLifetime
{
    private static readonly MigrationCatalog Scenarios = MigrationCatalog.FromAssembly(typeof(Scenario).Assembly);

    private TestDatabase _db = null!;

    public async Task InitializeAsync() => _db = await TestDatabase.CreateAsync(DatabaseKind.Postgres, "fence");

    public async Task DisposeAsync() => await _db.DisposeAsync();

    [Fact]
    public async Task Cancelling_the_token_during_a_step_cancels_its_statement_rolls_it_back_and_names_it()
    {
        Scenario.InProcess.Value = "normal";
        await _db.MigrateToAsync(200, Scenarios.Assembly);
        Scenario.InProcess.Value = "slow"; // step 300 ends in pg_sleep(120)
        await using var database = await Database.OpenAsync(_db.Target);
        await using var held = await database.AcquireMigrationLockAsync(TimeSpan.FromSeconds(30), _ => { });
        using var cancel = new CancellationTokenSource();

        var run = Task.Run(async () => await ApplyAsync(database, cancel.Token));
        await WaitForAsync("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND query LIKE '%pg_sleep(120)%' AND state = 'active' AND pid <> pg_backend_pid()", run);
        await cancel.CancelAsync();

        var error = await Should.ThrowAsync<MigrationInterruptedException>(run);
        error.Message.ShouldBe("applying 300 (Scenario step) was cancelled and its transaction rolled back");
        (await _db.AppliedVersionsAsync()).ShouldBe([100, 200]);
        (await _db.CountAsync("SELECT count(*) FROM pg_class WHERE relname = 'gadgets'")).ShouldBe(0);
        await held.ReleaseAsync(); // the lock was kept throughout
    }

    [Fact]
    public async Task Losing_the_lock_between_two_steps_stops_the_run_before_the_next_one_naming_it()
    {
        Scenario.InProcess.Value = "normal";
        await using var database = await Database.OpenAsync(_db.Target);
        var held = await database.AcquireMigrationLockAsync(TimeSpan.FromSeconds(30), _ => { });

        var error = await Should.ThrowAsync<UserError>(() =>
            ApplyAsync(database, CancellationToken.None, onStep: step =>
            {
                if (step.Version == 100)
                {
                    EndLockSessionAsync(database).GetAwaiter().GetResult();
                }
            }));

        error.Code.ShouldBe(ExitCode.MigrationFailed);
        error.Message.ShouldStartWith("migration 200 (Add widget colour) was not started after 1 successful step(s): " +
                                      "the run no longer holds the migration lock (the session that held it ended). Nothing of it was applied");
        (await _db.AppliedVersionsAsync()).ShouldBe([100]);
        (await _db.CountAsync("SELECT count(*) FROM information_schema.columns WHERE table_name = 'widgets' AND column_name = 'colour'")).ShouldBe(0);
        await held.DisposeAsync(); // quietly, on a dead session: the run's error is the one reported
    }

    [Fact]
    public async Task Losing_the_lock_after_the_last_step_is_reported_as_the_lock_is_released()
    {
        Scenario.InProcess.Value = "normal";
        await using var database = await Database.OpenAsync(_db.Target);
        await using var held = await database.AcquireMigrationLockAsync(TimeSpan.FromSeconds(30), _ => { });
        await ApplyAsync(database, CancellationToken.None, onStep: step =>
        {
            if (step.Version == 300)
            {
                EndLockSessionAsync(database).GetAwaiter().GetResult();
            }
        });

        var error = await Should.ThrowAsync<UserError>(held.ReleaseAsync);

        error.Code.ShouldBe(ExitCode.MigrationFailed);
        error.Message.ShouldStartWith("the migration lock was lost before the run released it (");
        (await _db.AppliedVersionsAsync()).ShouldBe([100, 200, 300]);
    }

    [Fact]
    public async Task With_the_lock_kept_every_fenced_step_applies_and_the_release_confirms_the_lock()
    {
        Scenario.InProcess.Value = "normal";
        await using var database = await Database.OpenAsync(_db.Target);
        await using var held = await database.AcquireMigrationLockAsync(TimeSpan.FromSeconds(30), _ => { });
        database.StepFenceStatement.ShouldNotBeNull();

        (await ApplyAsync(database, CancellationToken.None)).Select(s => s.Version).ShouldBe([100, 200, 300]);

        await held.ReleaseAsync();
        database.StepFenceStatement.ShouldBeNull(); // no lock, no fence
        (await _db.AppliedVersionsAsync()).ShouldBe([100, 200, 300]);
        (await _db.CountAsync("SELECT count(*) FROM pg_locks l JOIN pg_database d ON d.oid = l.database WHERE l.locktype = 'advisory' AND d.datname = current_database()")).ShouldBe(0);
    }

    private static async Task<IReadOnlyList<StepResult>> ApplyAsync(Database database, CancellationToken cancel, Action<StepResult>? onStep = null)
    {
        var plan = new VersionState(Scenarios, await database.ReadAppliedVersionsAsync(cancel)).PlanUp(null, allowUnknown: false, allowOutOfOrder: false);
        using var recorder = new HistoryRecorder(database.Provider, Scenarios, new Provenance("tests", null, Environment.MachineName, database.User));
        return await StepExecutor.ApplyAsync(new ApplyRequest { Database = database, Catalog = Scenarios, Recorder = recorder, Plan = plan, OnStep = onStep }, cancel);
    }

    /// <summary>Ends the lock's session from another (as a failover or an administrator would), and waits until it is gone with its lock.</summary>
    private async Task EndLockSessionAsync(Database database)
    {
        var pid = ((PostgresDatabase)database).Connection.ProcessID;
        (await _db.CountAsync($"SELECT count(*) FROM (SELECT 1 WHERE pg_terminate_backend({pid}, 30000)) AS ended")).ShouldBe(1);
    }

    private async Task WaitForAsync(string countSql, Task run)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(60);
        while (await _db.CountAsync(countSql) == 0)
        {
            if (run.IsCompleted)
            {
                await run;
                throw new InvalidOperationException("the run ended first");
            }

            DateTime.UtcNow.ShouldBeLessThan(deadline, $"not reached in 60 s: {countSql}");
            await Task.Delay(50);
        }
    }
}
