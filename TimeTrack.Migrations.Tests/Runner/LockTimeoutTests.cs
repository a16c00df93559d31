using System.Diagnostics;
using FluentMigrator;
using Npgsql;
using TimeTrack.Migrations.Migrations;
using TimeTrack.Migrations.Runner.Databases;
using TimeTrack.Migrations.Runner.Databases.Postgres;
using TimeTrack.Migrations.Runner.Running;
using TimeTrack.Migrations.Tests.Infrastructure;

namespace TimeTrack.Migrations.Tests.Runner;

/// <summary>
/// Migrating under live traffic on PostgreSQL: another session's long transaction holds a lock
/// on the table a step alters. The step waits at most its lock timeout (so the queries queued
/// behind it do too), is rolled back and retried; it completes when the transaction ends in time,
/// and fails naming the blocker, with nothing applied, when it does not.
/// </summary>
public sealed class PostgresLockTimeoutTests() : RunnerTestBase(DatabaseKind.Postgres)
{
    private static long TaskPriority => Versions[4];

    [Fact]
    public async Task A_transaction_holding_tasks_longer_than_every_retry_fails_the_step_naming_it_and_other_queries_wait_no_longer_than_the_lock_timeout()
    {
        ShouldSucceed(await RunAsync("up", "--to", Versions[3].ToString()));
        var before = await Db.FingerprintAsync();
        var application = "tt_report_" + Guid.NewGuid().ToString("N")[..8];

        await using var blocker = await OpenSessionAsync(application);
        await using var transaction = await blocker.BeginTransactionAsync();
        await ExecuteAsync(blocker, "SELECT id FROM tasks LIMIT 1", transaction); // ACCESS SHARE on tasks until the end of the transaction

        using var stop = new CancellationTokenSource();
        var traffic = LongestQueryAsync("SELECT count(*) FROM tasks", stop.Token);
        var clock = Stopwatch.StartNew();
        // A 2 s lock timeout: on a loaded machine (four test classes on two cores) the blockers
        // must be seen within each attempt for the lines this test reads to name them.
        var result = await RunAsync("up", "--ddl-lock-timeout", "2", "--ddl-retries", "2", "--ddl-retry-for", "30");
        clock.Stop();
        await Task.Delay(300); // a query started as the runner ended
        await stop.CancelAsync();
        var (longest, queries) = await traffic;
        await transaction.RollbackAsync();

        result.ExitCode.ShouldBe(1, result.ToString());
        var error = result.Stderr.Split('\n').Where(l => l.StartsWith("error:", StringComparison.Ordinal)).ShouldHaveSingleItem();
        error.ShouldContain($"migration {TaskPriority} (Add task priority) failed: could not get its lock in 3 attempt(s)", Case.Sensitive, result.ToString());
        error.ShouldContain("--ddl-lock-timeout 2 s, --ddl-retries 2, --ddl-retry-for 30 s");
        error.ShouldContain($"application '{application}'");
        error.ShouldContain("idle in transaction");
        error.ShouldContain("nothing of it was applied");
        result.Output.ShouldNotContain("SELECT id FROM tasks", Case.Insensitive, "a blocker's query text must never be printed");
        result.Output.ShouldNotContain("   at ", Case.Sensitive, "a stack trace was printed");
        var retries = result.Stderr.Split('\n').Where(l => l.Contains("waited 2 s for a lock (lock timeout) and was rolled back", StringComparison.Ordinal)).ToList();
        retries.Count.ShouldBe(2, result.ToString());
        retries.ShouldAllBe(l => l.Contains(application));

        (await Db.AppliedVersionsAsync()).ShouldBe(Versions[..4]);
        (await Db.FingerprintAsync()).ShouldBe(before);
        queries.ShouldBeGreaterThan(5, "the concurrent client ran");
        longest.ShouldBeLessThan(TimeSpan.FromSeconds(2 + 2),
            $"a query on tasks waited {longest.TotalMilliseconds:0} ms behind the queued ALTER TABLE (the runner ran {clock.Elapsed.TotalSeconds:0.0} s)");
    }

