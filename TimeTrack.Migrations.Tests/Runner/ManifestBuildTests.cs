using System.Reflection;
using TimeTrack.Migrations.Runner.Running;
using TimeTrack.Migrations.Tests.Infrastructure;

namespace TimeTrack.Migrations.Tests.Runner;

/// <summary>
/// build/TimeTrack.Migrations.Manifest.targets: a team's migrations project, outside this
/// repository, gets its manifest from `dotnet build` alone, written beside the project and
/// embedded in the assembly, and the runner accepts it as the migrations' own.
/// </summary>
public sealed class ManifestBuildTests : IDisposable
{
    private readonly string _project = Directory.CreateTempSubdirectory("timetrack-team-migrations-").FullName;

    public void Dispose() => Directory.Delete(_project, recursive: true);

    [Fact]
    public async Task A_migrations_project_elsewhere_embeds_the_manifest_its_build_computed_and_the_runner_accepts_it()
    {
        var references = AppContext.BaseDirectory;
        await File.WriteAllTextAsync(Path.Combine(_project, "Team.Migrations.csproj"), $"""
            <Project Sdk="Microsoft.NET.Sdk">
              <PropertyGroup>
                <TargetFramework>net10.0</TargetFramework>
                <TimeTrackMigrate>{PublishedRunner.Executable}</TimeTrackMigrate>
              </PropertyGroup>
              <ItemGroup>
                <PackageReference Include="FluentMigrator" Version="{typeof(FluentMigrator.Migration).Assembly.GetName().Version!.ToString(3)}" />
                <Reference Include="TimeTrack.Migrations" HintPath="{Path.Combine(references, "TimeTrack.Migrations.dll")}" Private="false" />
              </ItemGroup>
              <Import Project="{Path.Combine(TestDatabase.RepositoryRoot, "build", "TimeTrack.Migrations.Manifest.targets")}" />
            </Project>
            """);
        await File.WriteAllTextAsync(Path.Combine(_project, "Migrations.cs"), """
            using FluentMigrator;
            using TimeTrack.Migrations.Migrations;

            namespace Team.Migrations;

            [Migration(1, "Widgets")]
            public sealed class M1_Widgets : TimeTrackMigration
            {
                public override void Up() => Create.Table("widgets").WithColumn("id").AsCustom(Sql.Integer).NotNullable().PrimaryKey("widgets_pkey");
                public override void Down() => Delete.Table("widgets");
            }

            [Migration(2, "Gadgets")]
            public sealed class M2_Gadgets : TimeTrackMigration
            {
                public override void Up() => Create.Table("gadgets").WithColumn("id").AsCustom(Sql.Integer).NotNullable().PrimaryKey("gadgets_pkey");
                public override void Down() => Delete.Table("gadgets");
            }
            """);

        // No compiler server or build node left behind; the SDK's variables of `dotnet test` itself kept out.
        var build = await RunnerProcess.RunProgramAsync("dotnet", ["build", "-nologo", "-v", "q", "-nodeReuse:false", "-p:UseSharedCompilation=false", "-o", "out"],
            new Dictionary<string, string?> { ["MSBuildSDKsPath"] = null, ["MSBUILD_EXE_PATH"] = null, ["MSBuildExtensionsPath"] = null },
            workingDirectory: _project, timeout: TimeSpan.FromMinutes(5));
        build.ExitCode.ShouldBe(0, build.ToString());

        var written = Path.Combine(_project, MigrationManifest.FileName);
        File.Exists(written).ShouldBeTrue($"the build wrote no {written}: {build}");
        var assembly = Path.Combine(_project, "out", "Team.Migrations.dll");
        var loaded = Assembly.LoadFrom(assembly);
        var embedded = MigrationManifest.Load(loaded) ?? throw new InvalidOperationException($"{assembly} embeds no manifest: {build}");
        embedded.ToText().ShouldBe(await File.ReadAllTextAsync(written));
        embedded.ToText().ShouldBe(MigrationManifest.Compute(MigrationCatalog.FromAssembly(loaded)).ToText());
        embedded.Migrations.Select(m => m.Version).ShouldBe([1L, 2L]);

        var check = await RunnerProcess.RunAsync(["manifest", "--check", "--migrations-assembly", assembly, "--source", _project]);
        check.ExitCode.ShouldBe(0, check.ToString());
    }
}
