using System.Globalization;
using System.Text.RegularExpressions;
using Microsoft.Extensions.Logging;
using TimeTrack.Migrations.Runner.Databases;
using TimeTrack.Migrations.Runner.Output;

namespace TimeTrack.Migrations.Runner.Running;

/// <summary>A backup in the directory: what its name says, and its size.</summary>
/// <param name="Version">The database's version when it was taken (before the change).</param>
public sealed record BackupFile(string Path, long Version, DateTime TakenAt, long Bytes)
{
    public string Describe() =>
        $"{Path} ({Backups.Size(Bytes)}; taken {TakenAt.ToString("yyyy-MM-dd HH:mm:ss", CultureInfo.InvariantCulture)} UTC at version {Version})";
}

/// <summary>
/// Backups before a change, in one place: when (once per run, just before the first write; never
/// when nothing is to change), under which name, what a failure does, and retention. How a
/// database is copied is its provider's (<see cref="Database.BackupAsync"/>).
/// </summary>
/// <remarks>
/// A name says which database, the version before and the UTC time, so that an operator picks
/// the right file without opening any: <c>timetrack-v202407010900-20261130T101530123Z.dump</c>.
/// A backup is written under a hidden temporary name and renamed when complete: a run stopped
/// mid-way leaves no file that looks like a good backup (and retention never counts one).
/// </remarks>
public static partial class Backups
{
    private const string TimeFormat = "yyyyMMdd'T'HHmmssfff'Z'";

    public static string FileName(DatabaseTarget target, long version, DateTime takenAt) =>
        $"{Name(target)}-v{version}-{takenAt.ToString(TimeFormat, CultureInfo.InvariantCulture)}{target.Provider.BackupExtension}";

    /// <summary>The database's name, reduced to characters every file system takes.</summary>
    private static string Name(DatabaseTarget target) => UnsafeInName().Replace(target.Provider.BackupName(target), "_");

    [GeneratedRegex("[^A-Za-z0-9._-]")]
    private static partial Regex UnsafeInName();

    /// <summary>The backups of <paramref name="target"/> in <paramref name="directory"/>, newest first.</summary>
    public static IReadOnlyList<BackupFile> List(string directory, DatabaseTarget target)
    {
        var pattern = new Regex($"^{Regex.Escape(Name(target))}-v(\\d+)-(\\d{{8}}T\\d{{9}}Z){Regex.Escape(target.Provider.BackupExtension)}$");
        return new DirectoryInfo(directory).EnumerateFiles()
            .Select(f => (File: f, Match: pattern.Match(f.Name)))
            .Where(x => x.Match.Success)
            .Select(x => new BackupFile(
                x.File.FullName,
                long.Parse(x.Match.Groups[1].Value, CultureInfo.InvariantCulture),
                DateTime.ParseExact(x.Match.Groups[2].Value, TimeFormat, CultureInfo.InvariantCulture, DateTimeStyles.AdjustToUniversal | DateTimeStyles.AssumeUniversal),
                x.File.Length))
            .OrderByDescending(b => b.TakenAt)
            .ThenByDescending(b => b.Path, StringComparer.Ordinal)
            .ToList();
    }

    /// <summary>
    /// Writes a backup of <paramref name="database"/> (at <paramref name="version"/>) into the
    /// policy's directory, logs its path and size, and keeps the newest --backup-keep. A failure
    /// is exit 1 with nothing changed, or with --backup-optional a warning and null.
    /// </summary>
    public static async Task<BackupFile?> TakeAsync(Database database, BackupPolicy policy, long version,
        IReadOnlyDictionary<string, string?> environment, ILogger log, CancellationToken cancel)
    {
        var takenAt = DateTime.UtcNow;
        var path = System.IO.Path.Combine(policy.Directory, FileName(database.Target, version, takenAt));
        var partial = System.IO.Path.Combine(policy.Directory, $".{System.IO.Path.GetFileName(path)}.partial");
        var clock = System.Diagnostics.Stopwatch.StartNew();
        log.LogInformation("backing up the database before changing it: {Path}", path);
        try
        {
            await database.BackupAsync(partial, environment, cancel);
            File.Move(partial, path);
        }
        catch (Exception e) when (e is BackupException or IOException or UnauthorizedAccessException or OperationCanceledException)
        {
            TryDelete(partial);
            if (e is OperationCanceledException)
            {
                throw;
            }

            var why = e is BackupException ? e.Message : $"cannot write to {policy.Directory}: {e.Message}";
            if (!policy.Optional)
            {
                throw new UserError(ExitCode.MigrationFailed,
                    $"backup failed, so nothing was changed: {why}. Fix it, or pass --backup-optional (TIMETRACK_BACKUP_OPTIONAL=true; in the container MIGRATE_BACKUP_OPTIONAL=true) to migrate without a backup");
            }

            log.LogWarning("backup failed: {Why}; migrating without one (--backup-optional)", why);
            return null;
        }

        var backup = new BackupFile(path, version, takenAt, new FileInfo(path).Length);
        log.LogInformation("backup written: {Path} ({Size}, {Milliseconds} ms)", path, Size(backup.Bytes), clock.ElapsedMilliseconds);
        if (policy.Keep is { } keep)
        {
            foreach (var old in List(policy.Directory, database.Target).Skip(keep))
            {
                TryDelete(old.Path);
                log.LogInformation("removed old backup {Path} (--backup-keep {Keep})", old.Path, keep);
            }
        }

        return backup;
    }

    private static void TryDelete(string path)
    {
        try
        {
            File.Delete(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // Nothing more to do: a leftover partial file is hidden and never counted as a backup.
        }
    }

    public static string Size(long bytes) => bytes switch
    {
        < 1024 => $"{bytes} B",
        < 1024 * 1024 => string.Create(CultureInfo.InvariantCulture, $"{bytes / 1024.0:0.0} KiB"),
        _ => string.Create(CultureInfo.InvariantCulture, $"{bytes / 1024.0 / 1024.0:0.0} MiB"),
    };
}
