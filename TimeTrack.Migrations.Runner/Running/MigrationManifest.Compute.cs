using System.Security.Cryptography;
using System.Text;
using TimeTrack.Migrations.Runner.Databases;

namespace TimeTrack.Migrations.Runner.Running;

/// <summary>The half of the manifest that computes it from the migrations (FluentMigrator renders them; not AOT-safe, so not in the core).</summary>
public static class MigrationManifestComputation
{
    extension(MigrationManifest)
    {
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

    public static string Key(DatabaseProvider provider) => MigrationManifest.Key(provider.Kind);
    }
}

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
