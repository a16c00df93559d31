using System.Text;
using TimeTrack.Migrations.Runner.Databases;
using TimeTrack.Migrations.Runner.Running;
using TimeTrack.Migrations.Runner.Schema;
using TimeTrack.Migrations.Tests.Infrastructure;
using TimeTrack.Migrations.Tests.Migrations;

namespace TimeTrack.Migrations.Tests.Runner;

/// <summary>
/// Two builds of the history, as two images would carry them: the shipped migrations, and a newer
/// build with a sixth migration (compiled here from the shipped classes plus one). The newer build
/// applies the sixth; the shipped build, which does not know it, rolls it back from the SQL the
/// version table recorded. Also: a Down that runs code is refused naming who applied it, and an
/// applied migration edited afterwards is refused at start.
/// </summary>
public abstract class RecordedHistoryTests(DatabaseKind kind) : RunnerTestBase(kind)
{
    internal const long Sixth = 209001010900;
    private static readonly MigrationCatalog Shipped = MigrationCatalog.FromAssembly(typeof(TimeTrack.Migrations.Migrations.TimeTrackMigration).Assembly);

    /// <summary>The shipped migrations wrapped one by one (same versions, same statements), plus <paramref name="extra"/>.</summary>
    internal static string NewerBuild(string extra, long? editedVersion = null)
    {
        var source = new StringBuilder("""
            using FluentMigrator;
            using FluentMigrator.Infrastructure;
            using TimeTrack.Migrations.Migrations;

            namespace Newer;

            """);
        foreach (var m in Shipped.Migrations)
        {
            var behaviour = m.Transactional ? "TransactionBehavior.Default" : "TransactionBehavior.None";
            // The edit: one more statement in its Up, as if someone changed an applied migration.
            var edit = m.Version == editedVersion
                ? "context.Expressions.Add(new FluentMigrator.Expressions.ExecuteSqlStatementExpression { SqlStatement = \"SELECT 1\" });"
                : "";
            source.AppendLine($$"""
                [Migration({{m.Version}}, {{behaviour}}, "{{m.Description}}")]
                public sealed class V{{m.Version}} : Migration
                {
                    public override void Up() { }
                    public override void Down() { }
                    public override void GetUpExpressions(IMigrationContext context) { new {{m.Type!.FullName}}().GetUpExpressions(context); {{edit}} }
                    public override void GetDownExpressions(IMigrationContext context) => new {{m.Type!.FullName}}().GetDownExpressions(context);
                }
                """);
        }

        source.AppendLine(extra);
        return source.ToString();
    }

    /// <summary>A sixth migration whose Down keeps every row: a table renamed and a column added, and back.</summary>
    internal static readonly string DataPreservingSixth = $$"""
        [Migration({{Sixth}}, "Rename system settings")]
        public sealed class V{{Sixth}} : TimeTrackMigration
        {
            public override void Up()
            {
                Rename.Table("system_settings").To("app_settings");
                Alter.Table("projects").AddColumn("colour").AsCustom(Sql.Varchar(7)).Nullable();
            }

            public override void Down()
            {
                Delete.Column("colour").FromTable("projects");
                Rename.Table("app_settings").To("system_settings");
            }
        }
        """;

    private static readonly string SixthWithCodeInDown = $$"""
        [Migration({{Sixth}}, "Archive old entries")]
        public sealed class V{{Sixth}} : TimeTrackMigration
        {
            public override void Up() => Create.Table("archive").WithColumn("id").AsCustom(Sql.Integer).NotNullable().PrimaryKey("archive_pkey");

            public override void Down()
            {
                Execute.WithConnection((connection, transaction) => { }, "copy the archive back");
                Delete.Table("archive");
            }
        }
        """;

    /// <summary>The assembly a newer image would carry, written to a file the runner loads (--migrations-assembly).</summary>
    internal static string Compile(string source)
    {
        var path = Path.Combine(Path.GetTempPath(), $"timetrack-newer-{Guid.NewGuid():N}.dll");
        MigrationCompiler.Compile(source, path);
        return path;
    }

