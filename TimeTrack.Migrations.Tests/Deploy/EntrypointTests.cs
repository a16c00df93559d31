using TimeTrack.Migrations.Runner.Databases;
using TimeTrack.Migrations.Tests.Infrastructure;
using TimeTrack.Migrations.Tests.Migrations;
using TimeTrack.Migrations.Tests.Runner;

namespace TimeTrack.Migrations.Tests.Deploy;

/// <summary>
/// deploy/entrypoint.sh run as the container would run it (no Docker engine here): the published
/// runner on PATH, the image's environment, an application command after it.
/// </summary>
public abstract class EntrypointTests(DatabaseKind provider) : IAsyncLifetime
{
    private static readonly long[] Versions = RunnerTestBase.Versions;
    private static readonly string[] App = ["sh", "-c", "echo APPLICATION STARTED"];

    protected TestDatabase Db { get; private set; } = null!;

    public async Task InitializeAsync() => Db = await TestDatabase.CreateAsync(provider, "entry");

    public async Task DisposeAsync() => await Db.DisposeAsync();

    protected async Task<ProcessResult> EntrypointAsync(string[] command, Dictionary<string, string?>? overrides = null, string? url = null)
    {
        var environment = await PublishedRunner.ImageEnvironmentAsync(url ?? Db.Url);
        foreach (var (key, value) in overrides ?? [])
        {
            environment[key] = value;
        }

        return await RunnerProcess.RunProgramAsync(PublishedRunner.DeployScript("entrypoint.sh"), command, environment, timeout: TimeSpan.FromMinutes(3));
    }

    protected static void ShouldHaveStartedTheApplication(ProcessResult result)
    {
        result.ExitCode.ShouldBe(0, result.ToString());
        result.Stdout.ShouldContain("APPLICATION STARTED");
    }

    [Fact]
    public async Task Scenario_1_a_fresh_database_gets_every_migration_then_the_application_starts()
    {
        var result = await EntrypointAsync(App);

        ShouldHaveStartedTheApplication(result);
        result.Stderr.ShouldContain("empty database: fresh deployment");
        (await Db.AppliedVersionsAsync()).ShouldBe(Versions);
    }

    [Fact]
    public async Task Scenario_2_a_legacy_database_is_adopted_and_keeps_every_row()
    {
        await Db.RestoreLegacyFixtureAsync();
        var before = await SnapshotAsync();

        var result = await EntrypointAsync(App);

        ShouldHaveStartedTheApplication(result);
        result.Stderr.ShouldContain("matches stamping profile 'legacy'");
        (await Db.AppliedVersionsAsync()).ShouldBe(Versions);
        Schema.SchemaAssert.ShouldMatchModel(await Db.ReadSchemaAsync());
        (await SnapshotAsync(exceptColumns: ["priority"])).ShouldBe(before);
        (await Db.CountAsync("company_settings")).ShouldBe(3);
    }

    [Fact]
    public async Task Scenarios_3_and_4_a_later_deployment_applies_what_is_pending_and_a_restart_does_nothing()
    {
        ShouldSucceed(await InProcessRunner.RunAsync(["up", "--to", Versions[2].ToString(), "--database-url", Db.Url]));

        var deployment = await EntrypointAsync(App);
        ShouldHaveStartedTheApplication(deployment);
        deployment.Stdout.ShouldContain($"applied {Versions[3]}");
        deployment.Stdout.ShouldContain($"applied {Versions[4]}");
        (await Db.AppliedVersionsAsync()).ShouldBe(Versions);
        var dump = await Db.DumpAsync();

        var restart = await EntrypointAsync(App);
        ShouldHaveStartedTheApplication(restart);
        restart.Stdout.ShouldContain("managed: the database is at " + Versions[^1] + " (head), nothing to do");
        (await Db.DumpAsync()).ShouldBe(dump);
    }

