using System.Reflection;
using System.Text.Json;
using TimeTrack.Migrations.Migrations;
using TimeTrack.Migrations.Runner.Generation;
using TimeTrack.Migrations.Runner.Lint;
using TimeTrack.Migrations.Runner.Running;
using TimeTrack.Migrations.Runner.Schema;
using TimeTrack.Migrations.Tests.Infrastructure;
using TimeTrack.Migrations.Tests.Runner;

namespace TimeTrack.Migrations.Tests.Lint;

/// <summary>
/// The lint: one small compiled migration per rule on a table an earlier migration created, the
/// same change on a table new in the migration (no finding), [AllowLint], the outputs and exit
/// codes through the built executable, the shipped migrations, and what `new` generates.
/// </summary>
public sealed class LintTests : IDisposable
{
    private readonly string _work = Directory.CreateTempSubdirectory("timetrack-lint-").FullName;

    public void Dispose() => Directory.Delete(_work, recursive: true);

    /// <summary>Version 1: the tables and the enum the migration under test finds in place (and their rows, in production).</summary>
    private const string Existing = """
        using FluentMigrator;
        using TimeTrack.Migrations.Migrations;

        namespace LintCase;

        [Migration(1, "Widgets")]
        public sealed class M1_Widgets : TimeTrackMigration
        {
            private static readonly string[] Colours = ["RED", "GREEN", "BLUE"];

            public override void Up()
            {
                CreateEnumType("colour", Colours);
                Create.Table("owners").WithColumn("id").AsCustom(Sql.Integer).NotNullable().PrimaryKey("owners_pkey");
                Create.Table("widgets")
                    .WithColumn("id").AsCustom(Sql.Integer).NotNullable().PrimaryKey("widgets_pkey")
                    .WithColumn("name").AsCustom(Sql.Varchar(50)).NotNullable()
                    .WithColumn("note").AsCustom(Sql.Text).Nullable()
                    .WithColumn("qty").AsCustom(Sql.Integer).Nullable()
                    .WithColumn("owner_id").AsCustom(Sql.Integer).Nullable()
                    .WithColumn("colour").AsCustom(Sql.Enum("colour", "colour", Colours)).NotNullable().WithDefaultValue("RED");
            }

            public override void Down()
            {
                Delete.Table("widgets");
                Delete.Table("owners");
                DropEnumType("colour");
            }
        }

        """;

    /// <summary>Version 2 with <paramref name="up"/> (PostgreSQL-only statements go under <c>if (!IsSqlite)</c>: the previous schema is built on SQLite).</summary>
    private static string Case(string up, string attributes = "", bool transactional = true) => Existing + $$"""
        {{attributes}}
        [Migration(2, {{(transactional ? "" : "TransactionBehavior.None, ")}}"Change under test")]
        public sealed class M2_Change : TimeTrackMigration
        {
            public override void Up()
            {
                {{up}}
            }

            public override void Down() { }
        }
        """;

    private static async Task<IReadOnlyList<LintFinding>> LintAsync(string source) =>
        await MigrationLinter.LintAsync(MigrationCatalog.FromAssembly(MigrationCompiler.Compile(source)), squawk: null, Directory.GetCurrentDirectory(), default);

    private static async Task<IReadOnlyList<string>> RulesAsync(string up, bool transactional = true) =>
        (await LintAsync(Case(up, transactional: transactional))).Select(f => f.RuleId).ToList();

    [Fact]
    public async Task An_index_without_concurrently_on_an_existing_table_is_found_and_not_on_a_new_one()
    {
        (await RulesAsync("""Create.Index("ix_widgets_name").OnTable("widgets").OnColumn("name").Ascending();""")).ShouldBe(["index-not-concurrent"]);
        (await RulesAsync("""Execute.Sql("CREATE INDEX ix_widgets_qty ON widgets (qty)");""")).ShouldBe(["index-not-concurrent"]);
        (await RulesAsync("""CreateIndexConcurrently("ix_widgets_qty", "widgets", ["qty"]);""", transactional: false)).ShouldBeEmpty();
        (await RulesAsync("""
            Create.Table("gadgets").WithColumn("id").AsCustom(Sql.Integer).NotNullable().PrimaryKey("gadgets_pkey");
            Create.Index("ix_gadgets_id").OnTable("gadgets").OnColumn("id").Ascending();
            """)).ShouldBeEmpty();
    }

    [Fact]
    public async Task A_not_null_column_without_a_default_on_an_existing_table_is_found()
    {
        (await RulesAsync("""if (!IsSqlite) Alter.Table("widgets").AddColumn("size").AsCustom(Sql.Integer).NotNullable();""")).ShouldBe(["not-null-without-default"]);
        (await RulesAsync("""Alter.Table("widgets").AddColumn("size").AsCustom(Sql.Integer).NotNullable().WithDefaultValue(1);""")).ShouldBeEmpty();
    }

