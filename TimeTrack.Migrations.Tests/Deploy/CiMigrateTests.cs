using TimeTrack.Migrations.Runner.Databases;
using TimeTrack.Migrations.Tests.Infrastructure;
using TimeTrack.Migrations.Tests.Runner;

namespace TimeTrack.Migrations.Tests.Deploy;

/// <summary>deploy/ci-migrate.sh, the deploy job's logic, against a real PostgreSQL with a job summary file.</summary>
/// <remarks>Two classes (migrate and rollback/targets), so that xunit runs them in parallel: every test runs the script, which runs the published runner several times.</remarks>
public abstract class CiMigrateTestBase : IAsyncLifetime
{
    protected static readonly long[] Versions = RunnerTestBase.Versions;

    protected TestDatabase Db { get; private set; } = null!;
    private string _summary = null!;

    public async Task InitializeAsync()
    {
        Db = await TestDatabase.CreateAsync(DatabaseKind.Postgres, "deploy");
        _summary = Path.GetTempFileName();
    }

    public async Task DisposeAsync()
    {
        await Db.DisposeAsync();
        File.Delete(_summary);
    }

    protected async Task<(ProcessResult Result, string Summary)> DeployAsync(string action, string? target = null, bool dryRun = false, Dictionary<string, string?>? extra = null)
    {
        await File.WriteAllTextAsync(_summary, "");
        var environment = await PublishedRunner.ImageEnvironmentAsync(Db.Url);
        environment["MIGRATE_ACTION"] = action;
        environment["MIGRATE_TARGET_VERSION"] = target;
        environment["MIGRATE_DRY_RUN"] = dryRun ? "true" : "false";
        environment["GITHUB_STEP_SUMMARY"] = _summary;
        foreach (var (key, value) in extra ?? [])
        {
            environment[key] = value;
        }

        var result = await RunnerProcess.RunProgramAsync(PublishedRunner.DeployScript("ci-migrate.sh"), [], environment, timeout: TimeSpan.FromMinutes(3));
        var summary = await File.ReadAllTextAsync(_summary);
        RunnerProcess.AssertNoSecrets(new ProcessResult(0, summary, ""));
        return (result, summary);
    }

    /// <summary>A starting state for a test of the script: set up with the runner in-process (the script's migrate is tested on its own).</summary>
    protected async Task UpInProcessAsync(long? to = null)
    {
        var result = await InProcessRunner.RunAsync(["up", "--database-url", Db.Url, .. to is null ? Array.Empty<string>() : ["--to", to.Value.ToString(System.Globalization.CultureInfo.InvariantCulture)]]);
        result.ExitCode.ShouldBe(0, result.ToString());
    }
}

/// <summary>ci-migrate.sh: migrate, dry runs, status, failures, warnings and the summary.</summary>
public sealed class CiMigrateTests : CiMigrateTestBase
{
    [Fact]
    public async Task Migrate_from_empty_writes_status_and_sql_into_the_summary_and_applies()
    {
        var (result, summary) = await DeployAsync("migrate");

        result.ExitCode.ShouldBe(0, result.ToString());
        summary.ShouldContain("### Status before");
        summary.ShouldContain($"| {Versions[0]} | Baseline |  | pending |");
        summary.ShouldContain("```sql");
        summary.ShouldContain("CREATE TABLE \"public\".\"companies\"");
        summary.ShouldContain(":white_check_mark: Done");
        summary.ShouldContain($"| {Versions[^1]} | Add task priority | up |");
        var after = summary[summary.IndexOf("### Status after", StringComparison.Ordinal)..];
        after.ShouldContain($"| {Versions[^1]} | Add task priority |");
        after.ShouldContain("| pending | 0 |");
        after.ShouldNotContain("|  | pending |");
        summary.ShouldContain("postgresql://postgres:***@");
        (await Db.AppliedVersionsAsync()).ShouldBe(Versions);
    }

