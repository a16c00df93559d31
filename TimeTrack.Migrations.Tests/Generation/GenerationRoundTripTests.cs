using System.Reflection;
using FluentMigrator.Runner;
using Microsoft.Extensions.DependencyInjection;
using TimeTrack.Migrations.Migrations;
using TimeTrack.Migrations.Runner.Databases;
using TimeTrack.Migrations.Runner.Generation;
using TimeTrack.Migrations.Runner.Running;
using TimeTrack.Migrations.Runner.Schema;
using TimeTrack.Migrations.Tests.Infrastructure;
using TimeTrack.Migrations.Tests.Migrations;

namespace TimeTrack.Migrations.Tests.Generation;

/// <summary>
/// Generated code, compiled and run on real databases: a migration from a changed model takes the
/// database to that model and its Down back; baselines recreate their source exactly.
/// </summary>
public abstract class GenerationRoundTripTests(DatabaseKind provider) : IAsyncLifetime
{
    private static readonly MigrationCatalog Shipped = MigrationCatalog.FromAssembly(typeof(TimeTrackMigration).Assembly);

    private TestDatabase _db = null!;

    public async Task InitializeAsync() => _db = await TestDatabase.CreateAsync(provider, "gen");

    public async Task DisposeAsync() => await _db.DisposeAsync();

    [Fact]
    public async Task A_migration_generated_from_a_changed_model_reaches_it_and_its_down_comes_back()
    {
        await _db.MigrateToAsync(MigrationHistoryTests.Versions[0]);
        await DataSurvivalTests.SeedAsync(_db);
        await _db.MigrateToAsync();
        var original = ModelReader.ReadShippedModel();
        var changed = ChangedModel(original);
        var rowsBefore = await CountRowsAsync();

        var generated = await MigrationGenerator.NewAsync(Shipped, changed, "Expense reports and other changes", false, DateTime.UtcNow, default);
        generated.ShouldNotBeNull();
        var assembly = MigrationCompiler.Compile(generated.Code);

        await _db.MigrateToAsync(null, assembly);
        SchemaComparer.Compare(await _db.ReadSchemaAsync(), changed).Render().ShouldBe("(no differences)", generated.Code);
        (await CountRowsAsync()).ShouldBe(rowsBefore, "the SQLite table rebuilds must copy every row");
        (await _db.CountAsync("SELECT count(*) FROM user_preferences")).ShouldBe(0);

        await _db.MigrateToAsync(Shipped.Head, assembly);
        SchemaComparer.Compare(await _db.ReadSchemaAsync(), original).Render().ShouldBe("(no differences)", generated.Code);
        (await CountRowsAsync()).ShouldBe(rowsBefore);
    }

    [Fact]
    public async Task An_index_and_a_foreign_key_on_tables_in_use_are_generated_concurrent_and_not_valid_and_reach_the_model()
    {
        await _db.MigrateToAsync(MigrationHistoryTests.Versions[0]);
        await DataSurvivalTests.SeedAsync(_db);
        await _db.MigrateToAsync();
        var original = ModelReader.ReadShippedModel();
        var changed = original with
        {
            Tables = original.Tables.Select(t => t.Name switch
            {
                "tasks" => t with { Indexes = [.. t.Indexes, new IndexSchema("ix_tasks_due_date", [new IndexKey("due_date", Descending: true)])] },
                "projects" => t with
                {
                    Columns = [.. t.Columns, new ColumnSchema("owner_id", new ColumnType(TypeKind.Integer), true)],
                    ForeignKeys = [.. t.ForeignKeys, new ForeignKeySchema("projects_owner_id_fkey", ["owner_id"], "users", ["id"], ReferentialAction.SetNull)],
                },
                _ => t,
            }).ToList(),
        };
        var rowsBefore = await CountRowsAsync();

        var generated = await MigrationGenerator.NewAsync(Shipped, changed, "Task due dates and project owners", false, DateTime.UtcNow, default);
        generated.ShouldNotBeNull();
        generated.Code.ShouldContain("TransactionBehavior.None");
        generated.Code.ShouldContain("CreateIndexConcurrently(");
        generated.Code.ShouldContain("AddForeignKeyNotValid(");
        var assembly = MigrationCompiler.Compile(generated.Code);

        await _db.MigrateToAsync(null, assembly);
        SchemaComparer.Compare(await _db.ReadSchemaAsync(), changed).Render().ShouldBe("(no differences)", generated.Code);
        (await CountRowsAsync()).ShouldBe(rowsBefore);

        await _db.MigrateToAsync(Shipped.Head, assembly);
        SchemaComparer.Compare(await _db.ReadSchemaAsync(), original).Render().ShouldBe("(no differences)", generated.Code);
    }

    [Fact]
    public async Task A_baseline_from_the_model_creates_exactly_the_model()
    {
        var model = ModelReader.ReadShippedModel();
        var baseline = MigrationGenerator.Baseline(model, 1);

        await _db.MigrateToAsync(null, MigrationCompiler.Compile(baseline.Code));

        SchemaComparer.Compare(await _db.ReadSchemaAsync(), model).Render().ShouldBe("(no differences)", baseline.Code);
    }

