using System.Data.Common;
using TimeTrack.Migrations.Runner.Databases;
using TimeTrack.Migrations.Runner.Output;
using TimeTrack.Migrations.Tests.Infrastructure;
using TimeTrack.Migrations.Tests.Runner;

namespace TimeTrack.Migrations.Tests.Conformance;

/// <summary>
/// What every database provider must do (docs/provider-contract.md), in the style of
/// golang-migrate's database/testing: one set of tests over the provider's <see cref="Database"/>,
/// run for each provider by a subclass that only says how to make a database and a URL. A new
/// provider is done when a subclass of its own passes.
/// </summary>
public abstract class ProviderConformanceTests : IAsyncLifetime
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(60);

    protected TestDatabase Db { get; private set; } = null!;

    /// <summary>A new, empty database of the provider.</summary>
    protected abstract Task<TestDatabase> CreateDatabaseAsync();

    /// <summary>A URL of <paramref name="db"/> that carries <paramref name="password"/> (the database's own URL where URLs carry none).</summary>
    protected abstract string UrlWithPassword(TestDatabase db, string password);

    public async Task InitializeAsync() => Db = await CreateDatabaseAsync();

    public async Task DisposeAsync() => await Db.DisposeAsync();

    private Task<Database> OpenAsync() => Database.OpenAsync(Db.Target);

    [Fact]
    public async Task The_migration_lock_is_exclusive_a_waiter_gives_up_with_exit_4_and_gets_it_once_released_and_a_runner_at_head_does_not_wait()
    {
        await using var holder = await OpenAsync();
        await using var waiter = await OpenAsync();
        var waited = false;

        var held = await holder.AcquireMigrationLockAsync(TimeSpan.FromSeconds(1), _ => { });
        var refused = await Should.ThrowAsync<UserError>(() => waiter.AcquireMigrationLockAsync(TimeSpan.FromSeconds(1), _ => waited = true));
        refused.Code.ShouldBe(ExitCode.LockTimeout);
        waited.ShouldBeTrue("the waiter did not say it was waiting");

        // The runner as a whole: exit 4, one line, nothing applied.
        var runner = await InProcessRunner.RunAsync(["up", "--lock-timeout", "1", "--database-url", Db.Url]);
        runner.ExitCode.ShouldBe(4, runner.ToString());
        runner.Stderr.ShouldContain("waiting for its lock");
        runner.Stderr.ShouldContain("error: another runner held the migration lock for more than 1 s");
        (await Db.AppliedVersionsAsync()).ShouldBeEmpty();

        await held.DisposeAsync();
        await using (await waiter.AcquireMigrationLockAsync(Patience, _ => { }))
        {
        }

        // At head there is nothing to wait for: init and up answer at once, the lock held or not
        // (replicas restarting together do not take turns).
        (await InProcessRunner.RunAsync(["up", "--database-url", Db.Url])).ExitCode.ShouldBe(0);
        await using (await holder.AcquireMigrationLockAsync(Patience, _ => { }))
        {
            foreach (var command in new[] { "init", "up" })
            {
                var atHead = await InProcessRunner.RunAsync([command, "--lock-timeout", "1", "--database-url", Db.Url]);
                atHead.ExitCode.ShouldBe(0, atHead.ToString());
                atHead.Stdout.ShouldContain("nothing to do");
                atHead.Stderr.ShouldNotContain("waiting for its lock");
            }

            // Anything else still takes its turn.
            var down = await InProcessRunner.RunAsync(["init", "--to", RunnerTestBase.Versions[^2].ToString(System.Globalization.CultureInfo.InvariantCulture),
                "--allow-downgrade", "--lock-timeout", "1", "--database-url", Db.Url]);
            down.ExitCode.ShouldBe(4, down.ToString());
        }
    }

    [Fact]
    public async Task The_lock_of_a_runner_killed_while_holding_it_is_free_at_once()
    {
        using (var runner = RunnerProcess.Start(RunnerProcess.Executable,
                   ["up", "--database-url", Db.Url, "--migrations-assembly", RunnerProcess.ScenariosAssembly],
                   new Dictionary<string, string?> { ["TIMETRACK_TEST_SCENARIO"] = "slow" }))
        {
            await SafetyTests.WaitForLineAsync(runner, "applying 300");
            await using (var other = await OpenAsync())
            {
                (await Should.ThrowAsync<UserError>(() => other.AcquireMigrationLockAsync(TimeSpan.FromSeconds(1), _ => { }))).Code.ShouldBe(ExitCode.LockTimeout);
            }

            runner.Kill(); // SIGKILL: no chance to release anything itself
            await runner.WaitForExitAsync();
        }

        await using var database = await OpenAsync();
        await using var taken = await database.AcquireMigrationLockAsync(Patience, _ => { });
    }

    [Fact]
    public async Task A_running_statement_is_cancelled_and_its_connection_stays_usable()
    {
        await using var database = await OpenAsync();
        await using var step = Db.OpenConnection();
        await using var command = step.CreateCommand();
        // Valid on every SQL database the runner knows, and far longer than the test waits.
        command.CommandText = "WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM n WHERE x < 2000000000) SELECT count(*) FROM n";
        command.CommandTimeout = 0;
        var running = Task.Run(() => command.ExecuteScalarAsync());

        // A cancel before the statement started is a no-op (the contract): repeat until it ends.
        using var patience = new CancellationTokenSource(Patience);
        while (!running.IsCompleted && !patience.IsCancellationRequested)
        {
            await database.CancelStatementAsync(step);
            await Task.WhenAny(running, Task.Delay(200, CancellationToken.None));
        }

        running.IsCompleted.ShouldBeTrue("the statement was not cancelled");
        await Should.ThrowAsync<DbException>(() => running);
        await using var after = step.CreateCommand();
        after.CommandText = "SELECT 1";
        Convert.ToInt64(await after.ExecuteScalarAsync(), System.Globalization.CultureInfo.InvariantCulture).ShouldBe(1);
    }

    /// <summary>
    /// A step that waits for another session's lock: the provider names that session (without its
    /// statement, which can hold literal values), or, where the database cannot tell, recognises
    /// the failed wait as another process's lock; so the runner always says what it waits for.
    /// </summary>
    [Fact]
    public async Task A_step_waiting_for_another_sessions_lock_is_told_who_blocks_it()
    {
        await Db.ExecuteAsync("CREATE TABLE conformance_blocked (id integer)");
        await using var database = await OpenAsync();
        await using var holder = Db.OpenConnection();
        await using var transaction = await holder.BeginTransactionAsync();
        await using (var hold = holder.CreateCommand())
        {
            hold.Transaction = transaction;
            hold.CommandText = "ALTER TABLE conformance_blocked ADD COLUMN literal_secret_value integer";
            await hold.ExecuteNonQueryAsync();
        }

        await using var step = Db.OpenConnection();
        await using var insert = step.CreateCommand();
        insert.CommandText = "INSERT INTO conformance_blocked (id) VALUES (1)";
        insert.CommandTimeout = 5;
        var waiting = Task.Run(() => insert.ExecuteNonQueryAsync());

        IReadOnlyList<LockBlocker> blockers = [];
        while (!waiting.IsCompleted && blockers.Count == 0)
        {
            blockers = await database.FindBlockersAsync(step);
            await Task.WhenAny(waiting, Task.Delay(100));
        }

        if (blockers.Count > 0)
        {
            LockBlocker.Describe(blockers).ShouldNotContain("literal_secret_value");
            blockers.ShouldAllBe(b => b.ProcessId != 0);
            await database.CancelStatementAsync(step);
            await Should.ThrowAsync<DbException>(() => waiting);
        }
        else
        {
            var failed = await Should.ThrowAsync<DbException>(() => waiting);
            database.IsLockedByAnotherProcess(failed).ShouldBeTrue($"the step failed, not for another process's lock: {failed.Message}");
        }
    }

    [Fact]
    public async Task The_version_table_returns_what_was_written_and_forgets_what_was_removed()
    {
        await using var database = await OpenAsync();
        await using var held = await database.AcquireMigrationLockAsync(Patience, _ => { });
        var table = new VersionTable(database.Provider);
        var record = new StepRecord("c0ffee", new Provenance("9.8.7", "abc123", "host-1", "someone"), 1234, ["DROP TABLE x", "SELECT 'it''s'"], false, null);

        await table.StampAsync(database, [(1, "First", record), (2, "Second, with ünïcode and 'quotes'", null), (3, "Third", record)], [], default);
        await table.StampAsync(database, [], [3], default);
        var rows = await database.ReadAppliedVersionsAsync();

        rows.Select(r => r.Version).ShouldBe([1L, 2L]);
        rows[0].Description.ShouldBe("First");
        rows[0].AppliedOn.ShouldNotBeNull();
        (rows[0].Checksum, rows[0].RunnerVersion, rows[0].ImageRevision, rows[0].AppliedByHost, rows[0].AppliedByUser, rows[0].DurationMs)
            .ShouldBe(("c0ffee", "9.8.7", "abc123", "host-1", "someone", 1234L));
        rows[0].Down.ShouldBe(["DROP TABLE x", "SELECT 'it''s'"]);
        rows[0].DownInTransaction.ShouldBeFalse();
        rows[1].Description.ShouldBe("Second, with ünïcode and 'quotes'");
        rows[1].HasRecord.ShouldBeFalse();
    }

    [Fact]
    public async Task A_backup_restores_into_an_empty_database_as_the_database_it_was()
    {
        await Db.MigrateToAsync();
        await Db.ExecuteAsync("CREATE TABLE conformance_rows (id integer PRIMARY KEY, note varchar(50)); INSERT INTO conformance_rows VALUES (1, 'Backed up, ünïcode')");
        var file = Path.Combine(Directory.CreateTempSubdirectory("timetrack-conformance-").FullName, "backup");
        await using var restored = await CreateDatabaseAsync();
        try
        {
            var environment = Environment.GetEnvironmentVariables().Cast<System.Collections.DictionaryEntry>()
                .ToDictionary(e => (string)e.Key, e => (string?)e.Value);
            await using (var source = await OpenAsync())
            {
                await source.BackupAsync(file, environment, default);
            }

            await using (var target = await Database.OpenAsync(restored.Target))
            {
                await target.RestoreAsync(file, replace: false, force: false, environment, default);
            }

            (await restored.FingerprintAsync()).ShouldBe(await Db.FingerprintAsync());
            (await restored.CountAsync("SELECT count(*) FROM conformance_rows WHERE note = 'Backed up, ünïcode'")).ShouldBe(1);
        }
        finally
        {
            Directory.Delete(Path.GetDirectoryName(file)!, recursive: true);
        }
    }

    [Fact]
    public async Task No_output_shows_the_password_of_the_url_or_the_fallback_password()
    {
        const string InUrl = "Conformance-url-S3cret", Fallback = "Conformance-fallback-S3cret";
        RunnerProcess.RegisterSecret(InUrl);
        RunnerProcess.RegisterSecret(Fallback);
        var url = UrlWithPassword(Db, InUrl);
        DatabaseUrl.Parse(url).Display.ShouldNotContain(InUrl);
        Db.Target.Display.ShouldNotContain(Db.Target.Password ?? "\0");

        // InProcessRunner also fails on any registered secret (the test server's password among them).
        var outputs = new[]
        {
            await InProcessRunner.RunAsync(["up", "--json", "--verbose", "--database-url", Db.Url]),
            await InProcessRunner.RunAsync(["status", "--verbose", "--database-url", url]),
            await InProcessRunner.RunAsync(["status", "--json"], new Dictionary<string, string?> { ["DATABASE_URL"] = url }),
            await InProcessRunner.RunAsync(["status", "--verbose", "--database-url", Db.Url], new Dictionary<string, string?> { ["DATABASE_PASSWORD"] = Fallback }),
        };

        foreach (var output in outputs)
        {
            output.Output.ShouldNotContain(InUrl, Case.Sensitive, output.ToString());
            output.Output.ShouldNotContain(Fallback, Case.Sensitive, output.ToString());
            output.Output.ShouldNotContain("   at ", Case.Sensitive, output.ToString());
        }
    }
}

public sealed class PostgresConformanceTests : ProviderConformanceTests
{
    protected override async Task<TestDatabase> CreateDatabaseAsync() => await TestDatabase.CreateAsync(DatabaseKind.Postgres, "conformance");

    protected override string UrlWithPassword(TestDatabase db, string password) => ((PostgresTestDatabase)db).Server.UrlFor(((PostgresTestDatabase)db).Name, password);
}

public sealed class SqliteConformanceTests : ProviderConformanceTests
{
    protected override async Task<TestDatabase> CreateDatabaseAsync() => await TestDatabase.CreateAsync(DatabaseKind.Sqlite, "conformance");

    protected override string UrlWithPassword(TestDatabase db, string password) => db.Url;
}
