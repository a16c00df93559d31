using TimeTrack.Migrations.Runner.Running;
using TimeTrack.Migrations.Tests.Infrastructure;

namespace TimeTrack.Migrations.Tests.Runner;

/// <summary>
/// The migrations' checksums: the manifest embedded in the shipped assembly matches the code, a
/// checksum depends only on what its provider runs, and `manifest` keeps the file honest.
/// </summary>
public sealed class ManifestTests
{
    private static readonly MigrationCatalog Shipped = MigrationCatalog.FromAssembly(typeof(TimeTrack.Migrations.Migrations.TimeTrackMigration).Assembly);

    [Fact]
    public void The_embedded_manifest_matches_the_shipped_migrations()
    {
        var embedded = MigrationManifest.Load(Shipped.Assembly)
            ?? throw new InvalidOperationException("TimeTrack.Migrations embeds no manifest: run 'timetrack-migrate manifest' and rebuild");
        var computed = MigrationManifest.Compute(Shipped);

        embedded.Migrations.Select(m => m.Version).ShouldBe(computed.Migrations.Select(m => m.Version));
        foreach (var entry in computed.Migrations)
        {
            embedded.Find(entry.Version)!.Checksums.ShouldBe(entry.Checksums,
                $"the manifest is out of date for {entry.Version}: run 'timetrack-migrate manifest' (from the repository) and commit TimeTrack.Migrations/migrations.manifest");
        }
    }

    private static string Migration(string sqliteStatement, string postgresStatement, string className = "M1") => $$"""
        using FluentMigrator;
        using TimeTrack.Migrations.Migrations;

        [Migration(1, "One")]
        public sealed class {{className}} : TimeTrackMigration
        {
            public override void Up()
            {
                Create.Table("things").WithColumn("id").AsCustom(Sql.Integer).NotNullable().PrimaryKey("things_pkey");
                if (IsSqlite)
                {
                    Execute.Sql("{{sqliteStatement}}");
                }
                else
                {
                    Execute.Sql("{{postgresStatement}}");
                }
            }

            public override void Down() => Delete.Table("things");
        }
        """;

    private static IReadOnlyDictionary<string, string> ChecksumsOf(string source) =>
        MigrationManifest.Compute(MigrationCatalog.FromAssembly(MigrationCompiler.Compile(source))).Migrations.Single().Checksums;

    [Fact]
    public void A_checksum_changes_with_its_own_providers_statements_only()
    {
        var original = ChecksumsOf(Migration("SELECT 1", "SELECT 2"));

        var sqliteEdited = ChecksumsOf(Migration("SELECT 3", "SELECT 2"));
        var postgresEdited = ChecksumsOf(Migration("SELECT 1", "SELECT 4"));

        sqliteEdited["postgres"].ShouldBe(original["postgres"]);
        sqliteEdited["sqlite"].ShouldNotBe(original["sqlite"]);
        postgresEdited["sqlite"].ShouldBe(original["sqlite"]);
        postgresEdited["postgres"].ShouldNotBe(original["postgres"]);
    }

    [Fact]
    public void Another_build_of_the_same_operations_has_the_same_checksums()
    {
        // Another assembly, another class name, the same statements.
        ChecksumsOf(Migration("SELECT 1", "SELECT 2", "Renamed")).ShouldBe(ChecksumsOf(Migration("SELECT 1", "SELECT 2")));
    }

    [Fact]
    public async Task Manifest_writes_checks_and_refuses_a_changed_checksum_unless_accepted()
    {
        var source = Directory.CreateTempSubdirectory("timetrack-manifest-").FullName;
        try
        {
            await File.WriteAllTextAsync(Path.Combine(source, "TimeTrack.Migrations.csproj"), "<Project />");
            var file = Path.Combine(source, MigrationManifest.FileName);
            string[] Args(params string[] args) => [.. args, "--source", source];

            var stale = await RunnerProcess.RunAsync(Args("manifest", "--check"), workingDirectory: source);
            stale.ExitCode.ShouldBe(5, stale.ToString());
            stale.Stdout.ShouldContain("is out of date (added: " + string.Join(", ", Shipped.Migrations.Select(m => m.Version)));
            File.Exists(file).ShouldBeFalse("--check wrote the manifest");

            await File.WriteAllTextAsync(file, "202406010900 postgres\n");
            RunnerTestBase.ShouldFailWithOneLine(await RunnerProcess.RunAsync(Args("manifest", "--check"), workingDirectory: source), 2,
                "the migrations manifest has a malformed line: '202406010900 postgres'");
            File.Delete(file);

            var written = await RunnerProcess.RunAsync(Args("manifest"), workingDirectory: source);
            written.ExitCode.ShouldBe(0, written.ToString());
            MigrationManifest.Parse(await File.ReadAllTextAsync(file)).Migrations.Count.ShouldBe(Shipped.Migrations.Count);
            (await RunnerProcess.RunAsync(Args("manifest", "--check"), workingDirectory: source)).ExitCode.ShouldBe(0);

            // As if a migration listed there had been edited since: its checksum no longer matches.
            var version = Shipped.Migrations[1].Version;
            var tampered = MigrationManifest.Parse(await File.ReadAllTextAsync(file));
            var old = new Dictionary<string, string> { ["postgres"] = new string('0', 64), ["sqlite"] = new string('1', 64) };
            await File.WriteAllTextAsync(file, (tampered with
            {
                Migrations = [.. tampered.Migrations.Select(m => m.Version == version ? m with { Checksums = old } : m)],
            }).ToText());

            RunnerTestBase.ShouldFailWithOneLine(await RunnerProcess.RunAsync(Args("manifest"), workingDirectory: source), 5,
                $"the checksums of migration(s) {version} changed");

            var accepted = await RunnerProcess.RunAsync(Args("manifest", "--accept"), workingDirectory: source);
            accepted.ExitCode.ShouldBe(0, accepted.ToString());
            var entry = MigrationManifest.Parse(await File.ReadAllTextAsync(file)).Find(version)!;
            entry.Accepted!["postgres"].ShouldBe([old["postgres"]]);
            entry.Accepted!["sqlite"].ShouldBe([old["sqlite"]]);
            entry.Checksums.ShouldBe(MigrationManifest.Compute(Shipped).Find(version)!.Checksums);
        }
        finally
        {
            Directory.Delete(source, recursive: true);
        }
    }
}
