using TimeTrack.Migrations.Runner.Databases;
using TimeTrack.Migrations.Tests.Infrastructure;
using TimeTrack.Migrations.Tests.Runner;

namespace TimeTrack.Migrations.Tests.Deploy;

/// <summary>deploy/migrate.sh, the seed's helper, with the published runner on PATH as in the image.</summary>
public sealed class MigrateShTests : IAsyncLifetime
{
    private static readonly long[] Versions = RunnerTestBase.Versions;

    private TestDatabase _db = null!;

    public async Task InitializeAsync() => _db = await TestDatabase.CreateAsync(DatabaseKind.Sqlite);

    public async Task DisposeAsync() => await _db.DisposeAsync();

    private async Task<ProcessResult> MigrateShAsync(params string[] args) =>
        await RunnerProcess.RunProgramAsync(PublishedRunner.DeployScript("migrate.sh"), args, await PublishedRunner.ImageEnvironmentAsync(_db.Url));

    [Fact]
    public async Task The_seed_verbs_status_apply_rollback_and_mark_current_work()
    {
        (await MigrateShAsync("status")).Stdout.ShouldContain("current:      0 (nothing applied)");

        var apply = await MigrateShAsync("apply");
        apply.ExitCode.ShouldBe(0, apply.ToString());
        (await _db.AppliedVersionsAsync()).ShouldBe(Versions);

        var rollback = await MigrateShAsync("rollback", Versions[1].ToString());
        rollback.ExitCode.ShouldBe(0, rollback.ToString());
        (await _db.AppliedVersionsAsync()).ShouldBe(Versions[..2]);

        var markCurrent = await MigrateShAsync("mark-current");
        markCurrent.ExitCode.ShouldBe(0, markCurrent.ToString());
        (await _db.AppliedVersionsAsync()).ShouldBe(Versions);

        (await MigrateShAsync("script", "rollback")).Stdout.ShouldContain("priority");
    }

    [Fact]
    public async Task Missing_arguments_and_generation_in_the_image_are_refused_with_exit_2()
    {
        var rollback = await MigrateShAsync("rollback");
        rollback.ExitCode.ShouldBe(2);
        rollback.Stderr.ShouldContain("rollback needs a version number");

        var create = await MigrateShAsync("create");
        create.ExitCode.ShouldBe(2);
        create.Stderr.ShouldStartWith("error: "); // the runner's own usage error (create is new's alias)

        var inProduction = await MigrateShAsync("create", "Add something");
        inProduction.ExitCode.ShouldBe(2, inProduction.ToString());
        inProduction.Stderr.ShouldContain("migrations are not generated in production");

        (await MigrateShAsync()).ExitCode.ShouldBe(2);
    }

    [Fact]
    public async Task Every_runner_command_and_alias_passes_through_and_help_is_the_runner_s()
    {
        var unknown = await MigrateShAsync("frobnicate");
        unknown.ExitCode.ShouldBe(2);
        unknown.Stderr.ShouldContain("frobnicate");

        var help = await MigrateShAsync("--help");
        help.ExitCode.ShouldBe(0);
        help.Stdout.ShouldContain("downgrade");

        // Not in the old script's list: lint, manifest, restore; and the Flask-Migrate downgrade with --to.
        (await MigrateShAsync("lint", "--help")).ExitCode.ShouldBe(0);
        (await MigrateShAsync("manifest", "--help")).ExitCode.ShouldBe(0);
        (await MigrateShAsync("restore", "--help")).ExitCode.ShouldBe(0);
        (await MigrateShAsync("apply")).ExitCode.ShouldBe(0);
        var down = await MigrateShAsync("downgrade", "--to", Versions[1].ToString());
        down.ExitCode.ShouldBe(0, down.ToString());
        (await _db.AppliedVersionsAsync()).ShouldBe(Versions[..2]);
    }

    [Fact]
    public async Task The_entrypoint_refuses_a_MIGRATE_ON_START_that_is_neither_true_nor_false()
    {
        var environment = await PublishedRunner.ImageEnvironmentAsync(_db.Url);
        environment["MIGRATE_ON_START"] = "maybe";

        var result = await RunnerProcess.RunProgramAsync(PublishedRunner.DeployScript("entrypoint.sh"), ["sh", "-c", "echo APPLICATION STARTED"], environment);

        result.ExitCode.ShouldBe(2);
        result.Stderr.ShouldContain("MIGRATE_ON_START must be true or false, not 'maybe'");
        result.Stdout.ShouldNotContain("APPLICATION STARTED");
    }
}
