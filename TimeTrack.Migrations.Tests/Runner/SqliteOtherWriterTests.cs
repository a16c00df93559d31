using Microsoft.Data.Sqlite;
using TimeTrack.Migrations.Runner.Databases;
using TimeTrack.Migrations.Tests.Infrastructure;

namespace TimeTrack.Migrations.Tests.Runner;

/// <summary>
/// Another process (the application) holds SQLite's write lock (BEGIN IMMEDIATE) while the runner
/// is to apply a step: --lock-timeout bounds the wait (exit 4, naming the other writer), and a
/// stop signal ends it at once (exit 143) with the step not applied. The lock is held by this test
/// process, the runner is another one: SQLite's file locks are per process.
/// </summary>
public sealed class SqliteOtherWriterTests() : RunnerTestBase(DatabaseKind.Sqlite)
{
    private string[] Up(params string[] more) =>
        ["up", "--database-url", Db.Url, "--migrations-assembly", RunnerProcess.ScenariosAssembly, .. more];

    private async Task<SqliteConnection> HoldWriteLockAsync()
    {
        var connection = new SqliteConnection($"Data Source={((SqliteTestDatabase)Db).Path};Pooling=False");
        await connection.OpenAsync();
        await using var begin = connection.CreateCommand();
        begin.CommandText = "BEGIN IMMEDIATE";
        await begin.ExecuteNonQueryAsync();
        return connection; // disposing it rolls back and lets go
    }

    [Fact]
    public async Task The_lock_timeout_bounds_the_wait_for_another_writer_and_nothing_is_applied()
    {
        ShouldSucceed(await RunScenarioAsync("normal", "up", "--to", "200"));
        var before = await Db.FingerprintAsync();
        ProcessResult result;
        await using (await HoldWriteLockAsync())
        {
            result = await RunnerProcess.RunAsync(Up("--lock-timeout", "2"), new Dictionary<string, string?> { ["TIMETRACK_TEST_SCENARIO"] = "normal" });
        }

        result.ExitCode.ShouldBe(4, result.ToString());
        result.Stderr.ShouldContain("error: migration 300 (Scenario step) could not start: another process held a write lock on the database for more than 2 s (--lock-timeout)");
        (await Db.FingerprintAsync()).ShouldBe(before);
    }

    [Fact]
    public async Task Sigterm_while_another_writer_holds_the_database_ends_the_wait_and_the_step_is_not_applied()
    {
        ShouldSucceed(await RunScenarioAsync("normal", "up", "--to", "200"));
        var before = await Db.FingerprintAsync();
        ProcessResult result;
        await using (await HoldWriteLockAsync())
        {
            await using var runner = SignalTests.SignalledRunner.Start(Up("--lock-timeout", "300"), new Dictionary<string, string?> { ["TIMETRACK_TEST_SCENARIO"] = "normal" });
            await runner.WaitForLineAsync("applying 300");
            runner.Signal(15);
            result = await runner.ExitAsync(); // while the other writer still holds the database
        }

        result.ExitCode.ShouldBe(143, result.ToString());
        result.Stderr.ShouldContain("error: interrupted by SIGTERM: applying 300 (Scenario step) was cancelled and its transaction rolled back; the database is at 200");
        (await Db.FingerprintAsync()).ShouldBe(before);
        ShouldSucceed(await RunScenarioAsync("normal", "up", "--lock-timeout", "5"));
    }
}
