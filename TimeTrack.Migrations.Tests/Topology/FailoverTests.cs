using Npgsql;
using TimeTrack.Migrations.Tests.Infrastructure;

namespace TimeTrack.Migrations.Tests.Topology;

/// <summary>
/// A failover in the middle of a step, with a real streaming standby (pg_basebackup -R): the
/// runner, started as users start it with a multi-host URL, is in step 300 when the primary is
/// stopped (fast: its backends get 57P01; immediate: SIGQUIT) and the standby promoted. The run
/// ends with one line naming the step; the next run with the same URL reaches head on the new
/// primary, every migration recorded once, and `check` finds no drift.
/// </summary>
public sealed class FailoverTests
{
    private const string Database = "app";
    private const string Application = "timetrack-failover-test";

    [Theory]
    [InlineData("fast")]
    [InlineData("immediate")]
    public async Task Promoting_the_standby_mid_step_ends_the_run_naming_the_step_and_the_rerun_reaches_head_on_the_new_primary(string stopMode)
    {
        // A pair of its own: the promotion ends it.
        var pair = await StandbyPair.StartAsync(Database);
        var url = pair.MultiHostUrlFor(Database, "primary") + "&application_name=" + Application;

        ShouldSucceed(await RunScenarioAsync("normal", "up", "--to", "200", "--database-url", url));
        // The standby has what was committed, as a switchover waits for; the immediate stop then loses nothing but step 300.
        await PollAsync(pair.StandbyConnectionStringFor(Database), "SELECT count(*) FROM \"VersionInfo\" WHERE \"Version\" = 200", null);

        var run = RunScenarioAsync("slow", "up", "--database-url", url);
        await PollAsync(pair.Primary.HelperConnectionStringFor(Database),
            $"SELECT count(*) FROM pg_stat_activity WHERE application_name = '{Application}' AND wait_event = 'PgSleep'", run);
        pair.StopPrimary(stopMode);
        pair.PromoteStandby();

        var result = await run;
        result.ExitCode.ShouldBe(1, result.ToString());
        var error = result.Stderr.Split('\n').Where(l => l.StartsWith("error:", StringComparison.Ordinal)).ShouldHaveSingleItem(result.ToString());
        error.ShouldStartWith("error: the connection to the database was lost during migration 300 (Scenario step)", Case.Sensitive, result.ToString());
        // Why, in the server's words (fast: 57P01) or libpq's (immediate: the server only warns, then closes the socket), never .NET's.
        error.ShouldMatch(stopMode == "fast"
            ? @"\(Scenario step\) \(57P01: terminating connection due to administrator command\): "
            : @"\(Scenario step\) \((the server closed the connection unexpectedly|the connection to the server broke \(\w+\))\): ", result.ToString());
        error.ShouldEndWith("Rerunning is safe: the next run applies it", Case.Sensitive, result.ToString());
        result.Output.ShouldNotContain("   at ", Case.Sensitive, "a stack trace was printed");

        // The same URL: the old primary is gone, the first host is the new one.
        ShouldSucceed(await RunScenarioAsync("normal", "up", "--lock-timeout", "10", "--database-url", url));
        // Each once: a version recorded twice would show twice.
        (await RecordedOnTheNewPrimaryAsync(pair)).ShouldBe([100L, 200L, 300L]);

        ShouldSucceed(await RunScenarioAsync("normal", "check", "--database-url", url));
    }

