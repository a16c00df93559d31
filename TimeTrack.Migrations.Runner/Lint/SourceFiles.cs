using System.Text.RegularExpressions;

namespace TimeTrack.Migrations.Runner.Lint;

/// <summary>
/// Where a migration class is written: TimeTrack.Migrations/Migrations/*.cs under the repository
/// root, found by its class declaration (for GitHub annotations and the text output).
/// </summary>
internal sealed class SourceFiles
{
    private const string Folder = "TimeTrack.Migrations/Migrations";
    private readonly string? _root;
    private readonly Lazy<IReadOnlyList<(string Path, string[] Lines)>> _files;

    /// <param name="workingDirectory">Where to start looking, upwards, for the repository root.</param>
    public SourceFiles(string workingDirectory)
    {
        _root = FindRoot(workingDirectory);
        _files = new(() => _root is null || !Directory.Exists(Path.Combine(_root, Folder))
            ? []
            : Directory.GetFiles(Path.Combine(_root, Folder), "*.cs", SearchOption.AllDirectories).Order(StringComparer.Ordinal)
                .Select(f => (f, File.ReadAllLines(f))).ToList());
    }

    /// <summary>The file (relative to the root, with forward slashes) and the 1-based line of the class declaration; (null, 0) when not found.</summary>
    public (string? File, int Line) Find(Type type)
    {
        var declaration = new Regex($@"\bclass\s+{Regex.Escape(type.Name)}\b");
        foreach (var (path, lines) in _files.Value)
        {
            var index = Array.FindIndex(lines, l => declaration.IsMatch(l));
            if (index >= 0)
            {
                return (Path.GetRelativePath(_root!, path).Replace('\\', '/'), index + 1);
            }
        }

        return (null, 0);
    }

    private static string? FindRoot(string start)
    {
        for (var dir = new DirectoryInfo(start); dir is not null; dir = dir.Parent)
        {
            if (Directory.Exists(Path.Combine(dir.FullName, Folder)))
            {
                return dir.FullName;
            }
        }

        return null;
    }
}