    [Fact]
    public async Task A_column_with_a_volatile_default_is_found()
    {
        (await RulesAsync("""if (!IsSqlite) Alter.Table("widgets").AddColumn("luck").AsCustom("double precision").Nullable().WithDefaultValue(RawSql.Insert("random()"));"""))
            .ShouldBe(["volatile-default"]);
        (await RulesAsync("""if (!IsSqlite) Alter.Table("widgets").AddColumn("seq").AsCustom(Sql.BigSerial).NotNullable();""")).ShouldBe(["volatile-default"]);
    }

    [Fact]
    public async Task A_type_change_that_rewrites_the_table_is_found_and_a_longer_varchar_is_not()
    {
        (await RulesAsync("""if (!IsSqlite) Alter.Column("qty").OnTable("widgets").AsCustom(Sql.BigInt).Nullable();""")).ShouldBe(["type-change-rewrites"]);
        (await RulesAsync("""if (!IsSqlite) Alter.Column("name").OnTable("widgets").AsCustom(Sql.Varchar(200)).NotNullable();""")).ShouldBeEmpty();
    }

    [Fact]
    public async Task Set_not_null_without_a_validated_check_first_is_found()
    {
        (await RulesAsync("""if (!IsSqlite) Alter.Column("note").OnTable("widgets").AsCustom(Sql.Text).NotNullable();""")).ShouldBe(["set-not-null"]);
        (await RulesAsync("""
            if (!IsSqlite)
            {
                Execute.Sql("ALTER TABLE widgets ADD CONSTRAINT widgets_note_not_null CHECK (note IS NOT NULL) NOT VALID");
                Execute.Sql("ALTER TABLE widgets VALIDATE CONSTRAINT widgets_note_not_null");
                Alter.Column("note").OnTable("widgets").AsCustom(Sql.Text).NotNullable();
            }
            """)).ShouldBeEmpty();
    }

    [Fact]
    public async Task A_foreign_key_or_check_on_an_existing_table_without_not_valid_is_found()
    {
        (await RulesAsync("""if (!IsSqlite) Create.ForeignKey("widgets_owner_id_fkey").FromTable("widgets").ForeignColumn("owner_id").ToTable("owners").PrimaryColumn("id");"""))
            .ShouldBe(["constraint-not-valid"]);
        (await RulesAsync("""if (!IsSqlite) Execute.Sql("ALTER TABLE widgets ADD CONSTRAINT widgets_qty_positive CHECK (qty > 0)");""")).ShouldBe(["constraint-not-valid"]);
        (await RulesAsync("""if (!IsSqlite) Alter.Table("widgets").AddColumn("maker_id").AsCustom(Sql.Integer).Nullable().ForeignKey("widgets_maker_id_fkey", "owners", "id");"""))
            .ShouldBe(["constraint-not-valid"]);
        (await RulesAsync("""AddForeignKeyNotValid("widgets_owner_id_fkey", "widgets", ["owner_id"], "owners", ["id"]);""", transactional: false)).ShouldBeEmpty();
    }

    [Fact]
    public async Task A_column_or_table_of_the_previous_release_dropped_or_renamed_is_found()
    {
        (await RulesAsync("""if (!IsSqlite) Delete.Column("note").FromTable("widgets");""")).ShouldBe(["drop-still-used"]);
        (await RulesAsync("""Delete.Table("widgets");""")).ShouldBe(["drop-still-used"]);
        (await RulesAsync("""if (!IsSqlite) Rename.Column("note").OnTable("widgets").To("remark");""")).ShouldBe(["rename-still-used"]);
        (await RulesAsync("""Rename.Table("owners").To("people");""")).ShouldBe(["rename-still-used"]);
    }

    [Fact]
    public async Task An_enum_value_removed_or_renamed_is_found_and_an_appended_one_is_not()
    {
        var removed = await LintAsync(Case("""ReplaceEnumType("colour", ["RED", "GREEN"], ("widgets", "colour", "RED"));"""));
        removed.Select(f => (f.RuleId, f.Subject)).ShouldBe([("enum-value-removed", "enum colour: BLUE removed or renamed")]);
        (await RulesAsync("""if (!IsSqlite) Execute.Sql("ALTER TYPE colour RENAME VALUE 'BLUE' TO 'NAVY'");""")).ShouldBe(["enum-value-removed"]);
        (await RulesAsync("""AddEnumValues("colour", ["YELLOW"]);""")).ShouldBeEmpty();
    }