    [Fact]
    public async Task The_front_s_hand_over_mark_stops_at_the_runner_and_never_reaches_the_application()
    {
        // What the image's front sets when it execs the runner: the runner migrates without asking again, and forgets it.
        string[] app = ["sh", "-c", "echo APPLICATION STARTED; echo \"mark: ${TIMETRACK_FAST_START_HANDED_OVER-none}\""];
        var result = await EntrypointAsync(app, new() { ["TIMETRACK_FAST_START_HANDED_OVER"] = "empty database" });

        ShouldHaveStartedTheApplication(result);
        result.Stderr.ShouldContain("empty database: fresh deployment");
        result.Stdout.ShouldContain("mark: none");
        (await Db.AppliedVersionsAsync()).ShouldBe(Versions);
    }

    [Fact]
    public async Task A_database_that_matches_no_profile_is_refused_and_left_untouched()
    {
        await Db.RestoreLegacyFixtureAsync();
        await Db.ExecuteAsync("ALTER TABLE users DROP COLUMN two_factor_secret");
        var dump = await Db.DumpAsync();

        var result = await EntrypointAsync(App);

        result.ExitCode.ShouldBe(5, result.ToString());
        result.Stdout.ShouldNotContain("APPLICATION STARTED");
        result.Stderr.ShouldContain("matches no stamping profile");
        result.Stderr.ShouldContain("missing column users.two_factor_secret");
        result.Stderr.ShouldContain("not starting the application");
        (await Db.DumpAsync()).ShouldBe(dump);
    }

    [Fact]
    public async Task An_extra_unrelated_table_is_adopted_with_a_warning()
    {
        await Db.RestoreLegacyFixtureAsync();
        await Db.ExecuteAsync("CREATE TABLE audit_log (id INTEGER PRIMARY KEY, line TEXT)");
        await Db.ExecuteAsync("CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL)");

        var result = await EntrypointAsync(App);

        ShouldHaveStartedTheApplication(result);
        result.Stderr.ShouldContain("warning: tolerated: extra table audit_log");
        result.Stderr.ShouldContain("extra table alembic_version (Flask-Migrate's history; left as it is)");
        (await Db.AppliedVersionsAsync()).ShouldBe(Versions);
        (await Db.ReadSchemaAsync()).Table("alembic_version").ShouldNotBeNull();
    }

    [Fact]
    public async Task MIGRATE_TARGET_VERSION_below_the_database_is_refused_unless_MIGRATE_ALLOW_DOWNGRADE()
    {
        ShouldSucceed(await InProcessRunner.RunAsync(["up", "--database-url", Db.Url])); // the start from empty is Scenario_1's
        var dump = await Db.DumpAsync();

        // A target left in .env after a rollback would roll production back on every start.
        var refused = await EntrypointAsync(App, new() { ["MIGRATE_TARGET_VERSION"] = Versions[1].ToString() });
        refused.ExitCode.ShouldBe(5, refused.ToString());
        refused.Stdout.ShouldNotContain("APPLICATION STARTED");
        refused.Stderr.ShouldContain($"error: the database is at {Versions[^1]}, above --to {Versions[1]}: init rolls back only with --allow-downgrade");
        refused.Stderr.ShouldContain("MIGRATE_ALLOW_DOWNGRADE=true");
        (await Db.DumpAsync()).ShouldBe(dump);

        var down = await EntrypointAsync(App, new() { ["MIGRATE_TARGET_VERSION"] = Versions[1].ToString(), ["MIGRATE_ALLOW_DOWNGRADE"] = "true" });
        ShouldHaveStartedTheApplication(down);
        down.Stdout.ShouldContain($"rolled back {Versions[4]}");
        (await Db.AppliedVersionsAsync()).ShouldBe(Versions[..2]);

        // Upward (and equal) targets need no permission.
        ShouldHaveStartedTheApplication(await EntrypointAsync(App, new() { ["MIGRATE_TARGET_VERSION"] = Versions[3].ToString() }));
        (await Db.AppliedVersionsAsync()).ShouldBe(Versions[..4]);
        ShouldHaveStartedTheApplication(await EntrypointAsync(App, new() { ["MIGRATE_TARGET_VERSION"] = "head" }));
        (await Db.AppliedVersionsAsync()).ShouldBe(Versions);

        var unknown = await EntrypointAsync(App, new() { ["MIGRATE_TARGET_VERSION"] = "1999", ["MIGRATE_ALLOW_DOWNGRADE"] = "true" });
        unknown.ExitCode.ShouldBe(2, unknown.ToString());
        unknown.Stdout.ShouldNotContain("APPLICATION STARTED");

        var invalid = await EntrypointAsync(App, new() { ["MIGRATE_ALLOW_DOWNGRADE"] = "yes please" });
        invalid.ExitCode.ShouldBe(2, invalid.ToString());
        invalid.Stderr.ShouldContain("MIGRATE_ALLOW_DOWNGRADE must be true or false, not 'yes please'");
    }