    [Fact]
    public async Task A_transaction_that_ends_during_the_retries_lets_the_step_complete()
    {
        ShouldSucceed(await RunAsync("up", "--to", Versions[3].ToString()));
        var application = "tt_batch_" + Guid.NewGuid().ToString("N")[..8];

        await using var blocker = await OpenSessionAsync(application);
        await using (var transaction = await blocker.BeginTransactionAsync())
        {
            await ExecuteAsync(blocker, "SELECT id FROM tasks LIMIT 1", transaction);
            var run = RunAsync("up", "--ddl-lock-timeout", "1", "--ddl-retries", "20", "--ddl-retry-for", "120");

            // The ALTER queues for its lock; after more than the lock timeout the first attempt has given up.
            await PollAsync($"SELECT count(*) FROM pg_locks WHERE NOT granted AND mode = 'AccessExclusiveLock' AND relation = 'tasks'::regclass AND {ThisDatabase}", 1, run);
            await Task.Delay(TimeSpan.FromSeconds(1.5));
            await transaction.CommitAsync();

            var result = await run;
            ShouldSucceed(result);
            result.Stderr.ShouldContain($"applying {TaskPriority} (Add task priority): attempt 1 waited 1 s for a lock (lock timeout) and was rolled back; blocked by pid");
            result.Stderr.ShouldContain($"application '{application}'");
            result.Stdout.ShouldContain($"applied {TaskPriority} Add task priority");
        }

        (await Db.AppliedVersionsAsync()).ShouldBe(Versions);
        (await Db.CountAsync("SELECT count(*) FROM information_schema.columns WHERE table_name = 'tasks' AND column_name = 'priority'")).ShouldBe(1);
    }

    [Fact]
    public async Task The_concurrent_index_build_waits_for_an_old_transaction_without_a_lock_timeout_and_says_what_it_waits_for()
    {
        ShouldSucceed(await RunAsync("up", "--to", Versions[2].ToString()));
        var application = "tt_writer_" + Guid.NewGuid().ToString("N")[..8];

        await using var blocker = await OpenSessionAsync(application);
        await using (var transaction = await blocker.BeginTransactionAsync())
        {
            await ExecuteAsync(blocker, "LOCK TABLE time_entries IN ROW EXCLUSIVE MODE", transaction); // as an open writer holds it
            var run = RunAsync("up", "--to", Versions[3].ToString(), "--ddl-lock-timeout", "1");

            await PollAsync($"SELECT count(*) FROM pg_stat_activity WHERE query LIKE 'CREATE INDEX CONCURRENTLY%' AND wait_event_type = 'Lock' AND datname = current_database()", 1, run);
            await Task.Delay(TimeSpan.FromSeconds(2.5)); // longer than the lock timeout: it is not applied to this step
            run.IsCompleted.ShouldBeFalse("the index build should still be waiting for the open transaction");
            await transaction.CommitAsync();

            var result = await run;
            ShouldSucceed(result);
            var waiting = result.Stderr.Split('\n').Where(l => l.Contains($"applying {Versions[3]} (Index time entries by user and day) is waiting for pid", StringComparison.Ordinal)).ToList();
            waiting.ShouldNotBeEmpty(result.ToString());
            waiting[0].ShouldContain($"application '{application}'");
            waiting[0].ShouldContain("not timed out");
            result.Stderr.ShouldNotContain("lock timeout) and was rolled back");
        }

        (await Db.AppliedVersionsAsync()).ShouldBe(Versions[..4]);
    }

    [Fact]
    public async Task A_statement_timeout_fails_a_long_step_and_rolls_it_back()
    {
        ShouldSucceed(await RunScenarioAsync("normal", "up", "--to", "200"));
        var before = await Db.FingerprintAsync();

        var result = await RunScenarioAsync("slow", "up", "--statement-timeout", "1");

        result.ExitCode.ShouldBe(1, result.ToString());
        result.Stderr.ShouldContain("error: migration 300 (Scenario step) failed: 57014: canceling statement due to statement timeout. It was rolled back");
        (await Db.FingerprintAsync()).ShouldBe(before);
    }