    [Fact]
    public async Task An_unallowed_finding_fails_with_exit_5_and_an_allowed_one_prints_its_reason_and_passes()
    {
        var up = """Delete.Table("owners");""";
        var failing = await RunLintAsync(Case(up));
        failing.ExitCode.ShouldBe(5, failing.ToString());
        failing.Stdout.ShouldContain("unsafe [drop-still-used] 2 M2_Change: table owners");
        failing.Stdout.ShouldContain("instead: expand/contract");
        failing.Stdout.ShouldContain("lint failed: 1 unsafe change(s)");

        var allowed = await RunLintAsync(Case(up, """[AllowLint("drop-still-used", "release 2026.11 no longer reads owners")]"""));
        allowed.ExitCode.ShouldBe(0, allowed.ToString());
        allowed.Stdout.ShouldContain("allowed [drop-still-used] 2 M2_Change: table owners");
        allowed.Stdout.ShouldContain("allowed because: release 2026.11 no longer reads owners");
        allowed.Stdout.ShouldContain("lint passed (1 allowed");
    }

    [Fact]
    public async Task An_allow_attribute_naming_no_rule_or_giving_no_reason_is_refused_as_invalid_input()
    {
        var typo = await RunLintAsync(Case("""Delete.Table("owners");""", """[AllowLint("drop-still-in-use", "typo")]"""));
        RunnerTestBase.ShouldFailWithOneLine(typo, 2, "[AllowLint(\"drop-still-in-use\", ...)] on M2_Change names no lint rule");

        var empty = await RunLintAsync(Case("""Delete.Table("owners");""", """[AllowLint("drop-still-used", " ")]"""));
        RunnerTestBase.ShouldFailWithOneLine(empty, 2, "gives no reason");
    }

    [Fact]
    public async Task Json_lists_every_finding_with_its_rule_reason_and_alternative()
    {
        var result = await RunLintAsync(Case("""
            if (!IsSqlite) Rename.Column("note").OnTable("widgets").To("remark");
            Delete.Table("owners");
            """, """[AllowLint("rename-still-used", "nothing reads note yet")]"""), "--json");

        result.ExitCode.ShouldBe(5, result.ToString());
        using var json = JsonDocument.Parse(result.Stdout);
        json.RootElement.GetProperty("command").GetString().ShouldBe("lint");
        json.RootElement.GetProperty("passed").GetBoolean().ShouldBeFalse();
        var findings = json.RootElement.GetProperty("findings").EnumerateArray().ToList();
        findings.Select(f => f.GetProperty("rule").GetString()).ShouldBe(["rename-still-used", "drop-still-used"]);
        findings[0].GetProperty("allowed").GetBoolean().ShouldBeTrue();
        findings[0].GetProperty("reason").GetString().ShouldBe("nothing reads note yet");
        findings[1].GetProperty("allowed").GetBoolean().ShouldBeFalse();
        findings[1].GetProperty("version").GetInt64().ShouldBe(2);
        findings[1].GetProperty("safeAlternative").GetString()!.ShouldStartWith("expand/contract");
    }

    [Theory]
    [InlineData(Pdb.Beside)]
    [InlineData(Pdb.Embedded)]
    public async Task Github_format_names_the_file_and_line_of_each_finding_from_the_pdb_of_an_assembly_built_elsewhere(Pdb pdb)
    {
        var source = Case("""Create.Index("ix_widgets_name").OnTable("widgets").OnColumn("name").Ascending();""");
        var repo = Path.Combine(_work, "repo");
        Directory.CreateDirectory(Path.Combine(repo, ".git"));
        var sourcePath = Path.Combine(repo, "Team.Migrations", "Widgets.cs");
        var line = source.Split('\n').ToList().FindIndex(l => l.Contains("Create.Index(", StringComparison.Ordinal)) + 1;
        var built = Directory.CreateDirectory(Path.Combine(_work, "elsewhere", "bin")).FullName;

        var result = await RunLintAsync(source, Path.Combine(built, "Team.Migrations.dll"), sourcePath, pdb, "--format", "github");

        result.ExitCode.ShouldBe(5, result.ToString());
        result.Stdout.ShouldContain($"::warning file=Team.Migrations/Widgets.cs,line={line},title=index-not-concurrent (2)::M2_Change: index ix_widgets_name on widgets.");
    }

