using System.Text.Json;
using TimeTrack.Migrations.Runner.Databases;
using TimeTrack.Migrations.Tests.Infrastructure;

namespace TimeTrack.Migrations.Tests.Runner;

/// <summary>Every command, end to end through the runner's entry (in-process), on both providers.</summary>
public abstract class RunnerCommandTests(DatabaseKind provider) : RunnerTestBase(provider)
{
    [Fact]
    public async Task Status_on_an_empty_database_lists_everything_pending_and_creates_nothing()
    {
        var before = await Db.FingerprintAsync();

        var result = await RunAsync("status");

        ShouldSucceed(result);
        result.Stdout.ShouldContain("current:      0 (nothing applied)");
        foreach (var version in Versions)
        {
            result.Stdout.ShouldContain($"  {version}  ");
        }

        (await Db.FingerprintAsync()).ShouldBe(before);
    }

    [Fact]
    public async Task Up_applies_every_migration_printing_each_with_its_duration_and_a_second_up_writes_nothing()
    {
        var result = await RunAsync("up");

        ShouldSucceed(result);
        foreach (var version in Versions)
        {
            result.Stdout.ShouldMatch($@"applied {version} .+ \(\d+ ms\)");
        }

        (await Db.AppliedVersionsAsync()).ShouldBe(Versions);
        var atHead = await Db.FingerprintAsync();

        var again = await RunAsync("apply");
        ShouldSucceed(again);
        again.Stdout.ShouldContain($"nothing to do: the database is at {Versions[^1]} (head)");
        (await Db.FingerprintAsync()).ShouldBe(atHead);
    }

    [Fact]
    public async Task Up_to_a_version_stops_there_and_status_json_tells_the_rest()
    {
        ShouldSucceed(await RunAsync("up", "--to", Versions[1].ToString()));

        var status = await RunAsync("status", "--json");
        ShouldSucceed(status);
        using var json = JsonDocument.Parse(status.Stdout);
        json.RootElement.GetProperty("current").GetInt64().ShouldBe(Versions[1]);
        json.RootElement.GetProperty("applied").EnumerateArray().Select(a => a.GetProperty("version").GetInt64()).ShouldBe(Versions[..2]);
        json.RootElement.GetProperty("pending").EnumerateArray().Select(a => a.GetProperty("version").GetInt64()).ShouldBe(Versions[2..]);
        json.RootElement.GetProperty("applied")[0].GetProperty("appliedOn").ValueKind.ShouldBe(JsonValueKind.String);
        var database = json.RootElement.GetProperty("database").GetString()!;
        if (Provider == DatabaseKind.Postgres)
        {
            database.ShouldContain(":***@");
            database.ShouldNotContain((await PostgresServer.GetAsync()).Password);
        }
    }

    [Fact]
    public async Task Rollback_goes_to_a_version_number_by_steps_and_to_zero()
    {
        ShouldSucceed(await RunAsync("up"));

        var toVersion = await RunAsync("rollback", "--to", Versions[2].ToString(), "--json");
        ShouldSucceed(toVersion);
        using (var json = JsonDocument.Parse(toVersion.Stdout))
        {
            json.RootElement.GetProperty("rolledBack").EnumerateArray().Select(a => a.GetProperty("version").GetInt64()).ShouldBe([Versions[4], Versions[3]]);
            json.RootElement.GetProperty("to").GetInt64().ShouldBe(Versions[2]);
        }

        (await Db.AppliedVersionsAsync()).ShouldBe(Versions[..3]);

        ShouldSucceed(await RunAsync("downgrade"));
        (await Db.AppliedVersionsAsync()).ShouldBe(Versions[..2]);

        ShouldSucceed(await RunAsync("rollback", "--steps", "1"));
        (await Db.AppliedVersionsAsync()).ShouldBe(Versions[..1]);

        ShouldSucceed(await RunAsync("rollback", "--to", "0"));
        (await Db.AppliedVersionsAsync()).ShouldBeEmpty();
        (await Db.ReadSchemaAsync()).IsEmpty.ShouldBeTrue();

        ShouldSucceed(await RunAsync("up"));
        (await Db.AppliedVersionsAsync()).ShouldBe(Versions);
    }

