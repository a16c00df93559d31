using FluentMigrator.Runner;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using TimeTrack.Migrations.Migrations;
using TimeTrack.Migrations.Runner.Databases;
using TimeTrack.Migrations.Runner.Output;
using TimeTrack.Migrations.Runner.Running;
using TimeTrack.Migrations.Runner.Schema;
using TimeTrack.Migrations.Tests.Infrastructure;

namespace TimeTrack.Migrations.Tests.Runner;

/// <summary>
/// The step executor and the version table it writes, in-process: compatible with the table
/// FluentMigrator's own runner wrote, and the same statements whether applied or previewed.
/// </summary>
public abstract class StepExecutorTests(DatabaseKind kind) : IAsyncLifetime
{
    private static readonly MigrationCatalog Shipped = MigrationCatalog.FromAssembly(typeof(TimeTrackMigration).Assembly);

    private TestDatabase _db = null!;

    public async Task InitializeAsync() => _db = await TestDatabase.CreateAsync(kind, "executor");

    public async Task DisposeAsync() => await _db.DisposeAsync();

    [Fact]
    public async Task A_database_migrated_by_FluentMigrators_own_runner_is_continued_and_ends_like_a_fresh_one()
    {
        // What databases migrated before this runner owned the version table look like:
        // FluentMigrator's MigrationRunner and version loader created and wrote it.
        using (var services = FluentMigratorServices.Create(_db.Target.Provider, _db.Target.ConnectionString, Shipped.Assembly))
        {
            services.GetRequiredService<IMigrationRunner>().MigrateUp(Migrations.MigrationHistoryTests.Versions[2]);
        }

        var byFluentMigrator = await ReadVersionTableAsync(_db);
        (await _db.AppliedVersionsAsync()).ShouldBe(Migrations.MigrationHistoryTests.Versions.Take(3));

        await _db.MigrateToAsync();

        (await _db.AppliedVersionsAsync()).ShouldBe(Migrations.MigrationHistoryTests.Versions);
        await using var fresh = await TestDatabase.CreateAsync(kind, "executor");
        await fresh.MigrateToAsync();
        SchemaComparer.Compare(await fresh.ReadSchemaAsync(), await _db.ReadSchemaAsync()).Render().ShouldBe("(no differences)");
        // FluentMigrator's table gained the recorded-history columns: the same table as the runner creates.
        var byRunner = await ReadVersionTableAsync(fresh);
        SchemaComparer.Compare(byRunner, await ReadVersionTableAsync(_db)).Render().ShouldBe("(no differences)");
        var fluentMigratorColumns = byFluentMigrator.Tables.Single().Columns.Select(c => c.Name).ToList();
        fluentMigratorColumns.ShouldBe(["Version", "AppliedOn", "Description"], ignoreOrder: true);
        byRunner.Tables.Single().Columns.Select(c => c.Name).Take(3).ShouldBe(fluentMigratorColumns, ignoreOrder: true);
    }

    [Fact]
    public async Task A_step_and_its_version_row_commit_together_and_a_failing_step_leaves_neither()
    {
        await _db.MigrateToAsync(Migrations.MigrationHistoryTests.Versions[0]);
        await _db.ExecuteAsync("CREATE TABLE user_preferences (x INTEGER)"); // the next step's table, already there

        var error = await Should.ThrowAsync<UserError>(() => _db.MigrateToAsync(Migrations.MigrationHistoryTests.Versions[1]));

        error.Code.ShouldBe(ExitCode.MigrationFailed);
        error.Message.ShouldContain($"migration {Migrations.MigrationHistoryTests.Versions[1]} (Add user preferences) failed");
        (await _db.AppliedVersionsAsync()).ShouldBe([Migrations.MigrationHistoryTests.Versions[0]]);
    }

    [Fact]
    public async Task Preview_prints_every_statement_and_runs_none()
    {
        var sql = new StringWriter();
        var plan = new VersionState(Shipped, Array.Empty<long>()).PlanUp(null, false, false);
        using (var executor = StepExecutor.ForPreview(_db.Target, Shipped, sql))
        {
            executor.PreviewStatements(new VersionTable(_db.Target.Provider).CreateStatements());
            await executor.RunAsync(plan);
        }

        var text = sql.ToString();
        text.ShouldContain("\"companies\" (\"id\"");
        foreach (var step in plan)
        {
            text.ShouldContain($"VALUES ({step.Migration.Version}, ");
        }

        (await _db.ReadSchemaAsync()).IsEmpty.ShouldBeTrue("a preview changed the database");
        await using var database = await Database.OpenAsync(_db.Target);
        (await VersionTable.ExistsAsync(database, CancellationToken.None)).ShouldBeFalse();
    }

    [Fact]
    public async Task Expected_schemas_are_built_in_scratch_and_match_the_history_applied_for_real()
    {
        await using var database = await Database.OpenAsync(_db.Target);
        var expected = await StepExecutor.BuildExpectedSchemasAsync(database.Provider, database, Shipped, Shipped.Head, CancellationToken.None);

        expected.Select(e => e.Version).ShouldBe(Migrations.MigrationHistoryTests.Versions);
        (await _db.ReadSchemaAsync()).IsEmpty.ShouldBeTrue("the scratch build left something in the database");
        await _db.MigrateToAsync();
        SchemaMatch.Of(await _db.ReadSchemaAsync(), expected[^1].Schema, VersionTable.Name).Matches.ShouldBeTrue();
    }

    private static async Task<DatabaseSchema> ReadVersionTableAsync(TestDatabase db)
    {
        await using var database = await Database.OpenAsync(db.Target);
        var schema = await database.ReadSchemaAsync(CancellationToken.None);
        return schema with { Tables = schema.Tables.Where(t => t.Name == VersionTable.Name).ToList(), Enums = [], Sequences = [] };
    }
}

public sealed class PostgresStepExecutorTests() : StepExecutorTests(DatabaseKind.Postgres);

public sealed class SqliteStepExecutorTests() : StepExecutorTests(DatabaseKind.Sqlite);
