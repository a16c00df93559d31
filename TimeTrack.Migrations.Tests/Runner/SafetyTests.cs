using System.Diagnostics;
using Microsoft.Data.Sqlite;
using Npgsql;
using TimeTrack.Migrations.Runner.Databases;
using TimeTrack.Migrations.Runner.Databases.Postgres;
using TimeTrack.Migrations.Tests.Infrastructure;

namespace TimeTrack.Migrations.Tests.Runner;

/// <summary>What FluentMigrator lacks: one runner at a time, faults, kills, and history this build does not know.</summary>
public abstract class SafetyTests(DatabaseKind provider) : RunnerTestBase(provider)
{
    [Fact]
    public async Task Ten_runners_started_at_once_all_succeed_and_apply_each_migration_exactly_once()
    {
        // Ten processes, as ten containers would be: the lock is what keeps them apart, nothing shared in a process.
        var runs = Enumerable.Range(0, 10).Select(_ => RunProcessAsync(["up"])).ToList();
        var results = await Task.WhenAll(runs);

        foreach (var result in results)
        {
            ShouldSucceed(result);
        }

        foreach (var version in Versions)
        {
            results.Count(r => r.Stdout.Contains($"applied {version} ")).ShouldBe(1, $"migration {version} was applied more or less than once");
        }

        (await Db.AppliedVersionsAsync()).ShouldBe(Versions);
        (await Db.CountAsync("SELECT count(*) FROM \"VersionInfo\"")).ShouldBe(Versions.Length);
    }

    [Fact]
    public async Task A_failing_migration_is_rolled_back_and_the_database_stays_at_the_last_good_version_with_its_data()
    {
        var result = await RunScenarioAsync("fail", "up");

        result.ExitCode.ShouldBe(1, result.ToString());
        var errors = result.Stderr.Split('\n').Where(l => l.StartsWith("error:", StringComparison.Ordinal)).ToList();
        errors.Count.ShouldBe(1, result.ToString());
        errors[0].ShouldContain("migration 300 (Scenario step) failed");
        errors[0].ShouldContain("no_such_table");
        result.Output.ShouldNotContain("   at ");

        (await Db.AppliedVersionsAsync()).ShouldBe([100L, 200L]);
        (await Db.CountAsync("widgets")).ShouldBe(2);
        (await Db.ReadSchemaAsync()).Table("gadgets").ShouldBeNull();

        ShouldSucceed(await RunScenarioAsync("normal", "up"));
        (await Db.AppliedVersionsAsync()).ShouldBe([100L, 200L, 300L]);
    }

    [Fact]
    public async Task A_runner_killed_in_the_middle_of_a_migration_leaves_nothing_half_applied_and_no_lock()
    {
        using (var runner = RunnerProcess.Start(RunnerProcess.Executable,
                   ["up", "--database-url", Db.Url, "--migrations-assembly", RunnerProcess.ScenariosAssembly],
                   new Dictionary<string, string?> { ["TIMETRACK_TEST_SCENARIO"] = "slow" }))
        {
            await WaitForLineAsync(runner, "applying 300");
            await Task.Delay(700); // inside the slow statement
            runner.Kill(); // SIGKILL
            await runner.WaitForExitAsync();
        }

        (await Db.AppliedVersionsAsync()).ShouldBe([100L, 200L]);
        (await Db.ReadSchemaAsync()).Table("gadgets").ShouldBeNull();

        var rerun = await RunAsync(["up", "--migrations-assembly", RunnerProcess.ScenariosAssembly, "--lock-timeout", "30"], null);
        ShouldSucceed(rerun);
        (await Db.AppliedVersionsAsync()).ShouldBe([100L, 200L, 300L]);
    }

    [Fact]
    public async Task Versions_newer_than_this_build_warn_and_continue()
    {
        ShouldSucceed(await RunAsync("up", "--to", Versions[3].ToString()));
        await Db.ExecuteAsync("INSERT INTO \"VersionInfo\" (\"Version\", \"AppliedOn\", \"Description\") VALUES (209901010000, '2099-01-01', 'From a newer image')");

        var result = await RunAsync("up");

        ShouldSucceed(result);
        result.Stderr.ShouldContain("warning: the database records version(s) 209901010000 newer than this build knows");
        (await Db.AppliedVersionsAsync()).ShouldBe([.. Versions, 209901010000]);
        (await RunAsync("status")).Stdout.ShouldContain("unknown:      209901010000 (newer than this build");

        var rollback = await RunAsync("rollback");
        rollback.ExitCode.ShouldBe(5, rollback.ToString());
        rollback.Stderr.ShouldContain("cannot roll back version 209901010000 (applied before the runner recorded history): this build does not know them and no Down was recorded");
    }

