using TimeTrack.Migrations.Runner.Databases;
using System.Text.Json;
using TimeTrack.Migrations.Tests.Infrastructure;

namespace TimeTrack.Migrations.Tests.Runner;

/// <summary>
/// What a deploy job reads from one start: `status --json --markdown` carries the markdown, and
/// up, rollback and init with --with-status carry the status after the run (deploy/ci-migrate.sh).
/// </summary>
public abstract class StatusAfterTests(DatabaseKind kind) : RunnerTestBase(kind)
{
    [Fact]
    public async Task Status_json_with_markdown_carries_both()
    {
        var result = await RunAsync("status", "--json", "--markdown");

        ShouldSucceed(result);
        using var json = JsonDocument.Parse(result.Stdout);
        json.RootElement.GetProperty("current").GetInt64().ShouldBe(0);
        json.RootElement.GetProperty("markdown").GetString()!.ShouldContain($"| {Versions[0]} | Baseline |  | pending |");

        // Without --markdown the document keeps its shape.
        using var plain = JsonDocument.Parse((await RunAsync("status", "--json")).Stdout);
        plain.RootElement.TryGetProperty("markdown", out _).ShouldBeFalse();
    }

    [Fact]
    public async Task Up_rollback_and_init_with_status_report_the_status_after_the_run()
    {
        var up = await RunAsync("up", "--to", Versions[2].ToString(), "--json", "--with-status");
        ShouldSucceed(up);
        using (var json = JsonDocument.Parse(up.Stdout))
        {
            var status = json.RootElement.GetProperty("status");
            status.GetProperty("current").GetInt64().ShouldBe(Versions[2]);
            status.GetProperty("pending").GetArrayLength().ShouldBe(Versions.Length - 3);
            status.GetProperty("markdown").GetString()!.ShouldContain($"| {Versions[3]} | Index time entries by user and day |  | pending |");
        }

        var rollback = await RunAsync("rollback", "--to", Versions[1].ToString(), "--json", "--with-status");
        ShouldSucceed(rollback);
        using (var json = JsonDocument.Parse(rollback.Stdout))
        {
            json.RootElement.GetProperty("status").GetProperty("current").GetInt64().ShouldBe(Versions[1]);
        }

        var init = await RunAsync("init", "--json", "--with-status");
        ShouldSucceed(init);
        using (var json = JsonDocument.Parse(init.Stdout))
        {
            json.RootElement.GetProperty("status").GetProperty("upToDate").GetBoolean().ShouldBeTrue();
        }

        // Without it, up's document keeps the shape the NativeAOT front writes too.
        using var plain = JsonDocument.Parse((await RunAsync("up", "--json")).Stdout);
        plain.RootElement.TryGetProperty("status", out _).ShouldBeFalse();
    }
}

public sealed class PostgresStatusAfterTests() : StatusAfterTests(DatabaseKind.Postgres);

public sealed class SqliteStatusAfterTests() : StatusAfterTests(DatabaseKind.Sqlite);
