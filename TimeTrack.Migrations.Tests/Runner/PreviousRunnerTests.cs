using TimeTrack.Migrations.Runner.Databases;
using TimeTrack.Migrations.Tests.Infrastructure;

namespace TimeTrack.Migrations.Tests.Runner;

/// <summary>
/// An older image keeps working against a version table this runner upgraded (the recorded-history
/// columns added), and what it writes there is completed by this runner afterwards.
/// </summary>
public abstract class PreviousRunnerTests(DatabaseKind kind) : RunnerTestBase(kind)
{
    private async Task<ProcessResult> RunPreviousAsync(params string[] args) =>
        await RunnerProcess.RunProgramAsync(await PreviousRunner.GetAsync(), [.. args, "--database-url", Db.Url]);

    [Fact]
    public async Task The_previous_runner_reads_and_migrates_an_upgraded_version_table_and_this_one_completes_its_rows()
    {
        ShouldSucceed(await RunAsync("up", "--to", Versions[2].ToString()));

        var status = await RunPreviousAsync("status");
        status.ExitCode.ShouldBe(0, status.ToString());
        status.Stdout.ShouldContain($"current:      {Versions[2]}");

        var noOp = await RunPreviousAsync("up", "--to", Versions[2].ToString());
        noOp.ExitCode.ShouldBe(0, noOp.ToString());
        noOp.Stdout.ShouldStartWith("nothing to do");

        var applied = await RunPreviousAsync("up", "--to", Versions[3].ToString());
        applied.ExitCode.ShouldBe(0, applied.ToString());
        (await Db.AppliedVersionsAsync()).ShouldBe(Versions.Take(4));

        var completed = await RunAsync("up");
        ShouldSucceed(completed);
        completed.Stderr.ShouldContain($"1 migration(s) applied before the runner recorded history got their checksum and Down from this build: {Versions[3]}");
        (await RunAsync("status")).Stdout.ShouldNotContain("not recorded");
    }
}

public sealed class PostgresPreviousRunnerTests() : PreviousRunnerTests(DatabaseKind.Postgres);

public sealed class SqlitePreviousRunnerTests() : PreviousRunnerTests(DatabaseKind.Sqlite);