    /// <summary>
    /// The 3 a.m. commands after a failover, through the URL users write (the old primary first:
    /// it now refuses connections, and the client moves on to the promoted standby): status still
    /// shows the backup taken on the old primary (a promoted standby keeps the cluster's system
    /// identifier, which names the backups), rollback to a version, and restore of that backup
    /// each act on the new primary.
    /// </summary>
    [Fact]
    public async Task After_a_failover_status_rollback_and_restore_of_a_backup_from_the_old_primary_act_on_the_new_primary()
    {
        var pair = await StandbyPair.StartAsync(Database);
        var url = pair.MultiHostUrlFor(Database, "primary", primaryFirst: true);
        var backups = Directory.CreateTempSubdirectory("tt-failover-backups-").FullName;
        try
        {
            ShouldSucceed(await RunScenarioAsync("normal", "up", "--to", "200", "--database-url", url));
            ShouldSucceed(await RunScenarioAsync("normal", "up", "--backup", backups, "--database-url", url));
            var backup = Directory.GetFiles(backups).ShouldHaveSingleItem("the backup before 300, on the old primary");
            Path.GetFileName(backup).ShouldContain("-v200-");
            await PollAsync(pair.StandbyConnectionStringFor(Database), "SELECT count(*) FROM \"VersionInfo\" WHERE \"Version\" = 300", null);
            pair.StopPrimary("fast");
            pair.PromoteStandby();

            var status = await RunScenarioAsync("normal", "status", "--backup", backups, "--database-url", url);
            ShouldSucceed(status);
            status.Stdout.ShouldContain("current:      300 (head)", Case.Sensitive, status.ToString());
            status.Stdout.ShouldContain($"last backup:  {backup} (", Case.Sensitive, status.ToString());
            status.Output.ShouldNotContain(pair.Primary.Password, Case.Sensitive, "the password was printed");

            ShouldSucceed(await RunScenarioAsync("normal", "rollback", "--to", "100", "--database-url", url));
            (await RecordedOnTheNewPrimaryAsync(pair)).ShouldBe([100L]);

            var restored = await RunScenarioAsync("normal", "restore", backup, "--force", "--database-url", url);
            ShouldSucceed(restored);
            restored.Stdout.ShouldContain("current:      200", Case.Sensitive, restored.ToString());
            (await RecordedOnTheNewPrimaryAsync(pair)).ShouldBe([100L, 200L]);

            ShouldSucceed(await RunScenarioAsync("normal", "up", "--database-url", url));
            (await RecordedOnTheNewPrimaryAsync(pair)).ShouldBe([100L, 200L, 300L]);
            ShouldSucceed(await RunScenarioAsync("normal", "check", "--database-url", url));
        }
        finally
        {
            Directory.Delete(backups, recursive: true);
        }
    }

    /// <summary>The versions in the promoted standby's version table, after checking it is the primary now.</summary>
    private static async Task<List<long>> RecordedOnTheNewPrimaryAsync(StandbyPair pair)
    {
        await using var promoted = new NpgsqlConnection(pair.StandbyConnectionStringFor(Database));
        await promoted.OpenAsync();
        await using var recovery = new NpgsqlCommand("SELECT pg_is_in_recovery()", promoted);
        ((bool)(await recovery.ExecuteScalarAsync())!).ShouldBeFalse("the promoted standby is still in recovery");
        await using var versions = new NpgsqlCommand("SELECT \"Version\" FROM \"VersionInfo\" ORDER BY 1", promoted);
        var recorded = new List<long>();
        await using var reader = await versions.ExecuteReaderAsync();
        while (await reader.ReadAsync())
        {
            recorded.Add(reader.GetInt64(0));
        }

        return recorded;
    }

    /// <summary>The runner as users run it: the published executable, on the test scenarios' migrations.</summary>
    private static Task<ProcessResult> RunScenarioAsync(string scenario, params string[] args) =>
        RunnerProcess.RunAsync([.. args, "--migrations-assembly", RunnerProcess.ScenariosAssembly],
            new Dictionary<string, string?> { [TestScenarios.Scenario.Variable] = scenario }, timeout: Patience + TimeSpan.FromMinutes(2));

    /// <summary>How long a state may take to show (eight test runs at once on two cores took over 60 s to reach the step).</summary>
    private static readonly TimeSpan Patience = TimeSpan.FromMinutes(3);

    private static void ShouldSucceed(ProcessResult result) => result.ExitCode.ShouldBe(0, result.ToString());

    private static async Task PollAsync(string connectionString, string countSql, Task<ProcessResult>? run)
    {
        var deadline = DateTime.UtcNow + Patience; // the runner starts slowly on a loaded machine
        await using var connection = new NpgsqlConnection(connectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(countSql, connection);
        while (true)
        {
            try
            {
                if ((long)(await command.ExecuteScalarAsync())! > 0)
                {
                    return;
                }
            }
            catch (PostgresException e) when (e.SqlState == "42P01")
            {
                // The version table has not reached the standby yet.
            }

            if (run is { IsCompleted: true })
            {
                throw new InvalidOperationException($"the runner ended first:\n{await run}");
            }

            DateTime.UtcNow.ShouldBeLessThan(deadline, $"not reached in {Patience.TotalSeconds} s: {countSql}");
            await Task.Delay(50);
        }
    }
}
