using Npgsql;
using TimeTrack.Migrations.Tests.Infrastructure;
using TimeTrack.Migrations.Tests.Runner;

namespace TimeTrack.Migrations.Tests.Topology;

/// <summary>
/// A real streaming standby (pg_basebackup -R of a throwaway primary): a URL that reaches only
/// the standby is refused (exit 3) by every command, status included; a multi-host URL with
/// target_session_attrs finds the primary.
/// </summary>
public sealed class StandbyTests
{
    private const string Database = StandbyPair.SharedDatabase;

    [Fact]
    public async Task A_url_that_reaches_only_a_standby_is_refused_with_exit_3_and_nothing_written()
    {
        var pair = await StandbyPair.Shared();
        var url = pair.StandbyUrlFor(Database);
        foreach (var command in new[] { "init", "up" })
        {
            var result = await InProcessRunner.RunAsync([command, "--database-url", url]);
            RunnerTestBase.ShouldFailWithOneLine(result, 3, "the server is a read-only standby");
        }

        var check = await InProcessRunner.RunAsync(["check", "--database-url", url]);
        RunnerTestBase.ShouldFailWithOneLine(check, 3, "the server is a read-only standby");

        var status = await InProcessRunner.RunAsync(["status", "--json", "--database-url", url]);
        status.ExitCode.ShouldBe(3, status.ToString());
        status.Stdout.ShouldContain("\"readOnlyStandby\": true");
        status.Stderr.ShouldContain("the server is a read-only standby");
    }

    [Fact]
    public async Task The_front_hands_a_standby_over_to_the_runner_and_answers_on_the_primary()
    {
        var pair = await StandbyPair.Shared();
        // The front's own decision (one round trip: pg_is_in_recovery() with the version table), as its Program.cs takes it.
        // Handed over (the runner then refuses with exit 3), whether or not the standby has a version table yet.
        (await FrontDecision.DecideAsync(["up", "--database-url", pair.StandbyUrlFor(Database)])).ShouldBe("the server is a read-only standby");
        (await FrontDecision.DecideAsync(["up", "--database-url", pair.MultiHostUrlFor(Database, "primary")])).ShouldNotBe("the server is a read-only standby");
    }

    [Theory]
    [InlineData("primary")]
    [InlineData("read-write")]
    public async Task A_multi_host_url_with_target_session_attrs_reaches_the_primary(string attrs)
    {
        var pair = await StandbyPair.Shared();
        var database = $"multi_{attrs.Replace('-', '_')}";
        await pair.Primary.CreateDatabaseNamedAsync(database);
        var url = pair.MultiHostUrlFor(database, attrs);

        var init = await InProcessRunner.RunAsync(["init", "--database-url", url]);
        init.ExitCode.ShouldBe(0, init.ToString());
        var status = await InProcessRunner.RunAsync(["status", "--json", "--database-url", url]);
        status.ExitCode.ShouldBe(0, status.ToString());
        status.Stdout.ShouldContain("\"upToDate\": true");
        status.Stdout.ShouldContain("\"readOnlyStandby\": false");

        await using var connection = new NpgsqlConnection(pair.Primary.ConnectionStringFor(database));
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand($"SELECT count(*) FROM public.\"{TimeTrack.Migrations.Runner.Databases.VersionTable.Name}\"", connection);
        ((long)(await command.ExecuteScalarAsync())!).ShouldBe(RunnerTestBase.Versions.Length);
    }

    /// <summary>
    /// Adoption and check build their expected schemas in a rolled-back scratch transaction on a
    /// connection of their own (FluentMigrator's): through a multi-host URL that lists the standby
    /// first, that connection must find the primary too, or the scratch's temporary tables fail on
    /// the read-only standby.
    /// </summary>
    [Fact]
    public async Task Adoption_and_check_through_a_multi_host_url_build_their_expected_schemas_on_the_primary()
    {
        var pair = await StandbyPair.Shared();
        const string database = "multi_legacy";
        await pair.Primary.CreateDatabaseNamedAsync(database);
        await pair.Primary.LoadDumpAsync(database, TestDatabase.LegacyFixture("legacy-postgres.sql"));
        var url = pair.MultiHostUrlFor(database, "primary");

        var init = await InProcessRunner.RunAsync(["init", "--database-url", url]);

        init.ExitCode.ShouldBe(0, init.ToString());
        init.Stderr.ShouldContain("the database matches stamping profile");
        var check = await InProcessRunner.RunAsync(["check", "--database-url", url]);
        check.ExitCode.ShouldBe(0, check.ToString());
    }
}