    [Fact]
    public async Task The_older_image_brings_a_database_back_below_a_migration_it_does_not_know_from_the_recorded_down()
    {
        // Release N+1 (a newer migrations assembly) applied its migration; the image is rolled back
        // to release N (the shipped migrations), started once with the target and the permission.
        var newer = RecordedHistoryTests.Compile(RecordedHistoryTests.NewerBuild(RecordedHistoryTests.DataPreservingSixth));
        ShouldHaveStartedTheApplication(await EntrypointAsync(App, new() { ["TIMETRACK_MIGRATIONS_ASSEMBLY"] = newer }));
        (await Db.AppliedVersionsAsync()).ShouldBe([.. Versions, RecordedHistoryTests.Sixth]);

        var result = await EntrypointAsync(App, new() { ["MIGRATE_TARGET_VERSION"] = Versions[^1].ToString(), ["MIGRATE_ALLOW_DOWNGRADE"] = "true" });

        ShouldHaveStartedTheApplication(result);
        result.Stderr.ShouldContain($"rolling back {RecordedHistoryTests.Sixth} Rename system settings with the Down recorded when it was applied");
        (await Db.AppliedVersionsAsync()).ShouldBe(Versions);
        (await Db.ReadSchemaAsync()).Table("system_settings").ShouldNotBeNull();
    }

    [Fact]
    public async Task A_runner_command_runs_alone_without_the_start_up_migration()
    {
        ShouldSucceed(await InProcessRunner.RunAsync(["up", "--to", Versions[2].ToString(), "--database-url", Db.Url]));
        var dump = await Db.DumpAsync();

        // `docker run IMAGE status`: the status of a database behind head, and nothing applied.
        var status = await EntrypointAsync(["status"]);
        status.ExitCode.ShouldBe(0, status.ToString());
        status.Stdout.ShouldContain($"current:      {Versions[2]}");
        status.Stderr.ShouldNotContain("database at");

        // `script up` is a preview: it prints the SQL and changes nothing.
        var script = await EntrypointAsync(["script", "up"]);
        script.ExitCode.ShouldBe(0, script.ToString());
        script.Stdout.ShouldNotBeEmpty();
        (await Db.DumpAsync()).ShouldBe(dump);

        // Runner options first, and the runner's exit code is the container's.
        var version = await EntrypointAsync(["--version"]);
        version.ExitCode.ShouldBe(0, version.ToString());
        version.Stdout.ShouldStartWith("timetrack-migrate ");
        (await EntrypointAsync(["rollback", "--to", "1999"])).ExitCode.ShouldBe(2);
        (await Db.AppliedVersionsAsync()).ShouldBe(Versions[..3]);

        // `up` through the entrypoint is the runner's up, once.
        var up = await EntrypointAsync(["up"]);
        up.ExitCode.ShouldBe(0, up.ToString());
        (await Db.AppliedVersionsAsync()).ShouldBe(Versions);
    }

