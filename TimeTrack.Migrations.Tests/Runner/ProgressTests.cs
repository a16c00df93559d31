using System.Text.Json;
using TimeTrack.Migrations.Runner.Databases;
using TimeTrack.Migrations.Tests.Infrastructure;

namespace TimeTrack.Migrations.Tests.Runner;

/// <summary>
/// A long step is not silent: the real runner, reading its stderr through a pipe as an orchestrator
/// or the Actions log does, logs a heartbeat every --progress-interval while the step runs, with
/// the index build's progress from pg_stat_progress_create_index.
/// </summary>
public sealed class ProgressTests() : RunnerTestBase(DatabaseKind.Postgres)
{
    [Fact]
    public async Task A_long_index_build_logs_heartbeats_with_its_growing_progress_while_it_runs()
    {
        ShouldSucceed(await RunScenarioAsync("normal", "up", "--to", "200"));
        using var runner = RunnerProcess.Start(RunnerProcess.Executable,
            ["up", "--database-url", Db.Url, "--migrations-assembly", RunnerProcess.ScenariosAssembly, "--progress-interval", "1", "--log-format", "json"],
            new Dictionary<string, string?> { [TestScenarios.Scenario.Variable] = "slow-index" });
        var stdout = runner.StandardOutput.ReadToEndAsync();
        var lines = new List<string>();
        var beats = new List<JsonElement>();
        var exitedAtFirstBeat = (bool?)null;
        try
        {
            using var patience = new CancellationTokenSource(TimeSpan.FromSeconds(120));
            while (await runner.StandardError.ReadLineAsync(patience.Token) is { } line)
            {
                lines.Add(line);
                var entry = JsonDocument.Parse(line).RootElement;
                if (entry.TryGetProperty("Event", out var name) && name.GetString() == "step.heartbeat")
                {
                    exitedAtFirstBeat ??= runner.HasExited;
                    beats.Add(entry.Clone());
                }
            }

            await runner.WaitForExitAsync(patience.Token);
        }
        finally
        {
            if (!runner.HasExited)
            {
                runner.Kill(entireProcessTree: true);
            }
        }

        var log = string.Join('\n', lines);
        runner.ExitCode.ShouldBe(0, log + await stdout);
        (await stdout).ShouldContain("applied 300 Scenario step");
        exitedAtFirstBeat.ShouldBe(false, "the first heartbeat was read only after the runner ended:\n" + log);

        var indexBeats = beats.Where(b => b.GetProperty("Version").GetInt64() == 300 && b.GetProperty("Progress").ValueKind == JsonValueKind.Object).ToList();
        indexBeats.Count.ShouldBeGreaterThanOrEqualTo(2, "heartbeats with the index build's progress:\n" + log);
        var first = indexBeats[0];
        first.GetProperty("Message").GetString()!.ShouldStartWith("applying 300 (Scenario step): running for ");
        first.GetProperty("Message").GetString()!.ShouldContain("CREATE INDEX, building index: scanning table, blocks ");
        first.GetProperty("Progress").GetProperty("Command").GetString().ShouldBe("CREATE INDEX");
        first.GetProperty("Progress").GetProperty("BlocksTotal").GetInt64().ShouldBeGreaterThan(0);

        // The figure grows: blocks scanned, or a later phase of the build.
        var figures = indexBeats.Select(b => (Phase: b.GetProperty("Progress").GetProperty("Phase").GetString(), Blocks: b.GetProperty("Progress").GetProperty("BlocksDone").GetInt64())).ToList();
        figures.Zip(figures.Skip(1)).ShouldContain(p => p.First.Phase != p.Second.Phase || p.Second.Blocks > p.First.Blocks, "the progress did not grow:\n" + log);
        beats.Select(b => b.GetProperty("ElapsedSeconds").GetInt64()).ShouldBeInOrder(SortDirection.Ascending);
    }
}
