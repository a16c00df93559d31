using System.Reflection;
using System.Reflection.Metadata;
using System.Reflection.Metadata.Ecma335;
using System.Reflection.PortableExecutable;

namespace TimeTrack.Migrations.Runner.Lint;

/// <summary>
/// Where a migration is written, from its assembly's portable PDB (next to the assembly, or
/// embedded in it): the file and line of the first statement of its Up (else Down). Works for any
/// migrations assembly, wherever it was built; without a PDB the finding simply has no file.
/// </summary>
internal sealed class SourceLocations : IDisposable
{
    // Deterministic CI builds (ContinuousIntegrationBuild) map the source root to this prefix.
    private const string DeterministicRoot = "/_/";
    private readonly string _root;
    private readonly Dictionary<Assembly, MetadataReaderProvider?> _pdbs = [];

    /// <param name="workingDirectory">Paths under the repository that holds it (its .git), or under it, are made relative.</param>
    public SourceLocations(string workingDirectory)
    {
        _root = RepositoryRoot(workingDirectory) ?? workingDirectory;
    }

    /// <summary>The file (relative to the repository when under it, with forward slashes) and 1-based line; (null, 0) when unknown.</summary>
    public (string? File, int Line) Find(Type type)
    {
        if (Pdb(type.Assembly)?.GetMetadataReader() is not { } reader)
        {
            return (null, 0);
        }

        const BindingFlags Declared = BindingFlags.Instance | BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.DeclaredOnly;
        foreach (var method in new[] { type.GetMethod("Up", Declared, Type.EmptyTypes), type.GetMethod("Down", Declared, Type.EmptyTypes) })
        {
            if (method is null)
            {
                continue;
            }

            var handle = (MethodDefinitionHandle)MetadataTokens.Handle(method.MetadataToken);
            var points = reader.GetMethodDebugInformation(handle).GetSequencePoints().Where(p => !p.IsHidden).ToList();
            // The first point of a block body is its opening brace: the first statement is what the finding is about.
            var point = points.Skip(points.Count > 1 && IsBrace(points[0]) ? 1 : 0).FirstOrDefault();
            if (!point.Document.IsNil)
            {
                return (Relative(reader.GetString(reader.GetDocument(point.Document).Name)), point.StartLine);
            }
        }

        return (null, 0);
    }

    private static bool IsBrace(SequencePoint p) => p.StartLine == p.EndLine && p.EndColumn == p.StartColumn + 1;

    private string Relative(string document)
    {
        if (document.StartsWith(DeterministicRoot, StringComparison.Ordinal))
        {
            return document[DeterministicRoot.Length..];
        }

        var relative = Path.GetRelativePath(_root, document);
        return (Path.IsPathRooted(relative) || relative.StartsWith("..", StringComparison.Ordinal) ? document : relative).Replace('\\', '/');
    }

    private MetadataReaderProvider? Pdb(Assembly assembly)
    {
        if (!_pdbs.TryGetValue(assembly, out var pdb))
        {
            _pdbs[assembly] = pdb = Open(assembly.Location);
        }

        return pdb;
    }

    /// <summary>The embedded PDB, or the one the assembly names, or the .pdb beside it; null when none (or unreadable).</summary>
    private static MetadataReaderProvider? Open(string assemblyPath)
    {
        if (string.IsNullOrEmpty(assemblyPath) || !File.Exists(assemblyPath))
        {
            return null;
        }

        try
        {
            using var pe = new PEReader(File.OpenRead(assemblyPath));
            return pe.TryOpenAssociatedPortablePdb(assemblyPath, path => File.Exists(path) ? File.OpenRead(path) : null, out var provider, out _) ? provider : null;
        }
        catch (Exception e) when (e is BadImageFormatException or IOException or UnauthorizedAccessException or InvalidOperationException)
        {
            return null;
        }
    }

    private static string? RepositoryRoot(string start)
    {
        for (var dir = new DirectoryInfo(start); dir is not null; dir = dir.Parent)
        {
            if (Path.Exists(Path.Combine(dir.FullName, ".git")))
            {
                return dir.FullName;
            }
        }

        return null;
    }

    public void Dispose()
    {
        foreach (var pdb in _pdbs.Values)
        {
            pdb?.Dispose();
        }
    }
}
