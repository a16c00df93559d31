using System.Reflection;
using System.Runtime.Loader;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;

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
    public static Assembly Compile(string source, string? writeTo = null)
    {
        var name = "Generated_" + Guid.NewGuid().ToString("N");
        var compilation = CSharpCompilation.Create(
            name,
            [CSharpSyntaxTree.ParseText(source, new CSharpParseOptions(LanguageVersion.Latest))],
            References.Value,
            new CSharpCompilationOptions(OutputKind.DynamicallyLinkedLibrary, nullableContextOptions: NullableContextOptions.Enable,
                generalDiagnosticOption: ReportDiagnostic.Error));
        using var image = new MemoryStream();
        var result = compilation.Emit(image);
        if (!result.Success)
        {
            var errors = result.Diagnostics.Where(d => d.Severity == DiagnosticSeverity.Error).Select(d => d.ToString());
            throw new InvalidOperationException($"the generated migration does not compile:\n{string.Join('\n', errors)}\n---\n{source}");
        }

        if (writeTo is not null)
        {
            File.WriteAllBytes(writeTo, image.ToArray());
        }

        image.Position = 0;
        return AssemblyLoadContext.Default.LoadFromStream(image);
    }
}
