namespace TimeTrack.Migrations.Tests.Infrastructure;

/// <summary>
/// The runner as `dotnet publish` lays it out (what the image holds), ReadyToRun as in the image,
/// published by the test project's build (PublishRunnerForTests in its .csproj) into a folder the
/// deploy scripts find on PATH.
/// </summary>
public static class PublishedRunner
{
    public static string Folder { get; } = Path.Combine(AppContext.BaseDirectory, "published-runner");

    public static string Executable { get; } = Path.Combine(Folder, "timetrack-migrate");

    public static Task<string> GetFolderAsync() => File.Exists(Executable)
        ? Task.FromResult(Folder)
        : throw new InvalidOperationException($"{Executable} is missing: the test project's build publishes it (dotnet build TimeTrack.sln)");

    public static string DeployScript(string name) => Path.Combine(TestDatabase.RepositoryRoot, "deploy", name);

    /// <summary>The environment the image sets, with the published runner first on PATH.</summary>
    public static async Task<Dictionary<string, string?>> ImageEnvironmentAsync(string databaseUrl) => new()
    {
        ["PATH"] = await GetFolderAsync() + ":" + Environment.GetEnvironmentVariable("PATH"),
        ["DATABASE_URL"] = databaseUrl,
        ["TIMETRACK_ENVIRONMENT"] = "Production",
    };
}
