using TimeTrack.Migrations.Runner.Databases;
using TimeTrack.Migrations.Tests.Infrastructure;

namespace TimeTrack.Migrations.Tests.Runner;

/// <summary>
/// The PostgreSQL server ends the runner's sessions in the middle of a step, as a restart
/// (pg_ctl restart -m fast) or a failover does: each backend is sent what a fast shutdown sends
/// it (57P01, through pg_terminate_backend, so the suite's shared cluster keeps running). The run
/// names the step, says the server rolled it back and that a rerun is safe; the lock's release on
/// the dead session does not hide that; and the rerun applies the step.
/// </summary>
public sealed class ConnectionLostTests() : RunnerTestBase(DatabaseKind.Postgres)
{
    private const string Application = "timetrack-connection-lost-test";

    [Fact]
    public async Task Losing_the_server_mid_step_names_the_step_says_it_was_rolled_back_and_the_rerun_applies_it()
    {
        ShouldSucceed(await RunScenarioAsync("normal", "up", "--to", "200"));
        var before = await Db.FingerprintAsync();
        var url = Db.Url + (Db.Url.Contains('?', StringComparison.Ordinal) ? "&" : "?") + "application_name=" + Application;
        var run = RunnerProcess.RunAsync(["up", "--database-url", url, "--migrations-assembly", RunnerProcess.ScenariosAssembly],
            new Dictionary<string, string?> { ["TIMETRACK_TEST_SCENARIO"] = "slow" });

        await PollAsync($"SELECT count(*) FROM pg_stat_activity WHERE application_name = '{Application}' AND query LIKE '%pg_sleep%' AND state = 'active'", run);
        (await Db.CountAsync($"SELECT count(*) FROM (SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = '{Application}') AS ended"))
            .ShouldBeGreaterThanOrEqualTo(2); // the lock's session and the step's

        var result = await run;
        result.ExitCode.ShouldBe(1, result.ToString());
        var error = result.Stderr.Split('\n').Where(l => l.StartsWith("error:", StringComparison.Ordinal)).ShouldHaveSingleItem(result.ToString());
        error.ShouldStartWith("error: the connection to the database was lost during migration 300 (Scenario step) (57P01: ");
        error.ShouldEndWith("the server rolled its transaction back, nothing of it was applied. Rerunning is safe: the next run applies it");
        result.Output.ShouldNotContain("   at ", Case.Sensitive, "a stack trace was printed");
        (await Db.FingerprintAsync()).ShouldBe(before);

        ShouldSucceed(await RunScenarioAsync("normal", "up", "--lock-timeout", "5")); // no lock left behind
        (await Db.AppliedVersionsAsync()).ShouldContain(300);
    }

    private async Task PollAsync(string countSql, Task<ProcessResult> run)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(60); // the runner starts slowly on a loaded machine
        while (await Db.CountAsync(countSql) == 0)
        {
            if (run.IsCompleted)
            {
                throw new InvalidOperationException($"the runner ended first:\n{await run}");
            }

            DateTime.UtcNow.ShouldBeLessThan(deadline, $"not reached in 60 s: {countSql}");
            await Task.Delay(50);
        }
    }
}