    [Fact]
    public async Task Two_entrypoints_at_once_both_start_and_each_migration_runs_once()
    {
        var both = await Task.WhenAll(EntrypointAsync(App), EntrypointAsync(App));

        foreach (var result in both)
        {
            ShouldHaveStartedTheApplication(result);
        }

        foreach (var version in Versions)
        {
            both.Count(r => r.Stdout.Contains($"applied {version} ")).ShouldBe(1);
        }

        (await Db.AppliedVersionsAsync()).ShouldBe(Versions);
    }

    [Fact]
    public async Task MIGRATE_BACKUP_DIR_backs_up_before_the_start_up_migration_and_not_on_a_restart()
    {
        var dir = Directory.CreateTempSubdirectory("timetrack-entry-backups-").FullName;
        try
        {
            ShouldSucceed(await InProcessRunner.RunAsync(["up", "--to", Versions[2].ToString(), "--database-url", Db.Url]));
            var settings = new Dictionary<string, string?> { ["MIGRATE_BACKUP_DIR"] = dir, ["MIGRATE_BACKUP_KEEP"] = "3" };

            var deployment = await EntrypointAsync(App, settings);

            ShouldHaveStartedTheApplication(deployment);
            var backup = Directory.GetFiles(dir).ShouldHaveSingleItem();
            Path.GetFileName(backup).ShouldContain($"-v{Versions[2]}-");
            deployment.Stderr.ShouldContain($"backup written: {backup} (");
            (await Db.AppliedVersionsAsync()).ShouldBe(Versions);

            var restart = await EntrypointAsync(App, settings);

            ShouldHaveStartedTheApplication(restart);
            Directory.GetFiles(dir).ShouldBe([backup], "a restart with nothing to do writes no backup");

            var bad = await EntrypointAsync(App, new(settings) { ["MIGRATE_BACKUP_OPTIONAL"] = "yes" });
            bad.ExitCode.ShouldBe(2, bad.ToString());
            bad.Stderr.ShouldContain("MIGRATE_BACKUP_OPTIONAL must be true or false, not 'yes'");
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public async Task A_failing_migration_stops_the_container_before_the_application()
    {
        var result = await EntrypointAsync(App, new()
        {
            ["TIMETRACK_MIGRATIONS_ASSEMBLY"] = RunnerProcess.ScenariosAssembly,
            ["TIMETRACK_TEST_SCENARIO"] = "fail",
        });

        result.ExitCode.ShouldBe(1, result.ToString());
        result.Stdout.ShouldNotContain("APPLICATION STARTED");
        result.Stderr.ShouldContain("migration 300 (Scenario step) failed");
        result.Stderr.ShouldContain("migration failed (exit 1): not starting the application");
    }

    [Fact]
    public async Task MIGRATE_ON_START_false_skips_migrating_and_waiting()
    {
        var result = await EntrypointAsync(App, new() { ["MIGRATE_ON_START"] = "false" }, url: "postgresql://u:p@127.0.0.1:1/nowhere");

        ShouldHaveStartedTheApplication(result);
        result.Stderr.ShouldContain("MIGRATE_ON_START=false: not migrating");
    }

    [Fact]
    public async Task Without_a_command_the_entrypoint_migrates_and_exits_as_a_one_shot_service()
    {
        var result = await EntrypointAsync([]);

        result.ExitCode.ShouldBe(0, result.ToString());
        (await Db.AppliedVersionsAsync()).ShouldBe(Versions);
    }

    [Fact]
    public async Task Every_command_under_every_name_goes_straight_to_the_runner()
    {
        // On the old entrypoint, `downgrade --to V` migrated UP to head, then tried to exec a program called downgrade (127).
        ShouldSucceed(await InProcessRunner.RunAsync(["up", "--database-url", Db.Url]));
        var down = await EntrypointAsync(["downgrade", "--to", Versions[2].ToString()]);
        down.ExitCode.ShouldBe(0, down.ToString());
        down.Stdout.ShouldContain($"rolled back");
        (await Db.AppliedVersionsAsync()).ShouldBe(Versions[..3]);

        var apply = await EntrypointAsync(["apply", "--to", Versions[3].ToString()]);
        apply.ExitCode.ShouldBe(0, apply.ToString());
        (await Db.AppliedVersionsAsync()).ShouldBe(Versions[..4]);

        // Commands that need no database, or refuse without their input: each is the runner's own
        // answer, never the application. The script routes them by name alone, whatever the URL:
        // checked once, in the PostgreSQL class (six processes fewer).
        if (provider != DatabaseKind.Postgres)
        {
            return;
        }

        foreach (var (args, code, says) in new (string[], int?, string)[]
        {
            (["create"], 2, "error:"), // no message: the runner's usage error, not "exec create"
            (["lint", "--help"], 0, "--format"),
            (["manifest", "--help"], 0, "--check"),
            (["restore", "/no/such/backup"], null, "error:"),
            (["mark-current", "--help"], 0, "mark-current"),
            (["--help"], 0, "timetrack-migrate"),
        })
        {
            var result = await EntrypointAsync(args);
            result.ExitCode.ShouldBe(code ?? result.ExitCode, result.ToString());
            result.ExitCode.ShouldNotBe(127, result.ToString());
            (result.Stdout + result.Stderr).ShouldContain(says);
        }

        (await Db.AppliedVersionsAsync()).ShouldBe(Versions[..4]); // nothing migrated on the way
    }

    [Fact]
    public async Task Settings_read_MIGRATE_and_TIMETRACK_names_in_any_case()
    {
        // The TIMETRACK_ name wins over its MIGRATE_ alias; names in another case are the same setting.
        ShouldHaveStartedTheApplication(await EntrypointAsync(App, new() { ["migrate_target_version"] = Versions[1].ToString() }));
        (await Db.AppliedVersionsAsync()).ShouldBe(Versions[..2]);
        ShouldHaveStartedTheApplication(await EntrypointAsync(App, new() { ["MIGRATE_TARGET_VERSION"] = Versions[1].ToString(), ["TIMETRACK_TARGET_VERSION"] = Versions[2].ToString() }));
        (await Db.AppliedVersionsAsync()).ShouldBe(Versions[..3]);

        var wait = await EntrypointAsync(App, new() { ["MIGRATE_WAIT_SECONDS"] = "soon" });
        wait.ExitCode.ShouldBe(2, wait.ToString());
        wait.Stderr.ShouldContain("--wait: 'soon' from the environment is not a whole number of seconds");
    }

    private static void ShouldSucceed(ProcessResult result) => result.ExitCode.ShouldBe(0, result.ToString());

    private async Task<List<string>> SnapshotAsync(string[]? exceptColumns = null)
    {
        var rows = new List<string>();
        foreach (var table in DataSurvivalTests.BaselineTables)
        {
            rows.AddRange(await Db.SnapshotAsync(table, exceptColumns ?? []));
        }

        return rows;
    }
}

public sealed class PostgresEntrypointTests() : EntrypointTests(DatabaseKind.Postgres)
{
    [Fact]
    public async Task A_database_that_comes_up_after_the_entrypoint_started_is_waited_for()
    {
        var server = await PostgresServer.GetAsync();
        await using var proxy = new DelayedTcpProxy(server.Host, server.Port, TimeSpan.FromSeconds(3));

        var result = await EntrypointAsync(["sh", "-c", "echo APPLICATION STARTED"], new() { ["MIGRATE_WAIT_SECONDS"] = "30" },
            url: Db.Url.Replace($":{server.Port}/", $":{proxy.Port}/", StringComparison.Ordinal));

        ShouldHaveStartedTheApplication(result);
        proxy.Dropped.ShouldBeGreaterThan(0);
        result.Stderr.ShouldContain("retrying for up to");
        (await Db.AppliedVersionsAsync()).ShouldBe(RunnerTestBase.Versions);
    }
}

public sealed class SqliteEntrypointTests() : EntrypointTests(DatabaseKind.Sqlite);
