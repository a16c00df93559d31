namespace TimeTrack.Migrations.Tests.Infrastructure;

/// <summary>
/// What the suite builds or fetches once per machine and keeps between runs
/// (~/.cache/timetrack-tests, or $XDG_CACHE_HOME): each entry is made in a folder beside it and
/// renamed into place whole, so a run that stops half-way, or another suite doing the same at the
/// same moment, never leaves half an entry.
/// </summary>
public static class TestCache
{
    public static string Folder => Path.Combine(
        Environment.GetEnvironmentVariable("XDG_CACHE_HOME") is { Length: > 0 } xdg ? xdg : Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".cache"),
        "timetrack-tests");

    /// <summary>A new folder to make <paramref name="entry"/> in: beside the cache (one file system, so the move is a rename), else a temporary one.</summary>
    public static string CreateWorkFolder(string entry)
    {
        try
        {
            return Directory.CreateDirectory(Path.Combine(Folder, $".building-{entry}-{Guid.NewGuid():N}")).FullName;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return Directory.CreateTempSubdirectory($"timetrack-{entry}-").FullName; // no cache here
        }
    }

    /// <summary>
    /// Moves a finished <paramref name="workFolder"/> into the cache as <paramref name="entry"/> and
    /// returns where it is: the cache's copy, another run's if it got there first, or the work folder itself when there is no cache.
    /// </summary>
    public static string Keep(string workFolder, string entry)
    {
        var cached = Path.Combine(Folder, entry);
        try
        {
            Directory.CreateDirectory(Folder);
            Directory.Move(workFolder, cached);
            return cached;
        }
        catch (IOException) when (Directory.Exists(cached))
        {
            return cached; // another run cached it first
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return workFolder; // no cache here: this run's copy still does
        }
    }
}
