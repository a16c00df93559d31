using System.Reflection;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;
using TimeTrack.Migrations.Runner.Databases;

namespace TimeTrack.Migrations.Runner.Running;

/// <summary>
/// The checksums of a migrations assembly's migrations, per provider, computed when the migrations
/// are written (<c>timetrack-migrate manifest</c>), committed beside them and embedded in the
/// assembly: the restart path validates the history against it without loading FluentMigrator.
/// A test asserts that it matches the code; a migrations assembly without one is validated by
/// rendering its migrations at start instead (slower).
/// </summary>
/// <remarks>
/// Like Atlas's atlas.sum, the file makes an edit to an applied migration visible in review.
/// <c>Accepted</c> keeps checksums an earlier rendering gave for the same operations (a
/// FluentMigrator upgrade that spells the SQL differently): databases that recorded them still
/// validate.
/// </remarks>
public sealed record MigrationManifest(IReadOnlyList<ManifestEntry> Migrations)
{
    /// <summary>The embedded resource's name (LogicalName in the migrations project).</summary>
    public const string ResourceName = "timetrack-migrations.manifest.json";

    /// <summary>The file in the migrations project's folder.</summary>
    public const string FileName = "migrations.manifest.json";

    public static MigrationManifest? Load(Assembly assembly)
    {
        using var stream = assembly.GetManifestResourceStream(ResourceName);
        return stream is null ? null : JsonSerializer.Deserialize(stream, ManifestJson.Default.MigrationManifest);
    }

    public static MigrationManifest Parse(string json) =>
        JsonSerializer.Deserialize(json, ManifestJson.Default.MigrationManifest) ?? new MigrationManifest([]);

    public string ToJson() => JsonSerializer.Serialize(this, ManifestJson.Default.MigrationManifest) + "\n";

    public ManifestEntry? Find(long version) => Migrations.FirstOrDefault(m => m.Version == version);

    /// <summary>The manifest the migrations give now, rendered for every provider (FluentMigrator, no connection).</summary>
    public static MigrationManifest Compute(MigrationCatalog catalog)
    {
        var checksums = new Dictionary<long, Dictionary<string, string>>();
        foreach (var provider in DatabaseProvider.All)
        {
            using var renderer = StepExecutor.ForRendering(provider, catalog);
            foreach (var migration in catalog.Migrations)
            {
                var rendered = renderer.Render(new PlannedStep(migration, Direction.Up));
                (checksums.TryGetValue(migration.Version, out var entry) ? entry : checksums[migration.Version] = [])[Key(provider)] =
                    MigrationChecksum.Of(rendered, migration.Transactional);
            }
        }

        return new MigrationManifest(catalog.Migrations
            .Select(m => new ManifestEntry(m.Version, m.Description, checksums[m.Version], null))
            .ToList());
    }

    public static string Key(DatabaseProvider provider) => provider.Kind.ToString().ToLowerInvariant();
}

/// <param name="Checksums">Per provider key ("postgres", "sqlite").</param>
/// <param name="Accepted">Earlier checksums of the same operations, still valid (per provider key).</param>
public sealed record ManifestEntry(
    long Version,
    string Description,
    IReadOnlyDictionary<string, string> Checksums,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] IReadOnlyDictionary<string, IReadOnlyList<string>>? Accepted);

/// <summary>
/// The checksum of a migration as a provider applies it: SHA-256 of its rendered statements (line
/// endings normalised) and whether it runs in a transaction. The same source gives the same
/// checksum on any machine and build; the other provider's branch does not enter it.
/// </summary>
public static class MigrationChecksum
{
    public static string Of(RenderedStep up, bool transactional)
    {
        var text = $"transaction: {(transactional ? "yes" : "no")}\n" + string.Join("\n;\n", up.Statements);
        return Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(text)));
    }
}

[JsonSourceGenerationOptions(WriteIndented = true, PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase)]
[JsonSerializable(typeof(MigrationManifest))]
internal sealed partial class ManifestJson : JsonSerializerContext;