    [Fact]
    public async Task Unknown_versions_between_known_ones_are_refused_unless_allowed()
    {
        ShouldSucceed(await RunAsync("up", "--to", Versions[2].ToString()));
        await Db.ExecuteAsync("INSERT INTO \"VersionInfo\" (\"Version\", \"AppliedOn\", \"Description\") VALUES (202406200000, '2024-06-20', 'From another branch')");
        var before = await Db.FingerprintAsync();

        ShouldFailWithOneLine(await RunAsync("up"), 5, "202406200000 that this build does not know");
        (await Db.FingerprintAsync()).ShouldBe(before);

        ShouldSucceed(await RunAsync("up", "--allow-unknown"));
        (await Db.AppliedVersionsAsync()).ShouldContain(Versions[^1]);
    }

    [Fact]
    public async Task Pending_migrations_older_than_the_newest_applied_are_refused_unless_allowed()
    {
        ShouldSucceed(await RunScenarioAsync("normal", "up", "--to", "100"));
        await Db.ExecuteAsync("INSERT INTO \"VersionInfo\" (\"Version\", \"AppliedOn\", \"Description\") VALUES (300, '2024-01-01', 'Scenario step')");
        var before = await Db.FingerprintAsync();

        var refused = await RunScenarioAsync("normal", "up");
        ShouldFailWithOneLine(refused, 5, "pending migration(s) 200 are older than the newest applied version 300");
        (await Db.FingerprintAsync()).ShouldBe(before);
        (await RunScenarioAsync("normal", "status")).Stdout.ShouldContain("[out of order");

        ShouldSucceed(await RunScenarioAsync("normal", "up", "--allow-out-of-order"));
        (await Db.AppliedVersionsAsync()).ShouldBe([100L, 200L, 300L]);
    }

    [Fact]
    public async Task Rollback_refuses_when_a_migration_has_no_down_and_names_it()
    {
        ShouldSucceed(await RunScenarioAsync("normal", "up"));
        var before = await Db.FingerprintAsync();

        var result = await RunScenarioAsync("irreversible", "rollback", "--to", "100");

        ShouldFailWithOneLine(result, 5, "migration 300 (Scenario step) is irreversible (gadgets cannot be restored once dropped)");
        (await Db.FingerprintAsync()).ShouldBe(before);
    }

    [Fact]
    public async Task Script_rollback_refuses_an_irreversible_migration_as_rollback_does()
    {
        ShouldSucceed(await RunScenarioAsync("normal", "up"));

        var result = await RunScenarioAsync("irreversible", "script", "rollback", "--to", "100");

        ShouldFailWithOneLine(result, 5, "migration 300 (Scenario step) is irreversible (gadgets cannot be restored once dropped)");
    }

    internal static async Task WaitForLineAsync(Process process, string text)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        while (await process.StandardError.ReadLineAsync(timeout.Token) is { } line)
        {
            if (line.Contains(text, StringComparison.Ordinal))
            {
                return;
            }
        }

        throw new InvalidOperationException($"the runner ended before printing '{text}'");
    }
}

public sealed class PostgresSafetyTests() : SafetyTests(DatabaseKind.Postgres)
{
    [Fact]
    public async Task The_runner_waits_for_a_database_that_comes_up_late()
    {
        var server = await PostgresServer.GetAsync();
        await using var proxy = new DelayedTcpProxy(server.Host, server.Port, TimeSpan.FromSeconds(2));
        var lateUrl = Db.Url.Replace($":{server.Port}/", $":{proxy.Port}/", StringComparison.Ordinal);

        var result = await InProcessRunner.RunAsync(["up", "--database-url", lateUrl, "--wait", "30"]);

        result.ExitCode.ShouldBe(0, result.ToString());
        proxy.Dropped.ShouldBeGreaterThan(0);
        result.Stderr.ShouldContain("retrying for up to");
        (await Db.AppliedVersionsAsync()).ShouldBe(Versions);
    }

    [Fact]
    public async Task Waiting_gives_up_with_exit_3_when_the_database_never_comes()
    {
        var server = await PostgresServer.GetAsync();
        await using var proxy = new DelayedTcpProxy(server.Host, server.Port, TimeSpan.FromHours(1));
        var url = Db.Url.Replace($":{server.Port}/", $":{proxy.Port}/", StringComparison.Ordinal);

        var result = await InProcessRunner.RunAsync(["up", "--database-url", url, "--wait", "2"]);

        result.ExitCode.ShouldBe(3, result.ToString());
        proxy.Dropped.ShouldBeGreaterThan(1);
        result.Stderr.Split('\n').Last(l => l.Length > 0).ShouldStartWith("error: could not connect");
    }