    [Fact]
    public async Task Github_format_without_a_pdb_annotates_without_a_file_and_no_error()
    {
        var source = Case("""Create.Index("ix_widgets_name").OnTable("widgets").OnColumn("name").Ascending();""");
        var assembly = Path.Combine(_work, "Team.Migrations.dll");
        MigrationCompiler.Compile(source, assembly, Path.Combine(_work, "Widgets.cs"), Pdb.Beside);
        File.Delete(Path.ChangeExtension(assembly, ".pdb"));

        var result = await RunnerProcess.RunAsync(["lint", "--migrations-assembly", assembly, "--format", "github", "--no-squawk"], workingDirectory: _work);

        result.ExitCode.ShouldBe(5, result.ToString());
        result.Stdout.ShouldContain("::warning title=index-not-concurrent (2)::M2_Change: index ix_widgets_name on widgets.");
        result.Stderr.ShouldBeEmpty();
    }

    [Fact]
    public async Task The_shipped_migrations_pass()
    {
        var result = await RunnerProcess.RunAsync(["lint", "--no-squawk"]);

        result.ExitCode.ShouldBe(0, result.ToString());
        result.Stdout.ShouldContain("lint passed");
    }

    [Fact]
    public async Task With_squawk_its_findings_on_the_rendered_sql_come_with_ours_and_allow_like_ours()
    {
        // Never skipped: without squawk this test fails and says how to get it.
        var squawk = SquawkForTests();

        var up = """if (!IsSqlite) Create.UniqueConstraint("widgets_name_key").OnTable("widgets").Column("name");""";
        var found = await RunLintAsync(Case(up), "--squawk", squawk);
        found.ExitCode.ShouldBe(5, found.ToString());
        found.Stdout.ShouldContain("unsafe [squawk/disallowed-unique-constraint] 2 M2_Change");

        var allowed = await RunLintAsync(Case(up, """[AllowLint("squawk/disallowed-unique-constraint", "widgets holds a few hundred rows")]"""), "--squawk", squawk);
        allowed.ExitCode.ShouldBe(0, allowed.ToString());

        var shipped = await RunnerProcess.RunAsync(["lint", "--squawk", squawk]);
        shipped.ExitCode.ShouldBe(0, shipped.ToString());
    }

    [Fact]
    public async Task New_after_an_index_on_an_existing_table_generates_the_concurrent_form_which_passes_the_lint()
    {
        var shipped = MigrationCatalog.FromAssembly(typeof(TimeTrackMigration).Assembly);
        var model = ModelReader.ReadShippedModel();
        var changed = model with
        {
            Tables = model.Tables.Select(t => t.Name == "tasks" ? t with { Indexes = [.. t.Indexes, new IndexSchema("ix_tasks_due_date", ["due_date"])] } : t).ToList(),
        };

        var generated = await MigrationGenerator.NewAsync(shipped, changed, "Index tasks by due date", false, new DateTime(2030, 1, 1, 9, 0, 0, DateTimeKind.Utc), default);

        generated.ShouldNotBeNull();
        generated.Code.ShouldContain("TransactionBehavior.None");
        generated.Code.ShouldContain("CreateIndexConcurrently(\"ix_tasks_due_date\", \"tasks\", [\"due_date\"]);");
        generated.Code.ShouldNotContain("Create.Index(");
        var withShipped = RecordedHistoryTests.NewerBuild(generated.Code[generated.Code.IndexOf("[Migration(", StringComparison.Ordinal)..]);
        var findings = await LintAsync(withShipped);
        findings.ShouldBeEmpty();
    }

    private Task<ProcessResult> RunLintAsync(string source, params string[] args) =>
        RunLintAsync(source, Path.Combine(_work, $"lint-{Guid.NewGuid():N}.dll"), null, Pdb.None, args);

    private async Task<ProcessResult> RunLintAsync(string source, string assembly, string? sourcePath, Pdb pdb, params string[] args)
    {
        MigrationCompiler.Compile(source, assembly, sourcePath, pdb);
        var repo = Path.Combine(_work, "repo");
        Directory.CreateDirectory(repo);
        return await RunnerProcess.RunAsync(["lint", "--migrations-assembly", assembly, .. args.Contains("--squawk") ? args : [.. args, "--no-squawk"]], workingDirectory: repo);
    }

    // The pinned squawk the test project's build installs (Squawk.targets), or TIMETRACK_TEST_SQUAWK.
    private static string SquawkForTests()
    {
        var given = Environment.GetEnvironmentVariable("TIMETRACK_TEST_SQUAWK");
        var squawk = !string.IsNullOrEmpty(given) ? given
            : typeof(LintTests).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>().Single(a => a.Key == "TimeTrack.Tests.Squawk").Value!;
        File.Exists(squawk).ShouldBeTrue(
            $"squawk is not at {squawk}: the test project's build installs squawk-cli@2.66.0 there with npm " +
            "(dotnet build TimeTrack.Migrations.Tests; it needs Node.js with npm), or set TIMETRACK_TEST_SQUAWK to a squawk binary");
        return squawk;
    }
}
