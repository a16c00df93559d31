using System.Reflection;
using System.Runtime.Loader;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.Emit;

namespace TimeTrack.Migrations.Tests.Infrastructure;

/// <summary>Compiles generated migration source with Roslyn into an assembly the runner can load.</summary>
public static class MigrationCompiler
{
    private static readonly Lazy<IReadOnlyList<MetadataReference>> References = new(() =>
    {
        var paths = ((string)AppContext.GetData("TRUSTED_PLATFORM_ASSEMBLIES")!).Split(Path.PathSeparator)
            .Concat([typeof(FluentMigrator.Migration).Assembly.Location, typeof(FluentMigrator.MigrationAttribute).Assembly.Location,
                     typeof(TimeTrack.Migrations.Migrations.TimeTrackMigration).Assembly.Location])
            .GroupBy(Path.GetFileName)
            .Select(g => g.First());
        return paths.Select(p => (MetadataReference)MetadataReference.CreateFromFile(p)).ToList();
    });

    /// <summary>The compiled assembly, or an exception listing the compiler's errors and the source.</summary>
    /// <param name="writeTo">Also write the assembly there (with its portable PDB beside it, or embedded, when <paramref name="pdb"/> says so).</param>
    /// <param name="sourcePath">The source's path as the PDB records it.</param>
    public static Assembly Compile(string source, string? writeTo = null, string? sourcePath = null, Pdb pdb = Pdb.None)
    {
        var name = "Generated_" + Guid.NewGuid().ToString("N");
        var compilation = CSharpCompilation.Create(
            name,
            [CSharpSyntaxTree.ParseText(source, new CSharpParseOptions(LanguageVersion.Latest), path: sourcePath ?? "", encoding: System.Text.Encoding.UTF8)],
            References.Value,
            new CSharpCompilationOptions(OutputKind.DynamicallyLinkedLibrary, nullableContextOptions: NullableContextOptions.Enable,
                generalDiagnosticOption: ReportDiagnostic.Error));
        using var image = new MemoryStream();
        using var symbols = new MemoryStream();
        var result = pdb switch
        {
            Pdb.Beside => compilation.Emit(image, symbols, options: new EmitOptions(debugInformationFormat: DebugInformationFormat.PortablePdb, pdbFilePath: Path.ChangeExtension(writeTo, ".pdb"))),
            Pdb.Embedded => compilation.Emit(image, options: new EmitOptions(debugInformationFormat: DebugInformationFormat.Embedded)),
            _ => compilation.Emit(image),
        };
        if (!result.Success)
        {
            var errors = result.Diagnostics.Where(d => d.Severity == DiagnosticSeverity.Error).Select(d => d.ToString());
            throw new InvalidOperationException($"the generated migration does not compile:\n{string.Join('\n', errors)}\n---\n{source}");
        }

        if (writeTo is not null)
        {
            File.WriteAllBytes(writeTo, image.ToArray());
            if (pdb == Pdb.Beside)
            {
                File.WriteAllBytes(Path.ChangeExtension(writeTo, ".pdb"), symbols.ToArray());
            }
        }

        image.Position = 0;
        return AssemblyLoadContext.Default.LoadFromStream(image);
    }
}

/// <summary>Where <see cref="MigrationCompiler"/> puts the portable PDB of an assembly it writes.</summary>
public enum Pdb
{
    None,
    Beside,
    Embedded,
}
