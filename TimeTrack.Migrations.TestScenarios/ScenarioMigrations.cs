using FluentMigrator;
using TimeTrack.Migrations.Migrations;

namespace TimeTrack.Migrations.TestScenarios;

/// <summary>
/// What step 300 does, chosen by the test: through the environment of a runner process, or, for
/// a runner run in-process, through <see cref="InProcess"/>.
/// </summary>
/// <remarks>
/// In-process runs happen in parallel in one process, so they cannot use its environment. An
/// AsyncLocal set by the test around its Cli.RunAsync call flows down into the migrations
/// FluentMigrator runs for that call (they run in the call's async flow) and into no other run.
/// Chosen over having the runner hand its injected environment to migrations (a service in
/// FluentMigrator's container): that would thread the environment through every place the runner
/// builds a container, for the sake of one test-only assembly.
/// </remarks>
public static class Scenario
{
    public const string Variable = "TIMETRACK_TEST_SCENARIO";

    /// <summary>The scenario of the in-process run in this async flow (null: none, read the environment).</summary>
    public static readonly AsyncLocal<string?> InProcess = new();

    public static string Current => InProcess.Value ?? Environment.GetEnvironmentVariable(Variable) ?? "normal";
}

[Migration(100, "Create widgets")]
public sealed class M100_CreateWidgets : TimeTrackMigration
{
    public override void Up()
    {
        Create.Table("widgets")
            .WithColumn("id").AsCustom(Sql.Integer).NotNullable().PrimaryKey("widgets_pkey")
            .WithColumn("name").AsCustom(Sql.Varchar(50)).NotNullable();
        Execute.Sql("INSERT INTO widgets (id, name) VALUES (1, 'sprocket'), (2, 'cog')");
    }

    public override void Down() => Delete.Table("widgets");
}

[Migration(200, "Add widget colour")]
public sealed class M200_AddWidgetColour : TimeTrackMigration
{
    public override void Up() => Alter.Table("widgets").AddColumn("colour").AsCustom(Sql.Varchar(20)).Nullable();

    public override void Down() => Delete.Column("colour").FromTable("widgets");
}

/// <summary>normal: creates gadgets; fail: creates gadgets, then a statement fails; slow: creates gadgets, then runs for a long time; slow-index (PostgreSQL): creates gadgets, then builds an index for several seconds; irreversible: Down throws.</summary>
[Migration(300, "Scenario step")]
public sealed class M300_ScenarioStep : TimeTrackMigration
{
    public override void Up()
    {
        Create.Table("gadgets")
            .WithColumn("id").AsCustom(Sql.Integer).NotNullable().PrimaryKey("gadgets_pkey");
        Execute.Sql("INSERT INTO gadgets (id) VALUES (1)");

        switch (Scenario.Current)
        {
            case "fail":
                Execute.Sql("INSERT INTO no_such_table (id) VALUES (1)");
                break;
            case "slow":
                Execute.Sql(IsSqlite
                    ? "WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM n WHERE x < 2000000000) SELECT count(*) FROM n"
                    : "SELECT pg_sleep(120)");
                break;
            case "slow-index" when !IsSqlite:
                // An index build of several seconds however fast the machine: each row's key sleeps
                // 1 ms, while the build scans the table's ~27 blocks (pg_stat_progress_create_index).
                Execute.Sql("CREATE FUNCTION slow_key(integer) RETURNS integer IMMUTABLE LANGUAGE plpgsql AS $$ BEGIN PERFORM pg_sleep(0.001); RETURN $1; END $$");
                Execute.Sql("CREATE TABLE slow_rows AS SELECT g AS id FROM generate_series(1, 6000) AS g");
                Execute.Sql("CREATE INDEX slow_rows_key ON slow_rows (slow_key(id))");
                break;
        }
    }

    public override void Down()
    {
        if (Scenario.Current == "irreversible")
        {
            throw new NotSupportedException("gadgets cannot be restored once dropped");
        }

        Delete.Table("gadgets");
    }
}