    [Fact]
    public async Task An_interrupted_concurrent_index_build_leaves_an_invalid_index_that_the_rerun_replaces()
    {
        ShouldSucceed(await RunAsync("up", "--to", Versions[2].ToString()));

        // A writer with an open transaction makes CREATE INDEX CONCURRENTLY wait after it has
        // already created the (still INVALID) index.
        await using var blocker = (NpgsqlConnection)Db.OpenConnection();
        await using var transaction = await blocker.BeginTransactionAsync();
        await using (var lockTable = new NpgsqlCommand("LOCK TABLE time_entries IN ROW EXCLUSIVE MODE", blocker, transaction))
        {
            await lockTable.ExecuteNonQueryAsync();
        }

        using (var runner = RunnerProcess.Start(RunnerProcess.Executable, ["up", "--database-url", Db.Url]))
        {
            await WaitForLineAsync(runner, $"applying {Versions[3]}");
            await PollAsync(async () => await Db.CountAsync("SELECT count(*) FROM pg_class WHERE relname = 'ix_time_entries_user_arrival'") == 1);
            runner.Kill();
            await runner.WaitForExitAsync();
        }

        // The server notices the vanished client (client_connection_check_interval) and cancels the build.
        await PollAsync(async () => await Db.CountAsync("SELECT count(*) FROM pg_stat_activity WHERE query LIKE 'CREATE INDEX CONCURRENTLY%' AND pid <> pg_backend_pid()") == 0);
        (await Db.CountAsync("SELECT count(*) FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid WHERE c.relname = 'ix_time_entries_user_arrival' AND NOT i.indisvalid")).ShouldBe(1);
        (await Db.AppliedVersionsAsync()).ShouldBe(Versions[..3]);
        await transaction.RollbackAsync();

        ShouldSucceed(await RunAsync("up"));
        (await Db.AppliedVersionsAsync()).ShouldBe(Versions);
        var index = (await Db.ReadSchemaAsync()).Table("time_entries")!.Indexes.Single();
        index.Name.ShouldBe("ix_time_entries_user_arrival");
        index.IsValid.ShouldBeTrue();
    }

    [Fact]
    public async Task A_runner_waiting_for_the_lock_is_woken_by_the_holder_releasing_it_not_by_polling()
    {
        var target = DatabaseUrl.Parse(Db.Url);
        await using var holder = await Database.OpenWaitingAsync(target, TimeSpan.Zero, _ => { });
        await using var waiter = (PostgresDatabase)await Database.OpenWaitingAsync(target, TimeSpan.Zero, _ => { });
        // No poll within the hour and a ten-minute lock timeout: only the holder's notification can wake it.
        waiter.LockPollInterval = TimeSpan.FromHours(1);
        var listening = new TaskCompletionSource();
        waiter.Waiting = () => listening.TrySetResult();
        var messages = new List<string>();

        var held = await holder.AcquireMigrationLockAsync(TimeSpan.FromSeconds(1), _ => { });
        var taking = waiter.AcquireMigrationLockAsync(TimeSpan.FromMinutes(10), m =>
        {
            lock (messages)
            {
                messages.Add(m);
            }
        });
        // It listens, has tried again since, found the lock taken, and waits.
        await listening.Task.WaitAsync(TimeSpan.FromSeconds(60));
        taking.IsCompleted.ShouldBeFalse("the waiter took a lock that was held");
        await held.DisposeAsync();

        await using (await taking.WaitAsync(TimeSpan.FromSeconds(60)))
        {
            lock (messages)
            {
                messages[0].ShouldContain("waiting for its lock");
                messages[^1].ShouldStartWith("took the migration lock after waiting");
            }

            // The lock really is held by the waiter now.
            (await Db.CountAsync($"SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted AND pid = {waiter.Connection.ProcessID}")).ShouldBe(1);
        }

        // It listens no more once it holds the lock (a notification would be buffered for nothing).
        await using var channels = new NpgsqlCommand("SELECT count(*) FROM pg_listening_channels()", waiter.Connection);
        ((long)(await channels.ExecuteScalarAsync())!).ShouldBe(0);
    }