    [Fact]
    public async Task A_baseline_from_a_restored_legacy_database_recreates_its_schema()
    {
        await using var legacy = await TestDatabase.CreateAsync(provider, "legacy");
        await legacy.RestoreLegacyFixtureAsync();
        var source = await legacy.ReadSchemaAsync();
        var baseline = MigrationGenerator.Baseline(source, 1);

        await _db.MigrateToAsync(null, MigrationCompiler.Compile(baseline.Code));

        SchemaComparer.Compare(await _db.ReadSchemaAsync(), source).Render().ShouldBe("(no differences)", baseline.Code);
    }

    [Fact]
    public async Task Names_and_defaults_with_quotes_backslashes_and_newlines_make_correct_code_and_sql()
    {
        const string awkward = "It's \"quoted\" \\ back'; DROP TABLE companies; --\nnext line";
        var table = new TableSchema(
            "odd\"table",
            [
                new ColumnSchema("id", new ColumnType(TypeKind.Integer), false, null, true),
                new ColumnSchema("o'col", ColumnType.Varchar(200), false, DefaultValues.Quote(awkward)),
            ],
            new PrimaryKeySchema("odd_pkey", ["id"]), [], [], [new IndexSchema("ix_odd\"name", ["o'col"])]);
        var schema = new DatabaseSchema([table], [], [], SchemaCapabilities.Full);
        var baseline = MigrationGenerator.Baseline(schema, 1);

        await _db.MigrateToAsync(null, MigrationCompiler.Compile(baseline.Code));

        await _db.ExecuteAsync("INSERT INTO \"odd\"\"table\" (id) VALUES (1)");
        await using var connection = _db.OpenConnection();
        await using var read = connection.CreateCommand();
        read.CommandText = "SELECT \"o'col\" FROM \"odd\"\"table\"";
        (await read.ExecuteScalarAsync()).ShouldBe(awkward);
        (await _db.ReadSchemaAsync()).Table("odd\"table")!.Column("o'col")!.Default.ShouldBe(DefaultValues.Quote(awkward));
    }

    /// <summary>A copy of the model with a table, an enum and a column added, a length, a nullability and a default changed, an index (one key descending) and an enum value added.</summary>
    public static DatabaseSchema ChangedModel(DatabaseSchema model)
    {
        var expenseReports = new TableSchema(
            "expense_reports",
            [
                new ColumnSchema("id", new ColumnType(TypeKind.Integer), false, null, true),
                new ColumnSchema("user_id", new ColumnType(TypeKind.Integer), false),
                new ColumnSchema("amount", ColumnType.Numeric(10, 2), false, "0"),
                new ColumnSchema("status", ColumnType.EnumOf("expensestatus"), false, "'OPEN'"),
                new ColumnSchema("note", new ColumnType(TypeKind.Text), true),
                new ColumnSchema("submitted_at", new ColumnType(TypeKind.Timestamp), false, DefaultValues.CurrentTimestamp),
            ],
            new PrimaryKeySchema("expense_reports_pkey", ["id"]),
            [new ForeignKeySchema("expense_reports_user_id_fkey", ["user_id"], "users", ["id"], ReferentialAction.Cascade)],
            [new UniqueConstraintSchema("expense_reports_user_id_submitted_at_key", ["user_id", "submitted_at"])],
            [new IndexSchema("ix_expense_reports_status", ["status"])]);

        TableSchema Change(TableSchema t) => t.Name switch
        {
            "users" => t with { Columns = [.. t.Columns, new ColumnSchema("nickname", ColumnType.Varchar(40), true)] },
            "teams" => t with { Columns = t.Columns.Select(c => c.Name == "description" ? c with { Type = ColumnType.Varchar(500) } : c).ToList() },
            "time_entries" => t with { Columns = t.Columns.Select(c => c.Name == "arrival_time" ? c with { Nullable = true } : c).ToList() },
            "tasks" => t with { Indexes = [.. t.Indexes, new IndexSchema("ix_tasks_assigned_to", ["assigned_to_id", new IndexKey("due_date", Descending: true)])] },
            "user_preferences" => t with { Columns = t.Columns.Select(c => c.Name == "timezone" ? c with { Default = "'Europe/Berlin'" } : c).ToList() },
            _ => t,
        };

        return model with
        {
            Tables = [.. model.Tables.Select(Change), expenseReports],
            Enums =
            [
                .. model.Enums.Select(e => e.Name == "taskpriority" ? e with { Values = [.. e.Values, "BLOCKER"] } : e),
                new EnumSchema("expensestatus", ["OPEN", "APPROVED", "REJECTED"]),
            ],
        };
    }

    private async Task<string> CountRowsAsync()
    {
        var counts = new List<string>();
        foreach (var table in DataSurvivalTests.BaselineTables)
        {
            counts.Add($"{table}={await _db.CountAsync(table)}");
        }

        return string.Join(", ", counts);
    }
}

public sealed class PostgresGenerationRoundTripTests() : GenerationRoundTripTests(DatabaseKind.Postgres);

public sealed class SqliteGenerationRoundTripTests() : GenerationRoundTripTests(DatabaseKind.Sqlite);
