using System.Text.Json;
using TimeTrack.Migrations.Runner.Databases;
using TimeTrack.Migrations.Tests.Infrastructure;

namespace TimeTrack.Migrations.Tests.Runner;

/// <summary>
/// The exit-code contract end to end through the built executable, each code once: the process's
/// exit status, its own stdout and stderr, its environment. Everything else about the commands is
/// tested in-process (same entry, Cli.RunAsync); 130 and 143 are in <see cref="SignalTests"/>, the
/// published layout in the deploy script tests.
/// </summary>
public sealed class ProcessContractTests() : RunnerTestBase(DatabaseKind.Sqlite)
{
    [Fact]
    public async Task Exit_0_with_the_result_on_stdout_and_the_log_on_stderr()
    {
        var up = await RunProcessAsync(["up", "--to", Versions[0].ToString()]);

        up.ExitCode.ShouldBe(0, up.ToString());
        up.Stdout.ShouldMatch($@"applied {Versions[0]} .+ \(\d+ ms\)");
        up.Stderr.ShouldContain($"applying {Versions[0]}");
        (await Db.AppliedVersionsAsync()).ShouldBe([Versions[0]]);
    }

    [Fact]
    public async Task Start_of_a_program_that_does_not_exist_is_exit_127_with_one_error_line_even_with_stderr_closed()
    {
        ShouldSucceed(await RunProcessAsync(["up"]));
        string[] start = ["start", "--database-url", Db.Url, "--", "/no/such/program"];

        var result = await RunProcessAsync(start);

        result.ExitCode.ShouldBe(127, result.ToString());
        result.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries).Where(l => l.StartsWith("error: ", StringComparison.Ordinal))
            .ShouldBe(["error: cannot start /no/such/program: No such file or directory"], result.ToString());
        result.Output.ShouldNotContain("   at ", Case.Sensitive, "a stack trace was printed");

        // With --log-format json the line is a log record like every other line of the run.
        var json = await RunProcessAsync(["start", "--log-format", "json", "--database-url", Db.Url, "--", "/no/such/program"]);
        json.ExitCode.ShouldBe(127, json.ToString());
        var records = json.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => System.Text.Json.JsonDocument.Parse(l).RootElement).ToList();
        records.Where(r => r.GetProperty("LogLevel").GetString() == "Error").Select(r => r.GetProperty("Message").GetString())
            .ShouldBe(["cannot start /no/such/program: No such file or directory"], json.ToString());

        // Its stderr a pipe nobody reads any more (a log collector gone): the error line must not
        // turn into a SIGPIPE death (-13) once the exec reset SIGPIPE for the program it never became.
        using var closed = RunnerProcess.Start(RunnerProcess.Executable, start);
        closed.StandardError.Close(); // before the runner's first write: it starts in tens of milliseconds
        await closed.StandardOutput.ReadToEndAsync();
        await closed.WaitForExitAsync();
        closed.ExitCode.ShouldBe(127);
    }

    [Fact]
    public async Task Help_and_version_go_to_the_processes_stdout_with_exit_0()
    {
        var version = await RunnerProcess.RunAsync(["--version"], new Dictionary<string, string?> { ["TIMETRACK_IMAGE_REVISION"] = "abc1234" });
        version.ExitCode.ShouldBe(0, version.ToString());
        version.Stdout.ShouldStartWith("timetrack-migrate ");
        version.Stdout.ShouldContain("image revision abc1234");

        var help = await RunnerProcess.RunAsync(["--help"]);
        help.ExitCode.ShouldBe(0, help.ToString());
        help.Stdout.ShouldContain("Exit codes: 0 success");
        help.Stderr.ShouldBeEmpty();
    }

    [Fact]
    public async Task Exit_1_when_a_migration_fails_with_the_scenario_from_the_process_environment()
    {
        var result = await RunnerProcess.RunAsync(
            ["up", "--database-url", Db.Url, "--migrations-assembly", RunnerProcess.ScenariosAssembly],
            new Dictionary<string, string?> { [TestScenarios.Scenario.Variable] = "fail" });

        result.ExitCode.ShouldBe(1, result.ToString());
        result.Stderr.ShouldContain("error: migration 300 (Scenario step) failed");
        (await Db.AppliedVersionsAsync()).ShouldBe([100L, 200L]);
    }

    [Fact]
    public async Task Exit_2_for_a_parse_error_with_one_line_and_the_json_document()
    {
        var result = await RunProcessAsync(["up", "--json", "--no-such-option"]);

        ShouldFailWithOneLine(result, 2, "--no-such-option");
        using var json = JsonDocument.Parse(result.Stdout);
        json.RootElement.GetProperty("error").GetProperty("exitCode").GetInt32().ShouldBe(2);
    }

    [Fact]
    public async Task Exit_2_for_invalid_input_from_the_processes_environment()
    {
        var result = await RunnerProcess.RunAsync(["status"], new Dictionary<string, string?> { ["DATABASE_URL_FILE"] = "/run/secrets/nope" });

        ShouldFailWithOneLine(result, 2, "DATABASE_URL_FILE: cannot read '/run/secrets/nope'");
    }

    [Fact]
    public async Task Exit_3_when_the_database_cannot_be_reached()
    {
        RunnerProcess.RegisterSecret("secret-Zq7");
        ShouldFailWithOneLine(await RunnerProcess.RunAsync(["status", "--database-url", "postgresql://u:secret-Zq7@127.0.0.1:1/db"]), 3, "connection refused");
    }

    [Fact]
    public async Task Exit_4_when_another_process_holds_the_migration_lock()
    {
        await using (new FileStream(((SqliteTestDatabase)Db).Path + ".migration-lock", FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None))
        {
            var result = await RunProcessAsync(["up", "--lock-timeout", "1"]);

            result.ExitCode.ShouldBe(4, result.ToString());
            result.Stderr.ShouldContain("error: another runner held the migration lock for more than 1 s");
        }

        (await Db.AppliedVersionsAsync()).ShouldBeEmpty();
    }

    [Fact]
    public async Task Exit_5_when_refused_for_safety()
    {
        await Db.RestoreLegacyFixtureAsync();

        ShouldFailWithOneLine(await RunProcessAsync(["up"]), 5, "the database has tables but no migration history; nothing was written");
    }
}
