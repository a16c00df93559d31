using System.Reflection;
using FluentMigrator;

namespace TimeTrack.Migrations.Runner.Running;

/// <summary>A migration this build knows, read from its [Migration] attribute.</summary>
/// <param name="Type">The migration class; null for a version known only from its recorded Down (applied by a newer build).</param>
public sealed record KnownMigration(long Version, string Description, bool Transactional, Type? Type);

/// <summary>
/// The migrations of an assembly, ordered by version. Read from attributes only: no
/// FluentMigrator container is built, so a run with nothing to do stays cheap.
/// </summary>
public sealed class MigrationCatalog
{
    private MigrationCatalog(Assembly assembly, IReadOnlyList<KnownMigration> migrations)
    {
        Assembly = assembly;
        Migrations = migrations;
    }

    public Assembly Assembly { get; }

    public IReadOnlyList<KnownMigration> Migrations { get; }

    public long Head => Migrations.Count == 0 ? 0 : Migrations[^1].Version;

    public static MigrationCatalog FromAssembly(Assembly assembly)
    {
        var migrations = assembly.GetExportedTypes()
            .Where(t => !t.IsAbstract && typeof(IMigration).IsAssignableFrom(t))
            .Select(t => (Type: t, Attribute: t.GetCustomAttribute<MigrationAttribute>()))
            .Where(x => x.Attribute is not null)
            .Select(x => new KnownMigration(
                x.Attribute!.Version,
                x.Attribute.Description ?? x.Type.Name,
                x.Attribute.TransactionBehavior != TransactionBehavior.None,
                x.Type))
            .OrderBy(m => m.Version)
            .ToList();
        return new MigrationCatalog(assembly, migrations);
    }

    public KnownMigration? Find(long version) => Migrations.FirstOrDefault(m => m.Version == version);

    public bool Knows(long version) => Find(version) is not null;
}
