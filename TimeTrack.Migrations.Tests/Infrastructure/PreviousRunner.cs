namespace TimeTrack.Migrations.Tests.Infrastructure;

/// <summary>
/// The runner as main built it before the version table recorded history (commit
/// <see cref="Commit"/>: FluentMigrator's three columns only), built once per test run from this
/// repository's history: what an older image runs against a database a newer runner upgraded.
/// The build is kept in the user's cache (~/.cache/timetrack-tests) under the commit's name: a
/// commit never changes, and the build is a quarter of a minute of CPU that every later run
/// of the suite on this machine is spared.
/// </summary>
public static class PreviousRunner
{
    /// <summary>The last commit of main before the recorded-history columns.</summary>
    public const string Commit = "91d4389";

    private static readonly Lazy<Task<string>> Executable = new(BuildAsync);

    public static Task<string> GetAsync() => Executable.Value;

    private static async Task<string> BuildAsync()
    {
        var root = TestDatabase.RepositoryRoot;
        var known = await RunnerProcess.RunProgramAsync("git", ["-C", root, "cat-file", "-e", Commit + "^{commit}"]);
        if (known.ExitCode != 0)
        {
            throw new InvalidOperationException(
                $"commit {Commit} (the previous runner) is not in this clone of the repository: clone it with its history (not --depth 1), or run 'git fetch --unshallow'");
        }

        var cached = Path.Combine(TestCache.Folder, "previous-runner-" + Commit);
        var cachedExecutable = Path.Combine(cached, "bin", "timetrack-migrate");
        if (File.Exists(cachedExecutable))
        {
            return cachedExecutable;
        }

        // Built beside the cache (TestCache: a move from the suite's TMPDIR, /dev/shm, crossed file
        // systems and failed, and every run built the runner again).
        var folder = TestCache.CreateWorkFolder("previous-runner-" + Commit);
        var archive = Path.Combine(folder, "source.tar");
        var export = await RunnerProcess.RunProgramAsync("git", ["-C", root, "archive", "--format=tar", "-o", archive, Commit]);
        var source = Path.Combine(folder, "source");
        Directory.CreateDirectory(source);
        var unpack = export.ExitCode == 0 ? await RunnerProcess.RunProgramAsync("tar", ["-xf", archive, "-C", source]) : export;
        if (unpack.ExitCode != 0)
        {
            throw new InvalidOperationException($"could not export commit {Commit}:\n{unpack}");
        }

        var output = Path.Combine(folder, "bin");
        var build = await RunnerProcess.RunProgramAsync("dotnet",
            ["build", Path.Combine(source, "TimeTrack.Migrations.Runner", "TimeTrack.Migrations.Runner.csproj"), "-c", "Release", "-o", output, "-v", "q", "--nologo"],
            timeout: TimeSpan.FromMinutes(5));
        var executable = Path.Combine(output, "timetrack-migrate");
        if (build.ExitCode != 0 || !File.Exists(executable))
        {
            throw new InvalidOperationException($"dotnet build of the previous runner (commit {Commit}) failed:\n{build}");
        }

        // Built beside, then moved in whole (TestCache.Keep).
        File.Delete(archive);
        Directory.Delete(source, recursive: true);
        return Path.Combine(TestCache.Keep(folder, "previous-runner-" + Commit), "bin", "timetrack-migrate");
    }
}
