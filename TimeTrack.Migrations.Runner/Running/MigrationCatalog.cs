using System.Reflection;
using FluentMigrator;
using TimeTrack.Migrations.Migrations;

namespace TimeTrack.Migrations.Runner.Running;

/// <summary>A migration this build knows, read from its [Migration] attribute (and [StepTimeouts], when it has one).</summary>
/// <param name="Type">The migration class; null for a version known only from its recorded Down (applied by a newer build).</param>
/// <param name="LockTimeoutSeconds">Its own lock timeout (<see cref="TimeTrack.Migrations.Migrations.StepTimeoutsAttribute"/>; 0: none); null: the runner's.</param>
/// <param name="StatementTimeoutSeconds">Its own statement timeout (0: none); null: the runner's.</param>
public sealed record KnownMigration(long Version, string Description, bool Transactional, Type? Type,
    int? LockTimeoutSeconds = null, int? StatementTimeoutSeconds = null);

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
        // Looked up once per applied version on every start: a list search would make the
        // restart path quadratic in the length of the history.
        _byVersion = migrations.ToDictionary(m => m.Version);
    }

    private readonly Dictionary<long, KnownMigration> _byVersion;

    public Assembly Assembly { get; }

    public IReadOnlyList<KnownMigration> Migrations { get; }

    public long Head => Migrations.Count == 0 ? 0 : Migrations[^1].Version;

    public static MigrationCatalog FromAssembly(Assembly assembly)
    {
        var migrations = assembly.GetExportedTypes()
            .Where(t => !t.IsAbstract && typeof(IMigration).IsAssignableFrom(t))
            .Select(t => (Type: t, Attribute: t.GetCustomAttribute<MigrationAttribute>()))
            .Where(x => x.Attribute is not null)
            .Select(x => (x.Type, x.Attribute, Timeouts: x.Type.GetCustomAttribute<StepTimeoutsAttribute>()))
            .Select(x => new KnownMigration(
                x.Attribute!.Version,
                x.Attribute.Description ?? x.Type.Name,
                x.Attribute.TransactionBehavior != TransactionBehavior.None,
                x.Type,
                Override(x.Timeouts?.LockTimeoutSeconds),
                Override(x.Timeouts?.StatementTimeoutSeconds)))
            .OrderBy(m => m.Version)
            .ToList();
        return new MigrationCatalog(assembly, migrations);
    }

    /// <summary>A [StepTimeouts] property: null when unset; a negative value other than Unset is a mistake of the migration's author.</summary>
    private static int? Override(int? seconds) => seconds switch
    {
        null or StepTimeoutsAttribute.Unset => null,
        >= 0 => seconds,
        _ => throw new InvalidOperationException($"[StepTimeouts] takes 0 (off) or more seconds, not {seconds}"),
    };

    public KnownMigration? Find(long version) => _byVersion.GetValueOrDefault(version);

    public bool Knows(long version) => _byVersion.ContainsKey(version);
}