    private Task<ProcessResult> RunNewerAsync(string assembly, params string[] args) =>
        RunAsync([.. args, "--migrations-assembly", assembly], new Dictionary<string, string?> { ["TIMETRACK_IMAGE_REVISION"] = "rev-newer" });

    [Fact]
    public async Task The_shipped_build_rolls_back_a_migration_it_does_not_know_with_the_recorded_down_and_nothing_is_lost()
    {
        ShouldSucceed(await RunAsync("up"));
        await DataSurvivalTests.SeedAsync(Db);
        var newer = Compile(NewerBuild(DataPreservingSixth));
        ShouldSucceed(await RunNewerAsync(newer, "up"));
        (await Db.ReadSchemaAsync()).Table("app_settings").ShouldNotBeNull();

        var status = await RunAsync("status", "--json");
        ShouldSucceed(status);
        status.Stdout.ShouldContain($"\"version\": {Sixth}");
        status.Stdout.ShouldContain("\"downRecorded\": true");
        status.Stdout.ShouldContain("\"imageRevision\": \"rev-newer\"");

        var preview = await RunAsync("script", "rollback", "--to", Shipped.Head.ToString());
        ShouldSucceed(preview);
        preview.Stdout.ShouldContain($"-- rolling back {Sixth} (Rename system settings)");
        preview.Stdout.ShouldContain("app_settings");
        preview.Stdout.ShouldContain($"DELETE FROM {(Provider == DatabaseKind.Postgres ? "\"public\"." : "")}\"VersionInfo\" WHERE \"Version\" = {Sixth};");

        var rollback = await RunAsync("rollback", "--to", Shipped.Head.ToString());

        ShouldSucceed(rollback);
        rollback.Stderr.ShouldContain($"rolling back {Sixth} Rename system settings with the Down recorded when it was applied");
        (await Db.AppliedVersionsAsync()).ShouldBe(Shipped.Migrations.Select(m => m.Version));
        await using var never = await TestDatabase.CreateAsync(Provider, "never");
        await never.MigrateToAsync();
        await DataSurvivalTests.SeedAsync(never);
        SchemaComparer.Compare(await never.ReadSchemaAsync(), await Db.ReadSchemaAsync()).Render().ShouldBe("(no differences)");
        (await DataSurvivalTests.SnapshotAsync(Db)).ShouldBe(await DataSurvivalTests.SnapshotAsync(never));
        ShouldSucceed(await RunAsync("check")); // RunAsync adds --database-url: the live check
    }

    [Fact]
    public async Task Init_to_a_version_below_an_unknown_one_uses_the_recorded_down_too()
    {
        ShouldSucceed(await RunAsync("up"));
        ShouldSucceed(await RunNewerAsync(Compile(NewerBuild(DataPreservingSixth)), "up"));

        ShouldSucceed(await RunAsync("init", "--to", Shipped.Head.ToString(), "--allow-downgrade"));

        (await Db.AppliedVersionsAsync()).ShouldBe(Shipped.Migrations.Select(m => m.Version));
        (await Db.ReadSchemaAsync()).Table("system_settings").ShouldNotBeNull();
    }

    [Fact]
    public async Task A_down_that_runs_code_is_not_captured_and_its_rollback_is_refused_naming_who_applied_it()
    {
        ShouldSucceed(await RunAsync("up"));
        ShouldSucceed(await RunNewerAsync(Compile(NewerBuild(SixthWithCodeInDown)), "up"));
        var before = await Db.FingerprintAsync();

        var refused = await RunAsync("rollback", "--to", Shipped.Head.ToString());

        ShouldFailWithOneLine(refused, 5,
            $"cannot roll back version {Sixth} (applied by image revision rev-newer; its Down was not captured: it runs code against the connection (Execute.WithConnection: copy the archive back))");
        (await Db.FingerprintAsync()).ShouldBe(before);
        (await RunAsync("status")).Stdout.ShouldContain("Down not captured (it runs code against the connection");
    }

    [Fact]
    public async Task An_applied_migration_edited_afterwards_is_refused_at_start_until_repaired()
    {
        ShouldSucceed(await RunAsync("up", "--to", Shipped.Migrations[2].Version.ToString()));
        var edited = Compile(NewerBuild("", editedVersion: Shipped.Migrations[1].Version));
        var before = await Db.FingerprintAsync();

        var refused = await RunNewerAsync(edited, "up");

        ShouldFailWithOneLine(refused, 5, $"applied migration(s) {Shipped.Migrations[1].Version} (Add user preferences) differ from this build's");
        (await Db.FingerprintAsync()).ShouldBe(before);
        (await RunNewerAsync(edited, "status")).Stdout.ShouldContain("checksum CHANGED since it was applied");

        var once = await RunNewerAsync(edited, "up", "--to", Shipped.Migrations[3].Version.ToString(), "--allow-changed");
        ShouldSucceed(once);
        once.Stderr.ShouldContain("CHANGED: applied migration(s)");
        ShouldFailWithOneLine(await RunNewerAsync(edited, "up"), 5, "differ from this build's");

        var repair = await RunNewerAsync(edited, "stamp", "--repair");
        ShouldSucceed(repair);
        repair.Stderr.ShouldContain($"REPAIR: accepted this build's checksums for changed migration(s) {Shipped.Migrations[1].Version}");
        ShouldSucceed(await RunNewerAsync(edited, "up"));
        // The shipped build now sees the repaired checksum as a change in its turn: the edit is a fork.
        ShouldFailWithOneLine(await RunAsync("up"), 5, "differ from this build's");
    }

    [Fact]
    public async Task The_same_migrations_in_another_build_have_the_same_checksums()
    {
        ShouldSucceed(await RunAsync("up", "--to", Shipped.Migrations[2].Version.ToString()));

        // Another assembly (compiled here, no manifest: its checksums are rendered at start) with the
        // same migrations validates against what the shipped build recorded, and continues.
        ShouldSucceed(await RunNewerAsync(Compile(NewerBuild("")), "up"));

        (await Db.AppliedVersionsAsync()).ShouldBe(Shipped.Migrations.Select(m => m.Version));
    }

    [Fact]
    public async Task A_version_table_of_an_older_runner_gains_the_record_and_rows_applied_before_get_it_from_this_build()
    {
        ShouldSucceed(await RunAsync("up", "--to", Shipped.Migrations[1].Version.ToString()));
        // What an older runner left: FluentMigrator's three columns only.
        await Db.ExecuteAsync(Provider == DatabaseKind.Postgres
            ? "ALTER TABLE \"VersionInfo\" DROP COLUMN \"Checksum\", DROP COLUMN \"RunnerVersion\", DROP COLUMN \"ImageRevision\", DROP COLUMN \"AppliedByHost\", " +
              "DROP COLUMN \"AppliedByUser\", DROP COLUMN \"DurationMs\", DROP COLUMN \"DownSql\", DROP COLUMN \"DownInTransaction\", DROP COLUMN \"DownNotCaptured\""
            : string.Join("; ", new[] { "Checksum", "RunnerVersion", "ImageRevision", "AppliedByHost", "AppliedByUser", "DurationMs", "DownSql", "DownInTransaction", "DownNotCaptured" }
                .Select(c => $"ALTER TABLE \"VersionInfo\" DROP COLUMN \"{c}\"")));
        (await RunAsync("status")).Stdout.ShouldContain("checksum not recorded; Down not recorded; applied before the runner recorded history");

        var up = await RunAsync("up");

        ShouldSucceed(up);
        up.Stderr.ShouldContain("the version table gained the columns of the recorded history");
        up.Stderr.ShouldContain($"2 migration(s) applied before the runner recorded history got their checksum and Down from this build: {Shipped.Migrations[0].Version}, {Shipped.Migrations[1].Version}");
        var status = (await RunAsync("status")).Stdout;
        status.ShouldContain("recorded afterwards by timetrack-migrate");
        status.ShouldNotContain("not recorded");
    }
}

public sealed class PostgresRecordedHistoryTests() : RecordedHistoryTests(DatabaseKind.Postgres);

public sealed class SqliteRecordedHistoryTests() : RecordedHistoryTests(DatabaseKind.Sqlite);