    [Theory]
    [InlineData(new[] { "--ddl-lock-timeout", "-1" }, null, "--ddl-lock-timeout must be 0 or more seconds, not -1")]
    [InlineData(new[] { "--ddl-lock-timeout", "soon" }, null, "soon")]
    [InlineData(new[] { "--ddl-retries", "101" }, null, "--ddl-retries must be from 0 to 100, not 101")]
    [InlineData(new[] { "--ddl-retry-for", "-5" }, null, "--ddl-retry-for must be 0 or more seconds, not -5")]
    [InlineData(new[] { "--statement-timeout", "-1" }, null, "--statement-timeout must be 0 or more seconds, not -1")]
    [InlineData(new string[0], "TIMETRACK_DDL_LOCK_TIMEOUT=3s", "--ddl-lock-timeout: '3s' from the environment is not a whole number of seconds")]
    [InlineData(new string[0], "TIMETRACK_DDL_RETRIES=many", "--ddl-retries: 'many' from the environment is not a whole number")]
    public async Task Bad_values_of_the_lock_options_exit_2_with_one_line(string[] options, string? environment, string message)
    {
        var env = environment?.Split('=') is [var name, var value] ? new Dictionary<string, string?> { [name] = value } : null;

        ShouldFailWithOneLine(await RunAsync(["up", .. options], env), 2, message);

        (await Db.AppliedVersionsAsync()).ShouldBeEmpty();
    }

    private async Task<NpgsqlConnection> OpenSessionAsync(string application)
    {
        var connection = (NpgsqlConnection)Db.OpenConnection();
        await ExecuteAsync(connection, $"SET application_name = '{application}'");
        return connection;
    }

    private static async Task ExecuteAsync(NpgsqlConnection connection, string sql, NpgsqlTransaction? transaction = null)
    {
        await using var command = new NpgsqlCommand(sql, connection, transaction);
        await command.ExecuteNonQueryAsync();
    }

    /// <summary>Another client querying continuously: the longest any one query took, and how many ran.</summary>
    private Task<(TimeSpan Longest, int Queries)> LongestQueryAsync(string sql, CancellationToken stop) => Task.Run(async () =>
    {
        await using var connection = await OpenSessionAsync("tt_traffic");
        var longest = TimeSpan.Zero;
        var queries = 0;
        while (!stop.IsCancellationRequested)
        {
            var clock = Stopwatch.StartNew();
            await using (var command = new NpgsqlCommand(sql, connection))
            {
                await command.ExecuteScalarAsync(CancellationToken.None);
            }

            longest = clock.Elapsed > longest ? clock.Elapsed : longest;
            queries++;
            await Task.Delay(20, CancellationToken.None);
        }

        return (longest, queries);
    });

    /// <summary>pg_locks is the whole server's, and other test classes run runners at the same time.</summary>
    private const string ThisDatabase = "database = (SELECT oid FROM pg_database WHERE datname = current_database())";

    private async Task PollAsync(string countSql, long expected, Task<ProcessResult> run)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(60); // the runner starts slowly on a loaded machine
        while (DateTime.UtcNow < deadline)
        {
            if (await Db.CountAsync(countSql) == expected)
            {
                return;
            }

            if (run.IsCompleted)
            {
                throw new InvalidOperationException($"the runner ended first:\n{await run}");
            }

            await Task.Delay(50);
        }

        (await Db.CountAsync(countSql)).ShouldBe(expected, $"not reached in 60 s: {countSql}");
    }
}

/// <summary>The retry schedule, the options' effect on the statements a step runs first, and [StepTimeouts].</summary>
public sealed class DdlRetryPolicyTests
{
    [Fact]
    public void The_backoff_doubles_from_half_a_second_up_to_8_s_with_a_random_half_of_each_delay()
    {
        var random = new Random(42);
        for (var retry = 1; retry <= 40; retry++)
        {
            var ceiling = Math.Min(8000, 500 * Math.Pow(2, retry - 1));
            for (var sample = 0; sample < 50; sample++)
            {
                var delay = DdlRetryPolicy.Delay(retry, random).TotalMilliseconds;
                delay.ShouldBeGreaterThanOrEqualTo(ceiling / 2);
                delay.ShouldBeLessThanOrEqualTo(ceiling);
            }
        }

        // Jittered: containers started together do not retry in step.
        Enumerable.Range(0, 20).Select(_ => DdlRetryPolicy.Delay(3, random)).Distinct().Count().ShouldBeGreaterThan(15);
        Should.Throw<ArgumentOutOfRangeException>(() => DdlRetryPolicy.Delay(0, random));
    }

