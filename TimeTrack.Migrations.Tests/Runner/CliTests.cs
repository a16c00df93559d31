using System.Text.Json;
using TimeTrack.Migrations.Tests.Infrastructure;

namespace TimeTrack.Migrations.Tests.Runner;

/// <summary>
/// Cli.RunAsync reads and writes only its terminal: help, version, parse errors and settings come
/// from and go to what the caller gave it, never the test process's console, environment or
/// current directory (in-process tests run in parallel in one process).
/// </summary>
public sealed class CliTests : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("timetrack-cli-").FullName;

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    [Fact]
    public async Task Help_and_version_go_to_the_given_stdout_and_the_image_revision_comes_from_the_given_environment()
    {
        var version = await InProcessRunner.RunAsync(["--version"], new Dictionary<string, string?> { ["TIMETRACK_IMAGE_REVISION"] = "feedbeef" });
        version.ExitCode.ShouldBe(0, version.ToString());
        version.Stdout.ShouldStartWith("timetrack-migrate ");
        version.Stdout.ShouldContain("image revision feedbeef");

        (await InProcessRunner.RunAsync(["--version"])).Stdout.ShouldContain("not built as an image");

        var help = await InProcessRunner.RunAsync(["up", "--help"]);
        help.ExitCode.ShouldBe(0, help.ToString());
        help.Stdout.ShouldContain("--database-url");
        help.Stderr.ShouldBeEmpty();
    }

    [Fact]
    public async Task A_parse_error_is_one_line_on_the_given_stderr_and_the_json_document_on_the_given_stdout()
    {
        var result = await InProcessRunner.RunAsync(["status", "--json", "--bogus"]);

        RunnerTestBase.ShouldFailWithOneLine(result, 2, "--bogus");
        using var json = JsonDocument.Parse(result.Stdout);
        json.RootElement.GetProperty("error").GetProperty("exitCode").GetInt32().ShouldBe(2);
    }

    [Fact]
    public async Task Relative_paths_start_in_the_given_working_directory()
    {
        await File.WriteAllTextAsync(Path.Combine(_directory, "url-secret"), "sqlite:///from-secret.db\n");

        var result = await InProcessRunner.RunAsync(["up", "--to", RunnerTestBase.Versions[0].ToString()],
            new Dictionary<string, string?> { ["DATABASE_URL_FILE"] = "url-secret" }, _directory);

        result.ExitCode.ShouldBe(0, result.ToString());
        File.Exists(Path.Combine(_directory, "from-secret.db")).ShouldBeTrue(result.ToString());
        File.Exists(Path.Combine(AppContext.BaseDirectory, "from-secret.db")).ShouldBeFalse();
        File.Exists(Path.Combine(Directory.GetCurrentDirectory(), "from-secret.db")).ShouldBeFalse();
    }

    [Fact]
    public async Task TIMETRACK_settings_come_from_the_given_environment()
    {
        var result = await InProcessRunner.RunAsync(["status"],
            new Dictionary<string, string?> { ["TIMETRACK_DATABASE_URL"] = "sqlite:///from-timetrack-variable.db" }, _directory);

        result.ExitCode.ShouldBe(0, result.ToString());
        result.Stdout.ShouldContain("sqlite:///from-timetrack-variable.db");

        var invalid = await InProcessRunner.RunAsync(["status"], new Dictionary<string, string?> { ["TIMETRACK_WAIT"] = "soon" }, _directory);
        RunnerTestBase.ShouldFailWithOneLine(invalid, 2, "--wait: 'soon' from the environment is not a whole number of seconds");
    }

    [Fact]
    public async Task Each_command_lists_only_the_options_it_uses_and_has_the_defined_names()
    {
        var lint = (await InProcessRunner.RunAsync(["lint", "--help"])).Stdout;
        var manifest = (await InProcessRunner.RunAsync(["manifest", "--help"])).Stdout;
        foreach (var help in new[] { lint, manifest })
        {
            help.ShouldNotContain("--database-url");
            help.ShouldNotContain("--lock-timeout");
            help.ShouldNotContain("--ddl-retries");
            help.ShouldContain("--migrations-assembly");
        }

        var up = (await InProcessRunner.RunAsync(["apply", "--help"])).Stdout;
        up.ShouldContain("--ddl-retries");
        up.ShouldContain("default 8;");
        (await InProcessRunner.RunAsync(["lint", "--database-url", "sqlite:///x.db"])).ExitCode.ShouldBe(2);

        foreach (var command in TimeTrack.Migrations.Runner.Commands.CommandDefinitions.All)
        {
            foreach (var name in command.Aliases.Prepend(command.Name))
            {
                var result = await InProcessRunner.RunAsync([name, "--help"]);
                result.ExitCode.ShouldBe(0, $"{name}: {result}");
            }
        }
    }
}