    [Fact]
    public async Task MIGRATE_BACKUP_DIR_backs_up_before_the_migration_and_names_the_file_in_the_summary_and_outputs()
    {
        await UpInProcessAsync(Versions[1]);
        var dir = Directory.CreateTempSubdirectory("timetrack-deploy-backups-").FullName;
        var outputs = Path.GetTempFileName();
        try
        {
            var (bad, badSummary) = await DeployAsync("migrate", extra: new() { ["MIGRATE_BACKUP_DIR"] = dir, ["MIGRATE_BACKUP_OPTIONAL"] = "maybe" });
            bad.ExitCode.ShouldBe(2, bad.ToString());
            badSummary.ShouldContain("MIGRATE_BACKUP_OPTIONAL must be true or false, not 'maybe'");
            (await Db.AppliedVersionsAsync()).ShouldBe(Versions[..2]);

            // An older backup of this database: MIGRATE_BACKUP_KEEP=1 leaves only the new one.
            string older;
            await using (var database = await TimeTrack.Migrations.Runner.Databases.Database.OpenAsync(Db.Target))
            {
                var identity = await TimeTrack.Migrations.Runner.Running.BackupIdentity.OfAsync(database, CancellationToken.None);
                older = Path.Combine(dir, TimeTrack.Migrations.Runner.Running.Backups.FileName(identity, 1, new DateTime(2020, 1, 1, 0, 0, 0, DateTimeKind.Utc)));
            }

            await File.WriteAllTextAsync(older, "older");
            var (result, summary) = await DeployAsync("migrate", extra: new() { ["MIGRATE_BACKUP_DIR"] = dir, ["MIGRATE_BACKUP_KEEP"] = "1", ["GITHUB_OUTPUT"] = outputs });

            result.ExitCode.ShouldBe(0, result.ToString());
            File.Exists(older).ShouldBeFalse("MIGRATE_BACKUP_KEEP=1 keeps only the newest backup");
            var backup = Directory.GetFiles(dir).ShouldHaveSingleItem();
            Path.GetFileName(backup).ShouldEndWith(".dump");
            Path.GetFileName(backup).ShouldContain($"-v{Versions[1]}-");
            summary.ShouldContain($"Backup before the change: `{backup}` (");
            (await File.ReadAllTextAsync(outputs)).ShouldContain($"backup={backup}\n");
            (await Db.AppliedVersionsAsync()).ShouldBe(Versions);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
            File.Delete(outputs);
        }
    }

    [Fact]
    public async Task A_dry_run_puts_the_sql_in_the_summary_and_changes_nothing()
    {
        var before = await Db.DumpAsync();

        var (result, summary) = await DeployAsync("migrate", dryRun: true);

        result.ExitCode.ShouldBe(0, result.ToString());
        summary.ShouldContain("(dry run)");
        summary.ShouldContain("CREATE TABLE \"public\".\"companies\"");
        summary.ShouldContain("Dry run: nothing was changed.");
        (await Db.DumpAsync()).ShouldBe(before);
    }

    [Fact]
    public async Task A_failing_migration_fails_the_job_and_the_summary_says_which_and_why()
    {
        var (result, summary) = await DeployAsync("migrate", extra: new()
        {
            ["TIMETRACK_MIGRATIONS_ASSEMBLY"] = RunnerProcess.ScenariosAssembly,
            ["TIMETRACK_TEST_SCENARIO"] = "fail",
        });

        result.ExitCode.ShouldBe(1, result.ToString());
        summary.ShouldContain(":x: The migrate failed (exit 1)");
        summary.ShouldContain("> migration 300 (Scenario step) failed");
        summary.ShouldContain("no_such_table");
        (await Db.AppliedVersionsAsync()).ShouldBe([100L, 200L]);
    }

    [Fact]
    public async Task Migrate_adopts_a_legacy_database_as_the_container_start_does()
    {
        await Db.RestoreLegacyFixtureAsync();

        var (result, summary) = await DeployAsync("migrate");

        result.ExitCode.ShouldBe(0, result.ToString());
        summary.ShouldContain("no migration history: it is verified against the stamping profiles and stamped");
        summary.ShouldContain(":white_check_mark: Done");
        result.Stdout.ShouldContain("ci-migrate: adopted with the stamping profile ");
        (await Db.AppliedVersionsAsync()).ShouldBe(Versions);
    }

    [Fact]
    public async Task Warnings_go_into_the_summary_and_become_annotations()
    {
        await UpInProcessAsync();
        await Db.ExecuteAsync("INSERT INTO \"VersionInfo\" (\"Version\", \"AppliedOn\", \"Description\") VALUES (209901010000, '2099-01-01', 'From a newer image')");

        var (result, summary) = await DeployAsync("migrate");

        result.ExitCode.ShouldBe(0, result.ToString());
        summary.ShouldContain(":warning: Warnings");
        summary.ShouldContain("- the database records version(s) 209901010000 newer than this build knows");
        result.Stderr.ShouldContain("::warning title=Database migration::the database records version(s) 209901010000");
    }

    [Fact]
    public async Task Sql_too_large_for_the_summary_goes_to_the_artifact_directory()
    {
        var artifacts = Directory.CreateTempSubdirectory("ci-migrate-artifacts").FullName;
        try
        {
            var (result, summary) = await DeployAsync("migrate", dryRun: true, extra: new()
            {
                ["MIGRATE_ARTIFACT_DIR"] = artifacts,
                ["MIGRATE_SUMMARY_SQL_LIMIT"] = "1000",
            });

            result.ExitCode.ShouldBe(0, result.ToString());
            summary.ShouldContain("too large for the job summary");
            summary.ShouldContain("`migration-sql`");
            summary.ShouldNotContain("CREATE TABLE \"public\".\"companies\"");
            (await File.ReadAllTextAsync(Path.Combine(artifacts, "migration.sql"))).ShouldContain("CREATE TABLE \"public\".\"companies\"");
        }
        finally
        {
            Directory.Delete(artifacts, recursive: true);
        }
    }

