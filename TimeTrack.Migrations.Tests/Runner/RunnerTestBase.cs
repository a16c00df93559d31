using TimeTrack.Migrations.Runner.Databases;
using TimeTrack.Migrations.Tests.Infrastructure;

namespace TimeTrack.Migrations.Tests.Runner;

/// <summary>
/// A fresh database of one provider per test, and the runner run against it: in-process
/// (<see cref="RunAsync(string[])"/>, the default) or, where the process itself is what is
/// tested, as the built executable (<see cref="RunProcessAsync"/>).
/// </summary>
public abstract class RunnerTestBase(DatabaseKind provider) : IAsyncLifetime
{
    protected DatabaseKind Provider { get; } = provider;

    protected TestDatabase Db { get; set; } = null!;

    public virtual async Task InitializeAsync() => Db = await TestDatabase.CreateAsync(Provider, "runner");

    public virtual async Task DisposeAsync() => await Db.DisposeAsync();

    /// <summary>Runs timetrack-migrate in-process against this test's database.</summary>
    protected Task<ProcessResult> RunAsync(params string[] args) => RunAsync(args, null);

    protected Task<ProcessResult> RunAsync(string[] args, IDictionary<string, string?>? environment) =>
        InProcessRunner.RunAsync([.. args, "--database-url", Db.Url], environment);

    /// <summary>Runs the built timetrack-migrate executable as a process against this test's database.</summary>
    protected Task<ProcessResult> RunProcessAsync(string[] args, IDictionary<string, string?>? environment = null) =>
        RunnerProcess.RunAsync([.. args, "--database-url", Db.Url], environment);

    /// <summary>Runs the test-only scenario migrations (TimeTrack.Migrations.TestScenarios), in-process.</summary>
    protected Task<ProcessResult> RunScenarioAsync(string scenario, params string[] args) =>
        RunAsync([.. args, "--migrations-assembly", RunnerProcess.ScenariosAssembly], new Dictionary<string, string?> { [TestScenarios.Scenario.Variable] = scenario });

    protected static void ShouldSucceed(ProcessResult result) => result.ExitCode.ShouldBe(0, result.ToString());

    /// <summary>A bad input: its exit code, one line on stderr, no stack trace.</summary>
    public static void ShouldFailWithOneLine(ProcessResult result, int exitCode, string expectedText)
    {
        result.ExitCode.ShouldBe(exitCode, result.ToString());
        var lines = result.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        lines.Length.ShouldBe(1, result.ToString());
        lines[0].ShouldStartWith("error: ");
        lines[0].ShouldContain(expectedText, Case.Insensitive, result.ToString());
        result.Output.ShouldNotContain("   at ", Case.Sensitive, "a stack trace was printed");
    }

    public static readonly long[] Versions = [.. Migrations.MigrationHistoryTests.Versions];
}
