using System.Text.Json;
using TimeTrack.Migrations.Runner.Databases;

namespace TimeTrack.Migrations.Tests.Runner;

/// <summary>
/// A database with tables but no migration history (the legacy fixture, or what an earlier failed
/// run left): only init and stamp --profile adopt it; every other command that would write refuses
/// before writing anything, version table included.
/// </summary>
public abstract class NoHistoryTests(DatabaseKind provider) : RunnerTestBase(provider)
{
    public static TheoryData<string[]> WritingCommands => new()
    {
        { ["up"] },
        { ["apply"] },
        { ["rollback"] },
        { ["rollback", "--to", "0"] },
        { ["stamp", Versions[0].ToString()] },
        { ["stamp", "0"] },
        { ["mark-current"] },
        { ["script", "up"] },
    };

    [Theory]
    [MemberData(nameof(WritingCommands))]
    public async Task Commands_that_would_write_refuse_a_legacy_database_and_create_no_version_table(string[] command)
    {
        await Db.RestoreLegacyFixtureAsync();
        var before = await Db.FingerprintAsync();

        var result = await RunAsync(command);

        ShouldFailWithOneLine(result, 5, "the database has tables but no migration history; nothing was written");
        result.Stderr.ShouldContain("'timetrack-migrate init'");
        result.Stdout.ShouldNotContain("INSERT", Case.Insensitive);
        (await Db.FingerprintAsync()).ShouldBe(before);
    }

    [Fact]
    public async Task An_empty_version_table_does_not_make_a_legacy_database_managed_init_still_adopts_it()
    {
        await Db.RestoreLegacyFixtureAsync();
        await Db.ExecuteAsync("CREATE TABLE \"VersionInfo\" (\"Version\" BIGINT NOT NULL, \"AppliedOn\" TIMESTAMP, \"Description\" VARCHAR(1024))");

        var status = await RunAsync("status", "--json");
        ShouldSucceed(status);
        JsonDocument.Parse(status.Stdout).RootElement.GetProperty("history").GetString().ShouldBe("unmanaged");
        ShouldFailWithOneLine(await RunAsync("up"), 5, "no migration history");

        var init = await RunAsync("init", "--json");

        ShouldSucceed(init);
        JsonDocument.Parse(init.Stdout).RootElement.GetProperty("scenario").GetString().ShouldBe("adopted");
        (await Db.AppliedVersionsAsync()).ShouldBe(Versions);
    }

    [Fact]
    public async Task Stamp_with_a_profile_adopts_a_database_whose_version_table_is_empty()
    {
        await Db.RestoreLegacyFixtureAsync();
        await Db.ExecuteAsync("CREATE TABLE \"VersionInfo\" (\"Version\" BIGINT NOT NULL, \"AppliedOn\" TIMESTAMP, \"Description\" VARCHAR(1024))");

        ShouldSucceed(await RunAsync("stamp", "--profile", "legacy"));

        (await Db.AppliedVersionsAsync()).ShouldBe([Versions[0]]);
    }

    [Fact]
    public async Task A_database_rolled_back_to_nothing_is_empty_not_unmanaged_and_up_migrates_it_again()
    {
        ShouldSucceed(await RunAsync("up"));
        ShouldSucceed(await RunAsync("rollback", "--to", "0"));

        ShouldSucceed(await RunAsync("up"));

        (await Db.AppliedVersionsAsync()).ShouldBe(Versions);
    }

    [Fact]
    public async Task Up_to_a_version_below_the_database_is_refused_pointing_at_rollback()
    {
        ShouldSucceed(await RunAsync("up"));

        ShouldFailWithOneLine(await RunAsync("up", "--to", Versions[1].ToString()), 5, $"above the target {Versions[1]}; up never rolls back: use rollback --to {Versions[1]}");
        (await Db.AppliedVersionsAsync()).ShouldBe(Versions);
    }
}

public sealed class PostgresNoHistoryTests() : NoHistoryTests(DatabaseKind.Postgres);

public sealed class SqliteNoHistoryTests() : NoHistoryTests(DatabaseKind.Sqlite);
