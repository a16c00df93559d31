using TimeTrack.Migrations.Tests.Infrastructure;

namespace TimeTrack.Migrations.Tests.Deploy;

/// <summary>ci-migrate.sh passes the runner's log on as it happens: a long step shows in the job log while it runs.</summary>
public sealed class CiMigrateLogTests : CiMigrateTestBase
{
    [Fact]
    public async Task A_slow_steps_first_log_line_reaches_the_job_log_before_the_step_ends()
    {
        var summary = Path.GetTempFileName();
        var environment = await PublishedRunner.ImageEnvironmentAsync(Db.Url);
        environment["MIGRATE_ACTION"] = "migrate";
        environment["MIGRATE_TARGET_VERSION"] = null;
        environment["GITHUB_STEP_SUMMARY"] = summary;
        environment["TIMETRACK_MIGRATIONS_ASSEMBLY"] = RunnerProcess.ScenariosAssembly;
        environment["TIMETRACK_TEST_SCENARIO"] = "slow"; // step 300 runs pg_sleep(120)
        using var script = RunnerProcess.Start(PublishedRunner.DeployScript("ci-migrate.sh"), [], environment);
        var stdout = script.StandardOutput.ReadToEndAsync();
        try
        {
            // Read through a pipe, as the job log does: the step's first line must arrive while it runs.
            var seen = new List<string>();
            using (var patience = new CancellationTokenSource(TimeSpan.FromSeconds(90)))
            {
                try
                {
                    while (await script.StandardError.ReadLineAsync(patience.Token) is { } line && !line.StartsWith("applying 300 ", StringComparison.Ordinal))
                    {
                        seen.Add(line);
                    }
                }
                catch (OperationCanceledException)
                {
                }
            }

            seen.ShouldContain(l => l.StartsWith("applying 200 ", StringComparison.Ordinal), "the log lines before the slow step:\n" + string.Join('\n', seen));
            script.HasExited.ShouldBeFalse("the slow step ended before its first log line was read: the log is held back until the runner ends");
            (await Db.AppliedVersionsAsync()).ShouldBe([100L, 200L], "step 300 is still running");
            seen.ShouldAllBe(l => !l.StartsWith('{'), "the JSON log lines are shown as readable lines");

            // A cancelled job: the runner stops the step and rolls it back; its lines still reach the log.
            (await RunnerProcess.RunProgramAsync("kill", ["-TERM", script.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)])).ExitCode.ShouldBe(0);
            var rest = await script.StandardError.ReadToEndAsync();
            await script.WaitForExitAsync();
            script.ExitCode.ShouldBe(143, rest + await stdout);
            rest.ShouldContain("error: interrupted by SIGTERM");
            (await File.ReadAllTextAsync(summary)).ShouldContain(":x: The migrate failed (exit 143)");
            (await Db.AppliedVersionsAsync()).ShouldBe([100L, 200L]);
        }
        finally
        {
            if (!script.HasExited)
            {
                script.Kill(entireProcessTree: true);
            }

            File.Delete(summary);
        }
    }
}