    [Fact]
    public async Task Status_only_reports()
    {
        var before = await Db.DumpAsync();

        var (result, summary) = await DeployAsync("status");

        result.ExitCode.ShouldBe(0, result.ToString());
        summary.ShouldContain("| provider | PostgreSQL |");
        summary.ShouldNotContain("```sql");
        (await Db.DumpAsync()).ShouldBe(before);
    }
}

/// <summary>ci-migrate.sh: rollbacks, target versions and the step outputs.</summary>
public sealed class CiMigrateTargetTests : CiMigrateTestBase
{
    [Fact]
    public async Task Rollback_goes_to_a_version_number_and_to_zero()
    {
        await UpInProcessAsync();

        var (toVersion, summary) = await DeployAsync("rollback", Versions[2].ToString());
        toVersion.ExitCode.ShouldBe(0, toVersion.ToString());
        summary.ShouldContain($"## Database migration: rollback to {Versions[2]}");
        summary.ShouldContain("DROP INDEX CONCURRENTLY IF EXISTS ix_time_entries_user_arrival");
        summary.ShouldContain($"| {Versions[3]} | Index time entries by user and day |  | pending |");
        (await Db.AppliedVersionsAsync()).ShouldBe(Versions[..3]);

        var (toZero, _) = await DeployAsync("rollback", "0");
        toZero.ExitCode.ShouldBe(0, toZero.ToString());
        (await Db.AppliedVersionsAsync()).ShouldBeEmpty();
        (await Db.ReadSchemaAsync()).IsEmpty.ShouldBeTrue();
    }

    [Fact]
    public async Task An_unknown_target_version_fails_clearly_and_changes_nothing()
    {
        await UpInProcessAsync(Versions[1]);
        var before = await Db.DumpAsync();

        var (up, upSummary) = await DeployAsync("migrate", "1999");
        up.ExitCode.ShouldBe(2, up.ToString());
        upSummary.ShouldContain(":x: cannot plan the migrate: version 1999 does not exist");

        var (down, downSummary) = await DeployAsync("rollback", "1999");
        down.ExitCode.ShouldBe(2, down.ToString());
        downSummary.ShouldContain(":x: cannot plan the rollback: version 1999 does not exist");

        var (missing, _) = await DeployAsync("rollback");
        missing.ExitCode.ShouldBe(2);
        missing.Stderr.ShouldContain("a rollback needs MIGRATE_TARGET_VERSION");

        (await Db.DumpAsync()).ShouldBe(before);
    }

    [Fact]
    public async Task A_migrate_below_the_database_fails_and_points_at_rollback()
    {
        await UpInProcessAsync();
        var before = await Db.DumpAsync();

        var (result, summary) = await DeployAsync("migrate", Versions[2].ToString());

        result.ExitCode.ShouldBe(5, result.ToString());
        summary.ShouldContain($":x: the database is at {Versions[^1]}, above the target {Versions[2]}: a migrate never rolls back");
        summary.ShouldContain("action 'rollback'");
        (await Db.DumpAsync()).ShouldBe(before);
    }

    [Fact]
    public async Task Step_outputs_say_from_to_and_what_was_applied_or_rolled_back()
    {
        var outputs = Path.GetTempFileName();
        try
        {
            (await DeployAsync("migrate", Versions[2].ToString(), extra: new() { ["GITHUB_OUTPUT"] = outputs })).Result.ExitCode.ShouldBe(0);
            (await File.ReadAllTextAsync(outputs)).ShouldBe(
                $"from=0\nto={Versions[2]}\ncurrent={Versions[2]}\napplied={string.Join(',', Versions[..3])}\napplied_count=3\npending_count={Versions.Length - 3}\nbackup=\n");

            await File.WriteAllTextAsync(outputs, "");
            (await DeployAsync("rollback", Versions[0].ToString(), extra: new() { ["GITHUB_OUTPUT"] = outputs })).Result.ExitCode.ShouldBe(0);
            (await File.ReadAllTextAsync(outputs)).ShouldBe(
                $"from={Versions[2]}\nto={Versions[0]}\ncurrent={Versions[0]}\napplied={Versions[2]},{Versions[1]}\napplied_count=2\npending_count={Versions.Length - 1}\nbackup=\n");
        }
        finally
        {
            File.Delete(outputs);
        }
    }
}
