using System.Reflection;

namespace TimeTrack.Migrations.Tests.Infrastructure;

/// <summary>
/// The runner as `dotnet publish` lays it out (what the image holds), published once per test run
/// from the build the tests already made, into a folder the deploy scripts find on PATH.
/// </summary>
public static class PublishedRunner
{
    private static readonly Lazy<Task<string>> Folder = new(PublishAsync);

    public static Task<string> GetFolderAsync() => Folder.Value;

    public static string DeployScript(string name) => Path.Combine(TestDatabase.RepositoryRoot, "deploy", name);

    /// <summary>The environment the image sets, with the published runner first on PATH.</summary>
    public static async Task<Dictionary<string, string?>> ImageEnvironmentAsync(string databaseUrl) => new()
    {
        ["PATH"] = await GetFolderAsync() + ":" + Environment.GetEnvironmentVariable("PATH"),
        ["DATABASE_URL"] = databaseUrl,
        ["TIMETRACK_ENVIRONMENT"] = "Production",
        ["MIGRATE_ON_START"] = "true",
        ["MIGRATE_TARGET_VERSION"] = "head",
        ["MIGRATE_WAIT_SECONDS"] = "60",
    };

    private static async Task<string> PublishAsync()
    {
        var configuration = typeof(PublishedRunner).Assembly.GetCustomAttribute<AssemblyConfigurationAttribute>()?.Configuration ?? "Debug";
        var output = Path.Combine(AppContext.BaseDirectory, "published-runner");
        var project = Path.Combine(TestDatabase.RepositoryRoot, "TimeTrack.Migrations.Runner", "TimeTrack.Migrations.Runner.csproj");
        var result = await RunnerProcess.RunProgramAsync("dotnet",
            ["publish", project, "-c", configuration, "--no-build", "-o", output, "-v", "q", "--nologo"],
            timeout: TimeSpan.FromMinutes(3));
        if (result.ExitCode != 0 || !File.Exists(Path.Combine(output, "timetrack-migrate")))
        {
            throw new InvalidOperationException($"dotnet publish of the runner failed:\n{result}");
        }

        return output;
    }
}
