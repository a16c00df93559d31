using TimeTrack.Migrations.Migrations;
using TimeTrack.Migrations.Runner.Databases;
using TimeTrack.Migrations.Runner.Generation;
using TimeTrack.Migrations.Runner.Running;
using TimeTrack.Migrations.Runner.Schema;
using TimeTrack.Migrations.Tests.Infrastructure;

namespace TimeTrack.Migrations.Tests.Runner;

/// <summary>new, baseline and check through the runner's entry (in-process), and the checks behind them.</summary>
public sealed class GenerationCommandTests : IDisposable
{
    private readonly string _source = Directory.CreateTempSubdirectory("timetrack-source-").FullName;

    public GenerationCommandTests() => Directory.CreateDirectory(Path.Combine(_source, "Migrations"));

    public void Dispose() => Directory.Delete(_source, recursive: true);

    [Fact]
    public async Task New_writes_nothing_when_the_model_and_the_migrations_agree()
    {
        var result = await InProcessRunner.RunAsync(["new", "Nothing changed", "--source", _source]);

        result.ExitCode.ShouldBe(0, result.ToString());
        result.Stdout.ShouldContain("no differences between the model and the migrations: nothing written");
        Directory.GetFiles(Path.Combine(_source, "Migrations")).ShouldBeEmpty();
    }

    [Fact]
    public async Task New_with_empty_writes_a_migration_that_compiles()
    {
        var result = await InProcessRunner.RunAsync(["create", "Fill in by hand", "--empty", "--source", _source]);

        result.ExitCode.ShouldBe(0, result.ToString());
        var file = Directory.GetFiles(Path.Combine(_source, "Migrations")).Single();
        Path.GetFileName(file).ShouldMatch(@"^M\d{12}_FillInByHand\.cs$");
        var assembly = MigrationCompiler.Compile(await File.ReadAllTextAsync(file));
        MigrationCatalog.FromAssembly(assembly).Migrations.Single().Description.ShouldBe("Fill in by hand");
    }

    [Fact]
    public async Task Generation_refuses_in_production_and_without_the_source_folder()
    {
        var production = await InProcessRunner.RunAsync(["new", "Anything", "--source", _source],
            new Dictionary<string, string?> { ["TIMETRACK_ENVIRONMENT"] = "Production" });
        RunnerTestBase.ShouldFailWithOneLine(production, 2, "migrations are not generated in production");

        var elsewhere = await InProcessRunner.RunAsync(["baseline"], workingDirectory: _source);
        RunnerTestBase.ShouldFailWithOneLine(elsewhere, 2, "the TimeTrack.Migrations source folder was not found");
        Directory.GetFiles(Path.Combine(_source, "Migrations")).ShouldBeEmpty();
    }

    [Fact]
    public async Task Check_passes_when_the_migrations_produce_the_model()
    {
        var result = await InProcessRunner.RunAsync(["check"]);

        result.ExitCode.ShouldBe(0, result.ToString());
        result.Stdout.ShouldContain("produce the model: no differences");
    }

    /// <summary>
    /// The other half of the gate: check itself (not only the comparer behind it) fails when the
    /// migrations do not produce the model. The scenario migrations create tables no model class
    /// describes.
    /// </summary>
    [Fact]
    public async Task Check_exits_5_and_lists_the_differences_when_the_migrations_do_not_produce_the_model()
    {
        var result = await InProcessRunner.RunAsync(["check", "--migrations-assembly", RunnerProcess.ScenariosAssembly]);

        result.ExitCode.ShouldBe(5, result.ToString());
        result.Stdout.ShouldContain("the model has changes no migration makes");
        result.Stdout.ShouldContain("table widgets");
        result.Stdout.ShouldContain("table gadgets");
        result.Stdout.ShouldNotContain("no differences");
    }

    [Fact]
    public async Task The_comparer_finds_an_added_column_a_changed_nullability_and_a_missing_index_in_the_model()
    {
        var model = ModelReader.ReadShippedModel();
        var changed = model with
        {
            Tables = model.Tables.Select(t => t.Name switch
            {
                "users" => t with { Columns = [.. t.Columns, new ColumnSchema("nickname", ColumnType.Varchar(40), true)] },
                "projects" => t with { Columns = t.Columns.Select(c => c.Name == "start_date" ? c with { Nullable = false } : c).ToList() },
                "tasks" => t with { Indexes = [new IndexSchema("ix_tasks_due_date", ["due_date"])] },
                _ => t,
            }).ToList(),
        };

        var history = await MigrationGenerator.HistoryHeadAsync(MigrationCatalog.FromAssembly(typeof(TimeTrackMigration).Assembly), default);
        var lines = SchemaComparer.Compare(history, changed).Changes.Select(c => c.Describe()).ToList();

        lines.ShouldBe([
            "~ column projects.start_date: null -> not null",
            "+ index ix_tasks_due_date on tasks(due_date)",
            "+ column users.nickname varchar(40) null",
        ], ignoreOrder: true);
    }

    [Fact]
    public async Task Baseline_from_a_live_database_writes_a_class_that_compiles_and_creates_every_table()
    {
        await using var legacy = await TestDatabase.CreateAsync(DatabaseKind.Sqlite, "legacy");
        await legacy.RestoreLegacyFixtureAsync();
        var output = Path.Combine(_source, "Baseline.cs");

        var result = await InProcessRunner.RunAsync(["baseline", "--from", "database", "--output", output, "--source", _source, "--database-url", legacy.Url]);

        result.ExitCode.ShouldBe(0, result.ToString());
        result.Stdout.ShouldContain("a baseline of 7 table(s) from the database");
        var code = await File.ReadAllTextAsync(output);
        foreach (var table in Migrations.DataSurvivalTests.BaselineTables)
        {
            code.ShouldContain($"Create.Table(\"{table}\")");
        }

        MigrationCompiler.Compile(code);
    }
}

/// <summary>check --database-url: hand-made drift in a live database, on both providers.</summary>
public abstract class DriftCheckTests(DatabaseKind provider) : RunnerTestBase(provider)
{
    [Fact]
    public async Task Check_reports_hand_made_changes_to_a_live_database()
    {
        ShouldSucceed(await RunAsync("up"));
        ShouldSucceed(await RunAsync("check"));

        await Db.ExecuteAsync("CREATE TABLE scratch_notes (id INTEGER PRIMARY KEY)");
        var tolerated = await RunAsync("check");
        ShouldSucceed(tolerated);
        tolerated.Stderr.ShouldContain("not created by the migrations: extra table scratch_notes");

        await Db.ExecuteAsync("ALTER TABLE users ADD COLUMN hack TEXT");
        await Db.ExecuteAsync("DROP INDEX ix_time_entries_user_arrival");

        var drift = await RunAsync("check");
        drift.ExitCode.ShouldBe(5, drift.ToString());
        drift.Stdout.ShouldContain($"the database differs from the schema of version {Versions[^1]} (head)");
        drift.Stdout.ShouldContain("extra column users.hack (text null)");
        drift.Stdout.ShouldContain("missing index ix_time_entries_user_arrival on time_entries(user_id, arrival_time)");
    }
}

public sealed class PostgresDriftCheckTests() : DriftCheckTests(DatabaseKind.Postgres);

public sealed class SqliteDriftCheckTests() : DriftCheckTests(DatabaseKind.Sqlite);
