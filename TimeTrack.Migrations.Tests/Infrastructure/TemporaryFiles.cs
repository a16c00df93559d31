using System.Diagnostics;
using System.Runtime.CompilerServices;

namespace TimeTrack.Migrations.Tests.Infrastructure;

/// <summary>
/// Where the suite's files go: in memory (/dev/shm) when it has room, else the system's temporary
/// directory. The suite creates and deletes thousands of files (SQLite databases, job summaries,
/// backups, the test cluster's databases); on a disk file system that costs more CPU than the
/// tests' own work (ext4 searches its inode tables for one to reuse after each deletion, and
/// SQLite's fsyncs reach the disk). Nothing here depends on durability across a power loss.
/// </summary>
public static class TemporaryFiles
{
    private const string Memory = "/dev/shm";
    private const string Prefix = "timetrack-tests-";

    /// <summary>The system's temporary directory, as it was before this class pointed TMPDIR elsewhere.</summary>
    public static string SystemTemporaryDirectory { get; } = Path.GetTempPath();

    /// <summary>
    /// Runs when the test assembly loads, before any test: TMPDIR points at a directory of this
    /// test process (Path.GetTempPath and mktemp in the scripts the tests run follow it), removed
    /// when the process ends.
    /// </summary>
    [ModuleInitializer]
#pragma warning disable CA2255 // the test assembly is the program here: the set-up must precede every test
    internal static void UseMemoryWhenThereIsRoom()
#pragma warning restore CA2255
    {
        var parent = Parent();
        RemoveLeftOvers(parent, Prefix);
        var root = Directory.CreateDirectory(Path.Combine(parent, Prefix + Environment.ProcessId)).FullName;
        Environment.SetEnvironmentVariable("TMPDIR", root + "/");
        WhenThisProcessEnds($"rm -rf '{root}'");
    }

    /// <summary>/dev/shm when it exists and has room (2 GiB free), else the system's temporary directory.</summary>
    public static string Parent()
    {
        try
        {
            if (Directory.Exists(Memory) && new DriveInfo(Memory).AvailableFreeSpace > 2L << 30)
            {
                return Memory;
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException)
        {
            // Not a usable mount: a directory on disk does as well, only slower.
        }

        return SystemTemporaryDirectory;
    }

    /// <summary>
    /// Runs <paramref name="shellCommand"/> once this test process is gone, however it ends: a
    /// watcher of its own (setsid, so that it outlives the test host). Exit handlers are not
    /// enough: the test platform kills a test host that takes long to exit.
    /// </summary>
    public static void WhenThisProcessEnds(string shellCommand)
    {
        var watcher = $"while kill -0 {Environment.ProcessId} 2>/dev/null; do sleep 0.5; done; {shellCommand}";
        var start = new ProcessStartInfo("bash") { RedirectStandardOutput = true, RedirectStandardError = true };
        start.ArgumentList.Add("-c");
        start.ArgumentList.Add($"setsid bash -c \"{watcher}\" </dev/null >/dev/null 2>&1 &");
        using var process = Process.Start(start)!;
        process.WaitForExit();
    }

    /// <summary>Directories named <paramref name="prefix"/>{pid} whose process is gone (a killed run's).</summary>
    private static void RemoveLeftOvers(string parent, string prefix)
    {
        foreach (var directory in Directory.GetDirectories(parent, prefix + "*"))
        {
            if (int.TryParse(Path.GetFileName(directory)[prefix.Length..], out var pid) && !IsAlive(pid))
            {
                try
                {
                    Directory.Delete(directory, recursive: true);
                }
                catch (Exception e) when (e is IOException or UnauthorizedAccessException)
                {
                    // Someone else's, or already going: leave it.
                }
            }
        }
    }

    public static bool IsAlive(int pid)
    {
        try
        {
            using var process = Process.GetProcessById(pid);
            return !process.HasExited;
        }
        catch (ArgumentException)
        {
            return false;
        }
    }
}