    [Fact]
    public async Task Stamp_records_without_running_and_removes_rows_above()
    {
        ShouldSucceed(await RunAsync("up", "--to", Versions[0].ToString()));
        var schemaAtBaseline = await Db.ReadSchemaAsync();

        ShouldSucceed(await RunAsync("stamp", Versions[2].ToString()));
        (await Db.AppliedVersionsAsync()).ShouldBe(Versions[..3]);
        (await Db.ReadSchemaAsync()).Tables.Count.ShouldBe(schemaAtBaseline.Tables.Count, "stamp must not run migrations");

        ShouldSucceed(await RunAsync("mark-current"));
        (await Db.AppliedVersionsAsync()).ShouldBe(Versions);

        var down = await RunAsync("stamp", Versions[1].ToString(), "--json");
        ShouldSucceed(down);
        using var json = JsonDocument.Parse(down.Stdout);
        json.RootElement.GetProperty("removed").EnumerateArray().Select(e => e.GetInt64()).ShouldBe(Versions[2..]);
        (await Db.AppliedVersionsAsync()).ShouldBe(Versions[..2]);
        (await Db.ReadSchemaAsync()).Tables.Count.ShouldBe(schemaAtBaseline.Tables.Count);
    }

    [Fact]
    public async Task Script_prints_the_sql_of_up_and_rollback_and_changes_nothing()
    {
        var empty = await Db.FingerprintAsync();
        var up = await RunAsync("script", "up");
        ShouldSucceed(up);
        up.Stdout.ShouldContain("companies\" (\"id\"");
        up.Stdout.ShouldContain("ix_time_entries_user_arrival");
        up.Stdout.ShouldContain(Versions[^1].ToString());
        (await Db.FingerprintAsync()).ShouldBe(empty);

        ShouldSucceed(await RunAsync("up"));
        var head = await Db.FingerprintAsync();
        var rollback = await RunAsync("script", "rollback", "--to", Versions[2].ToString());
        ShouldSucceed(rollback);
        rollback.Stdout.ShouldContain("DROP INDEX");
        rollback.Stdout.ShouldContain("priority");
        rollback.Stdout.ShouldNotContain("company_settings");
        (await Db.FingerprintAsync()).ShouldBe(head);

        var nothing = await RunAsync("script", "up");
        ShouldSucceed(nothing);
        nothing.Stdout.ShouldContain("nothing to do");
    }

    [Fact]
    public async Task Logs_go_to_stderr_as_json_lines_with_log_format_json()
    {
        var result = await RunAsync("up", "--log-format", "json");

        ShouldSucceed(result);
        var lines = result.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        lines.Length.ShouldBeGreaterThanOrEqualTo(Versions.Length);
        foreach (var line in lines)
        {
            using var json = JsonDocument.Parse(line);
            json.RootElement.GetProperty("LogLevel").GetString().ShouldNotBeNull();
        }
    }
}

public sealed class PostgresRunnerCommandTests() : RunnerCommandTests(DatabaseKind.Postgres);

public sealed class SqliteRunnerCommandTests() : RunnerCommandTests(DatabaseKind.Sqlite);

/// <summary>With no URL at all: the embedded SQLite default in the working directory, and the output says so.</summary>
public sealed class EmbeddedDefaultTests : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("timetrack-default-").FullName;

    [Fact]
    public async Task Without_a_url_the_runner_uses_sqlite_timetrack_db_in_the_working_directory_and_says_so()
    {
        var result = await InProcessRunner.RunAsync(["up"], workingDirectory: _directory);

        result.ExitCode.ShouldBe(0, result.ToString());
        result.Stderr.ShouldContain("using the embedded default sqlite:///timetrack.db");
        File.Exists(Path.Combine(_directory, "timetrack.db")).ShouldBeTrue();

        var status = await InProcessRunner.RunAsync(["status"], workingDirectory: _directory);
        status.Stdout.ShouldContain("sqlite:///timetrack.db (embedded default)");
        status.Stdout.ShouldContain("pending:      none");
    }

    [Fact]
    public async Task The_option_wins_over_DATABASE_URL()
    {
        var result = await InProcessRunner.RunAsync(
            ["status", "--database-url", "sqlite:///option.db"],
            new Dictionary<string, string?> { ["DATABASE_URL"] = "sqlite:///from-env.db" },
            _directory);

        result.ExitCode.ShouldBe(0, result.ToString());
        result.Stdout.ShouldContain("sqlite:///option.db");
    }

    public void Dispose() => Directory.Delete(_directory, recursive: true);
}