    [Fact]
    public void The_default_schedule_ends_within_its_time_budget_even_when_every_attempt_waits_its_whole_lock_timeout()
    {
        var policy = DdlRetryPolicy.Default;
        policy.LockTimeout.ShouldBe(TimeSpan.FromSeconds(3));
        policy.StatementTimeout.ShouldBe(TimeSpan.Zero);
        foreach (var seed in Enumerable.Range(0, 200))
        {
            var random = new Random(seed);
            var elapsed = policy.LockTimeout; // the first attempt
            var attempts = 1;
            while (true)
            {
                var delay = DdlRetryPolicy.Delay(attempts, random);
                if (!policy.MayRetry(attempts, elapsed, delay, policy.LockTimeout))
                {
                    break;
                }

                elapsed += delay + policy.LockTimeout;
                attempts++;
            }

            attempts.ShouldBeLessThanOrEqualTo(policy.Retries + 1);
            attempts.ShouldBeGreaterThanOrEqualTo(6);
            elapsed.ShouldBeLessThanOrEqualTo(policy.RetryFor);
        }

        // Without a time budget the count still bounds it.
        var countOnly = policy with { RetryFor = TimeSpan.Zero, Retries = 2 };
        countOnly.MayRetry(2, TimeSpan.FromHours(1), TimeSpan.FromSeconds(8), TimeSpan.FromSeconds(3)).ShouldBeTrue();
        countOnly.MayRetry(3, TimeSpan.Zero, TimeSpan.Zero, TimeSpan.Zero).ShouldBeFalse();
    }

    [Fact]
    public void PostgreSQL_steps_set_their_timeouts_for_their_own_transaction_only_and_SQLite_steps_set_none()
    {
        PostgresProvider.Instance.StepTimeoutStatements(TimeSpan.FromSeconds(3), null)
            .ShouldBe(["SET LOCAL lock_timeout = '3000ms'"]);
        PostgresProvider.Instance.StepTimeoutStatements(TimeSpan.FromSeconds(1), TimeSpan.Zero)
            .ShouldBe(["SET LOCAL lock_timeout = '1000ms'", "SET LOCAL statement_timeout = '0ms'"]);
        PostgresProvider.Instance.StepTimeoutStatements(null, null).ShouldBeEmpty();
        DatabaseProvider.For(DatabaseKind.Sqlite).StepTimeoutStatements(TimeSpan.FromSeconds(3), TimeSpan.FromSeconds(5)).ShouldBeEmpty();
    }

    [Fact]
    public void The_catalog_reads_a_migrations_own_timeouts_once_from_its_attribute()
    {
        var catalog = MigrationCatalog.FromAssembly(typeof(DdlRetryPolicyTests).Assembly);

        var own = catalog.Find(M990001_LongDataStep.Version).ShouldNotBeNull();
        own.StatementTimeoutSeconds.ShouldBe(0);
        own.LockTimeoutSeconds.ShouldBe(10);
        var partly = catalog.Find(M990002_HotTableStep.Version).ShouldNotBeNull();
        partly.LockTimeoutSeconds.ShouldBe(1);
        partly.StatementTimeoutSeconds.ShouldBeNull();

        MigrationCatalog.FromAssembly(typeof(TimeTrackMigration).Assembly).Migrations
            .ShouldAllBe(m => m.LockTimeoutSeconds == null && m.StatementTimeoutSeconds == null);
    }
}

[Migration(Version, "A long data step")]
[StepTimeouts(StatementTimeoutSeconds = 0, LockTimeoutSeconds = 10)]
public sealed class M990001_LongDataStep : Migration
{
    public const long Version = 990001;

    public override void Up() => Execute.Sql("SELECT 1");

    public override void Down() => Execute.Sql("SELECT 1");
}

[Migration(Version, "A step on a hot table")]
[StepTimeouts(LockTimeoutSeconds = 1)]
public sealed class M990002_HotTableStep : Migration
{
    public const long Version = 990002;

    public override void Up() => Execute.Sql("SELECT 1");

    public override void Down() => Execute.Sql("SELECT 1");
}
