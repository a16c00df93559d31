using System.Reflection;
using FluentMigrator;
using TimeTrack.Migrations.Migrations;
using TimeTrack.Migrations.Runner.Databases;
using TimeTrack.Migrations.Runner.Schema;
using TimeTrack.Migrations.Tests.Infrastructure;

namespace TimeTrack.Migrations.Tests.Migrations;

/// <summary>
/// The whole history, run on a real database of each provider: up from empty, down to nothing,
/// each Down undoing exactly its Up, and the schema at head equal to the model.
/// </summary>
public abstract class MigrationHistoryTests(DatabaseKind provider) : IAsyncLifetime
{
    public static readonly IReadOnlyList<long> Versions = typeof(TimeTrackMigration).Assembly.GetTypes()
        .Select(t => t.GetCustomAttribute<MigrationAttribute>()?.Version)
        .OfType<long>()
        .Order()
        .ToList();

    private TestDatabase _db = null!;

    public async Task InitializeAsync() => _db = await TestDatabase.CreateAsync(provider, "history");

    public async Task DisposeAsync() => await _db.DisposeAsync();

    [Fact]
    public async Task The_history_goes_up_from_empty_down_to_nothing_and_up_again()
    {
        (await _db.ReadSchemaAsync()).IsEmpty.ShouldBeTrue();

        await _db.MigrateToAsync();
        (await _db.AppliedVersionsAsync()).ShouldBe(Versions);
        var head = await _db.ReadSchemaAsync();

        await _db.MigrateToAsync(0);
        var empty = await _db.ReadSchemaAsync();
        empty.IsEmpty.ShouldBeTrue($"left behind after down to 0:\n{SchemaComparer.Compare(empty, EmptySchema(empty)).Reverse().Render()}");
        (await _db.AppliedVersionsAsync()).ShouldBeEmpty();

        await _db.MigrateToAsync();
        SchemaComparer.Compare(head, await _db.ReadSchemaAsync()).Render().ShouldBe("(no differences)");
    }

    [Fact]
    public async Task Each_migration_down_undoes_exactly_its_up()
    {
        foreach (var version in Versions)
        {
            var before = await _db.ReadSchemaAsync();
            await _db.MigrateToAsync(version);
            var after = await _db.ReadSchemaAsync();
            SchemaComparer.Compare(before, after).IsEmpty.ShouldBeFalse($"migration {version} changed nothing");

            await _db.MigrateToAsync(Versions.TakeWhile(v => v < version).LastOrDefault());
            var undone = await _db.ReadSchemaAsync();
            SchemaComparer.Compare(before, undone).Render().ShouldBe("(no differences)", $"Down of {version} did not undo its Up");

            await _db.MigrateToAsync(version);
        }
    }

    [Fact]
    public async Task The_schema_at_head_matches_the_model()
    {
        await _db.MigrateToAsync();
        var live = await _db.ReadSchemaAsync();
        var model = ModelReader.ReadShippedModel();

        SchemaComparer.Compare(live, model).Render().ShouldBe("(no differences)");
        live.Tables.Select(t => t.Name).ShouldBe(model.Tables.Select(t => t.Name));
        Describe(live.Enums).ShouldBe(Describe(model.Enums));
    }

    private static string Describe(IEnumerable<EnumSchema> enums) =>
        string.Join("; ", enums.Select(e => $"{e.Name}: {string.Join(",", e.Values)}"));

    private static DatabaseSchema EmptySchema(DatabaseSchema like) => new([], [], [], like.Capabilities);
}

public sealed class PostgresMigrationHistoryTests() : MigrationHistoryTests(DatabaseKind.Postgres);

public sealed class SqliteMigrationHistoryTests() : MigrationHistoryTests(DatabaseKind.Sqlite);
