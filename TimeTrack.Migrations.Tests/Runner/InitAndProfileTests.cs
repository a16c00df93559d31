using System.Text.Json;
using TimeTrack.Migrations.Runner.Databases;
using TimeTrack.Migrations.Tests.Schema;

namespace TimeTrack.Migrations.Tests.Runner;

/// <summary>init's choice between fresh, managed and adopted, and adoption by hand with stamp --profile.</summary>
public abstract class InitAndProfileTests(DatabaseKind provider) : RunnerTestBase(provider)
{
    [Fact]
    public async Task A_database_an_earlier_tool_brought_to_some_version_is_recognised_at_that_version()
    {
        ShouldSucceed(await RunAsync("up", "--to", Versions[2].ToString()));
        await Db.ExecuteAsync("DROP TABLE \"VersionInfo\"");
        await Db.ExecuteAsync("CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL)");
        await Db.ExecuteAsync("INSERT INTO alembic_version VALUES ('3f2a9c1b7d4e')");

        var result = await RunAsync("init", "--json");

        ShouldSucceed(result);
        using var json = JsonDocument.Parse(result.Stdout);
        json.RootElement.GetProperty("scenario").GetString().ShouldBe("adopted");
        json.RootElement.GetProperty("profile").GetString().ShouldBe(Versions[2].ToString());
        json.RootElement.GetProperty("steps").EnumerateArray().Select(s => s.GetProperty("version").GetInt64()).ShouldBe(Versions[3..]);
        result.Stderr.ShouldContain("extra table alembic_version (Flask-Migrate's history; left as it is)");
        (await Db.AppliedVersionsAsync()).ShouldBe(Versions);
        (await Db.CountAsync("alembic_version")).ShouldBe(1);
        SchemaAssert.ShouldMatchModel((await Db.ReadSchemaAsync()).Without("alembic_version"));
    }

    [Fact]
    public async Task Stamp_with_a_profile_adopts_by_hand_without_running_anything()
    {
        await Db.RestoreLegacyFixtureAsync();
        var schema = await Db.ReadSchemaAsync();

        var result = await RunAsync("stamp", "--profile", "legacy");

        ShouldSucceed(result);
        result.Stdout.ShouldContain($"stamped at {Versions[0]} (profile 'legacy'); no migration was run");
        (await Db.AppliedVersionsAsync()).ShouldBe([Versions[0]]);
        TimeTrack.Migrations.Runner.Schema.SchemaComparer.Compare(schema, await Db.ReadSchemaAsync()).IsEmpty.ShouldBeTrue();

        ShouldFailWithOneLine(await RunAsync("stamp", "--profile", "legacy"), 5, "already has a migration history");
    }

    [Fact]
    public async Task A_forced_profile_that_does_not_fit_is_refused_with_a_diff_and_nothing_written()
    {
        await Db.RestoreLegacyFixtureAsync();
        var dump = await Db.DumpAsync();

        var result = await RunAsync("init", "--profile", Versions[2].ToString());

        result.ExitCode.ShouldBe(5, result.ToString());
        result.Stderr.ShouldContain($"does not match stamping profile '{Versions[2]}'");
        result.Stderr.ShouldContain("missing table company_settings");
        result.Stderr.ShouldContain("missing table user_preferences");
        (await Db.DumpAsync()).ShouldBe(dump);
    }

    [Fact]
    public async Task Force_stamps_a_mismatching_database_anyway_and_says_so_loudly()
    {
        await Db.RestoreLegacyFixtureAsync();
        await Db.ExecuteAsync("CREATE INDEX ix_users_email_lower ON users (email)");
        await Db.ExecuteAsync("ALTER TABLE system_settings ADD COLUMN note TEXT");

        var refused = await RunAsync("stamp", "--profile", "legacy");
        refused.ExitCode.ShouldBe(5, refused.ToString());
        refused.Stderr.ShouldStartWith("error: the database has tables but no migration history, and does not match stamping profile 'legacy'");
        var result = await RunAsync("stamp", "--profile", "legacy", "--force");

        ShouldSucceed(result);
        result.Stderr.ShouldContain("warning: FORCED");
        result.Stderr.ShouldContain("extra column system_settings.note");
        result.Stderr.ShouldContain("tolerated: extra index ix_users_email_lower");
        (await Db.AppliedVersionsAsync()).ShouldBe([Versions[0]]);
    }

    [Fact]
    public async Task Init_to_a_version_below_the_database_rolls_back_only_when_allowed()
    {
        ShouldSucceed(await RunAsync("init"));

        var refused = await RunAsync("init", "--to", Versions[1].ToString());
        refused.ExitCode.ShouldBe(5, refused.ToString());
        refused.Stderr.ShouldContain($"error: the database is at {Versions[^1]}, above --to {Versions[1]}: init rolls back only with --allow-downgrade");
        (await Db.AppliedVersionsAsync()).ShouldBe(Versions);

        ShouldSucceed(await RunAsync("init", "--to", Versions[1].ToString(), "--allow-downgrade"));
        (await Db.AppliedVersionsAsync()).ShouldBe(Versions[..2]);
    }

    [Fact]
    public async Task An_unknown_profile_name_is_invalid_input()
    {
        await Db.RestoreLegacyFixtureAsync();

        ShouldFailWithOneLine(await RunAsync("init", "--profile", "nosuch"), 2, "no stamping profile 'nosuch' (known: legacy, ");
    }
}

public sealed class PostgresInitAndProfileTests() : InitAndProfileTests(DatabaseKind.Postgres);

public sealed class SqliteInitAndProfileTests() : InitAndProfileTests(DatabaseKind.Sqlite);
