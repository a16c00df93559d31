using FluentMigrator.Runner;
using Microsoft.Extensions.DependencyInjection;
using TimeTrack.Migrations.Runner.Output;
using TimeTrack.Migrations.Runner.Databases;
using TimeTrack.Migrations.Runner.Running;
using TimeTrack.Migrations.Runner.Schema;
using TimeTrack.Migrations.Tests.Infrastructure;

namespace TimeTrack.Migrations.Tests.Generation;

/// <summary>RebuildSqliteTable checks every foreign key before commit: a rebuild that would orphan rows fails and changes nothing.</summary>
public sealed class SqliteRebuildTests : IAsyncLifetime
{
    private const string Migration = """
        using FluentMigrator;
        namespace Probe;

        [Migration(1, "Give child a foreign key")]
        public sealed class M1_ChildForeignKey : TimeTrack.Migrations.Migrations.TimeTrackMigration
        {
            public override void Up() =>
                RebuildSqliteTable("child", ["id", "parent_id"], table => table
                    .WithColumn("id").AsCustom(Sql.Integer).NotNullable().PrimaryKey("child_pkey")
                    .WithColumn("parent_id").AsCustom(Sql.Integer).Nullable().ForeignKey("child_parent_id_fkey", "parent", "id"));

            public override void Down() => RebuildSqliteTable("child", ["id", "parent_id"], table => table
                    .WithColumn("id").AsCustom(Sql.Integer).NotNullable().PrimaryKey("child_pkey")
                    .WithColumn("parent_id").AsCustom(Sql.Integer).Nullable());
        }
        """;

    private TestDatabase _db = null!;

    public async Task InitializeAsync()
    {
        _db = await TestDatabase.CreateAsync(DatabaseKind.Sqlite);
        await _db.ExecuteAsync("CREATE TABLE parent (id INTEGER PRIMARY KEY); CREATE TABLE child (id INTEGER PRIMARY KEY, parent_id INTEGER); INSERT INTO parent VALUES (1); INSERT INTO child VALUES (10, 1)");
    }

    public async Task DisposeAsync() => await _db.DisposeAsync();

    [Fact]
    public async Task A_rebuild_that_keeps_every_reference_valid_commits()
    {
        await _db.MigrateToAsync(null, MigrationCompiler.Compile(Migration));

        (await _db.ReadSchemaAsync()).Table("child")!.ForeignKeys.Single().ReferencedTable.ShouldBe("parent");
        (await _db.CountAsync("child")).ShouldBe(1);
    }

    [Fact]
    public async Task A_rebuild_that_would_orphan_a_row_fails_and_changes_nothing()
    {
        await _db.ExecuteAsync("INSERT INTO child VALUES (11, 99)");
        var before = await _db.ReadSchemaAsync();

        var error = await Should.ThrowAsync<UserError>(() => _db.MigrateToAsync(null, MigrationCompiler.Compile(Migration)));

        error.Code.ShouldBe(ExitCode.MigrationFailed);
        error.Message.ShouldContain("foreign_keys_still_valid");
        SchemaComparer.Compare(before, await _db.ReadSchemaAsync()).IsEmpty.ShouldBeTrue();
        (await _db.CountAsync("child")).ShouldBe(2);
    }
}
