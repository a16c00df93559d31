using System.Globalization;
using System.Text.RegularExpressions;
using Microsoft.Extensions.Logging;
using TimeTrack.Migrations.Runner.Databases;
using TimeTrack.Migrations.Runner.Output;

namespace TimeTrack.Migrations.Runner.Running;

/// <summary>A backup in the directory: what its name says, and its size.</summary>
/// <param name="Version">The database's version when it was taken (before the change).</param>
/// <param name="OlderName">Named as before backups carried the database's identity: it may be another database's of the same name.</param>
public sealed record BackupFile(string Path, long Version, DateTime TakenAt, long Bytes, bool OlderName = false)
{
    public string Describe() =>
        $"{Path} ({Backups.Size(Bytes)}; taken {TakenAt.ToString("yyyy-MM-dd HH:mm:ss", CultureInfo.InvariantCulture)} UTC at version {Version})" +
        (OlderName ? "; named before backup names carried the database's identity, so it may be another database's of the same name" : "");
}

/// <summary>
/// Whose backups a file holds: the database's name, readable, and a short hash of what tells it
/// from every other database (<see cref="Database.BackupIdentityAsync"/>: its server and name, or
/// its file's full path), so that two databases called timetrack on two servers, or "a b" and
/// "a_b", never prune or show each other's backups, wherever the directory is mounted.
/// </summary>
public sealed record BackupIdentity(string Name, string Key, string Extension)
{
    public static async Task<BackupIdentity> OfAsync(Database database, CancellationToken cancel)
    {
        var identity = await database.BackupIdentityAsync(cancel);
        var hash = System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(identity));
        return new(Backups.SafeName(database.Provider.BackupName(database.Target)), Convert.ToHexStringLower(hash, 0, 4), database.Provider.BackupExtension);
    }
}

/// <summary>
/// Backups before a change, in one place: when (once per run, just before the first write; never
/// when nothing is to change), under which name, what a failure does, and retention. How a
/// database is copied is its provider's (<see cref="Database.BackupAsync"/>).
/// </summary>
/// <remarks>
/// A name says which database, the version before and the UTC time, so that an operator picks
/// the right file without opening any: <c>timetrack-3f09a1c2-v202407010900-20261130T101530123Z.dump</c>.
/// A backup is written under a hidden temporary name and renamed when complete: a run stopped
/// mid-way leaves no file that looks like a good backup (and retention never counts one). Files
/// are the owner's alone (0600), whatever the umask: they hold every row.
/// </remarks>
public static partial class Backups
{
    private const string TimeFormat = "yyyyMMdd'T'HHmmssfff'Z'";

    public static string FileName(BackupIdentity identity, long version, DateTime takenAt) =>
        $"{identity.Name}-{identity.Key}-v{version}-{takenAt.ToString(TimeFormat, CultureInfo.InvariantCulture)}{identity.Extension}";

    /// <summary>A database's name reduced to characters every file system takes.</summary>
    internal static string SafeName(string name) => UnsafeInName().Replace(name, "_");

    [GeneratedRegex("[^A-Za-z0-9._-]")]
    private static partial Regex UnsafeInName();

    /// <summary>The backups of the database <paramref name="identity"/> names in <paramref name="directory"/>, newest first.</summary>
    public static IReadOnlyList<BackupFile> List(string directory, BackupIdentity identity) =>
        Find(directory, $"{Regex.Escape(identity.Name)}-{identity.Key}", identity.Extension, olderName: false);

    /// <summary>
    /// Backups named as before names carried an identity ("timetrack-v1-TIME.dump"), of a database
    /// of this name: never pruned (they may be another's), shown by status only when there is no other.
    /// </summary>
    public static IReadOnlyList<BackupFile> ListOlderNames(string directory, BackupIdentity identity) =>
        Find(directory, Regex.Escape(identity.Name), identity.Extension, olderName: true);

    private static List<BackupFile> Find(string directory, string prefix, string extension, bool olderName)
    {
        var pattern = new Regex($"^{prefix}-v(\\d+)-(\\d{{8}}T\\d{{9}}Z){Regex.Escape(extension)}$");
        return new DirectoryInfo(directory).EnumerateFiles()
            .Select(f => (File: f, Match: pattern.Match(f.Name)))
            .Where(x => x.Match.Success)
            .Select(x => new BackupFile(
                x.File.FullName,
                long.Parse(x.Match.Groups[1].Value, CultureInfo.InvariantCulture),
                DateTime.ParseExact(x.Match.Groups[2].Value, TimeFormat, CultureInfo.InvariantCulture, DateTimeStyles.AdjustToUniversal | DateTimeStyles.AssumeUniversal),
                x.File.Length,
                olderName))
            .OrderByDescending(b => b.TakenAt)
            .ThenByDescending(b => b.Path, StringComparer.Ordinal)
            .ToList();
    }

    /// <summary>What status shows as the last backup: this database's newest, else the newest of the older names.</summary>
    public static BackupFile? Last(string directory, BackupIdentity identity) =>
        List(directory, identity).FirstOrDefault() ?? ListOlderNames(directory, identity).FirstOrDefault();

    /// <summary>
    /// Writes a backup of <paramref name="database"/> (at <paramref name="version"/>) into the
    /// policy's directory, logs its path and size, and keeps the newest --backup-keep. A failure
    /// is exit 1 with nothing changed, or with --backup-optional a warning and null.
    /// </summary>
    public static async Task<BackupFile?> TakeAsync(Database database, BackupPolicy policy, long version,
        IReadOnlyDictionary<string, string?> environment, ILogger log, CancellationToken cancel)
    {
        var takenAt = DateTime.UtcNow;
        var identity = await BackupIdentity.OfAsync(database, cancel);
        var path = System.IO.Path.Combine(policy.Directory, FileName(identity, version, takenAt));
        var partial = System.IO.Path.Combine(policy.Directory, $".{System.IO.Path.GetFileName(path)}.partial");
        var clock = System.Diagnostics.Stopwatch.StartNew();
        log.LogInformation("backing up the database before changing it: {Path}", path);
        try
        {
            CreateOwnerOnly(partial);
            await database.BackupAsync(partial, environment, cancel);
            if (!OperatingSystem.IsWindows())
            {
                File.SetUnixFileMode(partial, OwnerOnly); // in case the tool made the file anew
            }

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
            foreach (var old in List(policy.Directory, identity).Skip(keep))
            {
                TryDelete(old.Path);
                log.LogInformation("removed old backup {Path} (--backup-keep {Keep})", old.Path, keep);
            }
        }

        return backup;
    }

    private const UnixFileMode OwnerOnly = UnixFileMode.UserRead | UnixFileMode.UserWrite;

    /// <summary>
    /// The (empty) file the backup is written into, made 0600 at its creation: a mode set after
    /// writing would leave the rows readable by every local user meanwhile (umask 022 gives 0644).
    /// </summary>
    private static void CreateOwnerOnly(string path)
    {
        var options = new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write };
        if (!OperatingSystem.IsWindows())
        {
            options.UnixCreateMode = OwnerOnly;
        }

        new FileStream(path, options).Dispose();
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
