using TimeTrack.Migrations.Runner.Output;
using TimeTrack.Migrations.Runner.Running;

namespace TimeTrack.Migrations.Tests.Runner;

public sealed class VersionStateTests
{
    private static readonly MigrationCatalog Catalog = MigrationCatalog.FromAssembly(typeof(TimeTrack.Migrations.TestScenarios.Scenario).Assembly);

    private static VersionState State(params long[] applied) => new(Catalog, applied);

    [Fact]
    public void The_catalog_reads_versions_descriptions_and_transaction_behaviour_in_order()
    {
        Catalog.Migrations.Select(m => m.Version).ShouldBe([100L, 200L, 300L]);
        Catalog.Head.ShouldBe(300);
        Catalog.Find(200)!.Description.ShouldBe("Add widget colour");

        var shipped = MigrationCatalog.FromAssembly(typeof(TimeTrack.Migrations.Migrations.TimeTrackMigration).Assembly);
        shipped.Migrations.Where(m => !m.Transactional).Select(m => m.Description).ShouldBe(["Index time entries by user and day"]);
    }

    [Fact]
    public void Up_plans_the_pending_versions_in_order_up_to_the_target()
    {
        State().PlanUp(null, false, false).Select(s => s.Migration.Version).ShouldBe([100L, 200L, 300L]);
        State(100).PlanUp(200, false, false).Select(s => s.Migration.Version).ShouldBe([200L]);
        State(100, 200, 300).PlanUp(null, false, false).ShouldBeEmpty();
        State(100, 200, 300).Current.ShouldBe(300);
    }

    [Fact]
    public void Unknown_versions_newer_than_head_mean_the_database_is_ahead()
    {
        var state = State(100, 200, 300, 400);

        state.Unknown.ShouldBe([400L]);
        state.DatabaseIsAhead.ShouldBeTrue();
        state.PlanUp(null, false, false).ShouldBeEmpty();
    }

    [Fact]
    public void Unknown_versions_between_known_ones_are_refused_unless_allowed()
    {
        var state = State(100, 150);

        state.DatabaseIsAhead.ShouldBeFalse();
        Should.Throw<UserError>(() => state.PlanUp(null, false, false)).Code.ShouldBe(ExitCode.Refused);
        state.PlanUp(null, allowUnknown: true, false).Select(s => s.Migration.Version).ShouldBe([200L, 300L]);
    }

    [Fact]
    public void Pending_versions_older_than_the_newest_applied_are_out_of_order()
    {
        var state = State(100, 300);

        state.OutOfOrder.Select(m => m.Version).ShouldBe([200L]);
        Should.Throw<UserError>(() => state.PlanUp(null, false, false)).Message.ShouldContain("200");
        state.PlanUp(null, false, allowOutOfOrder: true).Select(s => s.Migration.Version).ShouldBe([200L]);
    }

    [Fact]
    public void Rollback_plans_newest_first_by_target_or_steps()
    {
        var state = State(100, 200, 300);

        state.PlanRollback(100, null).Select(s => s.Migration.Version).ShouldBe([300L, 200L]);
        state.PlanRollback(0, null).Select(s => s.Migration.Version).ShouldBe([300L, 200L, 100L]);
        state.PlanRollback(null, null).Select(s => s.Migration.Version).ShouldBe([300L]);
        state.PlanRollback(null, 2).Select(s => s.Migration.Version).ShouldBe([300L, 200L]);
        state.PlanRollback(300, null).ShouldBeEmpty();
    }

    [Theory]
    [InlineData(150L, null, "does not exist")]
    [InlineData(null, 0, "must be 1 or more")]
    [InlineData(null, 4, "only 3 migration(s) are applied")]
    [InlineData(100L, 1, "not both")]
    public void Rollback_rejects_bad_targets_as_invalid_input(long? target, int? steps, string message)
    {
        var error = Should.Throw<UserError>(() => State(100, 200, 300).PlanRollback(target, steps));

        error.Code.ShouldBe(ExitCode.InvalidInput);
        error.Message.ShouldContain(message);
    }

    [Fact]
    public void Rollback_refuses_versions_this_build_cannot_undo()
    {
        Should.Throw<UserError>(() => State(100, 200, 300, 400).PlanRollback(null, 1)).Code.ShouldBe(ExitCode.Refused);
        Should.Throw<UserError>(() => State(100, 200).PlanRollback(300, null)).Message.ShouldContain("is not applied");
    }

    [Fact]
    public void Stamp_targets_are_head_zero_or_a_known_version()
    {
        State().ResolveStampTarget("head").ShouldBe(300);
        State().ResolveStampTarget("HEAD").ShouldBe(300);
        State().ResolveStampTarget("200").ShouldBe(200);
        State().ResolveStampTarget("0").ShouldBe(0);
        Should.Throw<UserError>(() => State().ResolveStampTarget("250")).Code.ShouldBe(ExitCode.InvalidInput);
        Should.Throw<UserError>(() => State().ResolveStampTarget("-1")).Code.ShouldBe(ExitCode.InvalidInput);
    }

    [Fact]
    public void The_current_version_after_a_run_follows_the_steps_that_ran()
    {
        var state = State(100, 200);

        state.CurrentAfter([]).ShouldBe(200);
        state.CurrentAfter([new StepResult(300, "Scenario step", Direction.Up, TimeSpan.Zero)]).ShouldBe(300);
        state.CurrentAfter([new StepResult(200, "Add widget colour", Direction.Down, TimeSpan.Zero)]).ShouldBe(100);
        state.CurrentAfter([new StepResult(200, "", Direction.Down, TimeSpan.Zero), new StepResult(100, "", Direction.Down, TimeSpan.Zero)]).ShouldBe(0);
    }
}