    [Fact]
    public async Task A_waiter_takes_the_lock_of_a_holder_that_ended_without_notifying()
    {
        // A killed runner (or one of an older build) releases the lock by its session ending, unannounced.
        var holder = (NpgsqlConnection)Db.OpenConnection();
        await using (var take = new NpgsqlCommand($"SELECT pg_advisory_lock({PostgresDatabase.MigrationLockKey})", holder))
        {
            await take.ExecuteScalarAsync();
        }

        using var waiter = RunnerProcess.Start(RunnerProcess.Executable, ["up", "--database-url", Db.Url, "--lock-timeout", "120"]);
        try
        {
            await WaitForLineAsync(waiter, "waiting for its lock");
            await holder.DisposeAsync();

            var stderr = await waiter.StandardError.ReadToEndAsync();
            await waiter.WaitForExitAsync();
            waiter.ExitCode.ShouldBe(0, stderr);
            stderr.ShouldContain("took the migration lock after waiting");
            (await Db.AppliedVersionsAsync()).ShouldBe(Versions);
        }
        finally
        {
            if (!waiter.HasExited)
            {
                waiter.Kill();
            }
        }
    }

    [Fact]
    public async Task Runners_waiting_for_the_lock_hold_no_snapshot_so_a_concurrent_index_build_of_the_holder_completes()
    {
        ShouldSucceed(await RunAsync("up", "--to", Versions[2].ToString()));

        // A writer's open transaction keeps CREATE INDEX CONCURRENTLY (step 4) waiting, long enough
        // for three more runners to queue for the migration lock behind it.
        await using var blocker = (NpgsqlConnection)Db.OpenConnection();
        await using var transaction = await blocker.BeginTransactionAsync();
        await using (var lockTable = new NpgsqlCommand("LOCK TABLE time_entries IN ROW EXCLUSIVE MODE", blocker, transaction))
        {
            await lockTable.ExecuteNonQueryAsync();
        }

        using var first = RunnerProcess.Start(RunnerProcess.Executable, ["up", "--database-url", Db.Url]);
        await WaitForLineAsync(first, $"applying {Versions[3]}");
        var waiters = Enumerable.Range(0, 3).Select(_ => RunnerProcess.Start(RunnerProcess.Executable, ["init", "--database-url", Db.Url, "--lock-timeout", "120"])).ToList();
        try
        {
            foreach (var waiter in waiters)
            {
                await WaitForLineAsync(waiter, "waiting for its lock");
            }

            await transaction.RollbackAsync();

            // A waiter blocked in pg_advisory_lock would hold a snapshot the index build waits for,
            // and the build would wait until the waiter gave up (exit 4): here everything succeeds.
            await first.WaitForExitAsync();
            first.ExitCode.ShouldBe(0);
            foreach (var waiter in waiters)
            {
                var stdout = await waiter.StandardOutput.ReadToEndAsync();
                var stderr = await waiter.StandardError.ReadToEndAsync();
                await waiter.WaitForExitAsync();
                waiter.ExitCode.ShouldBe(0, stderr);
                stdout.ShouldContain("nothing to do");
                stderr.ShouldContain("took the migration lock after waiting");
            }
        }
        finally
        {
            foreach (var waiter in waiters.Where(w => !w.HasExited))
            {
                waiter.Kill();
            }
        }

        (await Db.AppliedVersionsAsync()).ShouldBe(Versions);
        (await Db.ReadSchemaAsync()).Table("time_entries")!.Indexes.Single().IsValid.ShouldBeTrue();
    }

    private static async Task PollAsync(Func<Task<bool>> condition)
    {
        for (var i = 0; i < 300; i++)
        {
            if (await condition())
            {
                return;
            }

            await Task.Delay(100);
        }

        throw new TimeoutException("condition not reached in 30 s");
    }
}

public sealed class SqliteSafetyTests() : SafetyTests(DatabaseKind.Sqlite)
{
    [Fact]
    public async Task A_write_transaction_of_another_process_is_waited_for_up_to_the_lock_timeout_then_exit_4()
    {
        ShouldSucceed(await RunAsync("up", "--to", Versions[0].ToString()));
        var path = ((SqliteTestDatabase)Db).Path;
        await using (var application = new SqliteConnection($"Data Source={path};Pooling=False"))
        {
            await application.OpenAsync();
            using var transaction = application.BeginTransaction(deferred: false); // BEGIN IMMEDIATE: holds the write lock

            var result = await RunAsync("up", "--lock-timeout", "2");

            result.ExitCode.ShouldBe(4, result.ToString());
            result.Stderr.ShouldContain("error: migration 202406150900 (Add user preferences) could not start: another process held a write lock on the database for more than 2 s (--lock-timeout). It was rolled back");
        }

        (await Db.AppliedVersionsAsync()).ShouldBe([Versions[0]]);
        ShouldSucceed(await RunAsync("up"));
    }
}
