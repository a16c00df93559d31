using System.Reflection;
using System.Text;

namespace TimeTrack.Migrations.Runner.Running;

/// <summary>
/// The checksums of a migrations assembly's migrations, per provider, computed when the migrations
/// are written (<c>timetrack-migrate manifest</c>), committed beside them and embedded in the
/// assembly: the restart path validates the history against it without loading FluentMigrator.
/// A test asserts that it matches the code; a migrations assembly without one is validated by
/// rendering its migrations at start instead (slower).
/// </summary>
/// <remarks>
/// This half reads and writes the file and needs no FluentMigrator: the NativeAOT front
/// (TimeTrack.Migrations.FastStart) compiles it too. Computing it is in MigrationManifest.Compute.cs.
/// Like Atlas's atlas.sum, the file makes an edit to an applied migration visible in review. Plain
/// lines, not JSON: reading it is a split per line, no serializer to start on the restart path.
/// <c>Accepted</c> keeps checksums an earlier rendering gave for the same operations (a
/// FluentMigrator upgrade that spells the SQL differently): databases that recorded them still
/// validate.
/// </remarks>
public sealed partial record MigrationManifest(IReadOnlyList<ManifestEntry> Migrations)
{
    /// <summary>The embedded resource's name (LogicalName in the migrations project).</summary>
    public const string ResourceName = "timetrack-migrations.manifest";

    /// <summary>The file in the migrations project's folder.</summary>
    public const string FileName = "migrations.manifest";

    private const string Header = """
        # The checksums of the migrations as each database provider runs them: written by
        # 'timetrack-migrate manifest' after a migration is added, embedded in the build, checked by
        # the tests. A changed line means an applied migration was edited. One line per migration
        # and provider: version, provider, SHA-256 [accepted=earlier checksums still valid]  # description
        """;

    /// <summary>The column of a provider's checksums in the manifest ("postgres", "sqlite").</summary>
    public static string Key(Databases.DatabaseKind kind) => kind.ToString().ToLowerInvariant();

    public static MigrationManifest? Load(Assembly assembly)
    {
        using var stream = assembly.GetManifestResourceStream(ResourceName);
        if (stream is null)
        {
            return null;
        }

        using var reader = new StreamReader(stream);
        return Parse(reader.ReadToEnd());
    }

    public static MigrationManifest Parse(string text)
    {
        var entries = new Dictionary<long, ManifestEntry>();
        foreach (var raw in text.Split('\n'))
        {
            var hash = raw.IndexOf('#');
            var line = (hash < 0 ? raw : raw[..hash]).Trim();
            if (line.Length == 0)
            {
                continue;
            }

            var fields = line.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries);
            if (fields.Length < 3 || !long.TryParse(fields[0], System.Globalization.CultureInfo.InvariantCulture, out var version))
            {
                throw Output.UserError.Invalid($"the migrations manifest has a malformed line: '{raw.Trim()}' (write it anew with 'timetrack-migrate manifest')");
            }

            var entry = entries.TryGetValue(version, out var known) ? known
                : entries[version] = new ManifestEntry(version, hash < 0 ? "" : raw[(hash + 1)..].Trim(), new Dictionary<string, string>(), null);
            ((Dictionary<string, string>)entry.Checksums)[fields[1]] = fields[2];
            var accepted = fields.Skip(3).FirstOrDefault(f => f.StartsWith("accepted=", StringComparison.Ordinal));
            if (accepted is not null)
            {
                var map = entry.Accepted as Dictionary<string, IReadOnlyList<string>> ?? [];
                map[fields[1]] = accepted["accepted=".Length..].Split(',', StringSplitOptions.RemoveEmptyEntries);
                entries[version] = entry with { Accepted = map };
            }

            if (entry.Description.Length == 0 && hash >= 0)
            {
                entries[version] = entries[version] with { Description = raw[(hash + 1)..].Trim() };
            }
        }

        return new MigrationManifest(entries.Values.OrderBy(e => e.Version).ToList());
    }

    public string ToText()
    {
        var text = new StringBuilder(Header).Append('\n');
        foreach (var entry in Migrations)
        {
            var first = true;
            foreach (var (provider, checksum) in entry.Checksums.OrderBy(c => c.Key, StringComparer.Ordinal))
            {
                text.Append(System.Globalization.CultureInfo.InvariantCulture, $"{entry.Version} {provider,-8} {checksum}");
                if (entry.Accepted?.GetValueOrDefault(provider) is { Count: > 0 } accepted)
                {
                    text.Append(" accepted=").Append(string.Join(',', accepted));
                }

                text.Append(first ? $"  # {entry.Description}\n" : "\n");
                first = false;
            }
        }

        return text.ToString();
    }

    public ManifestEntry? Find(long version)
    {
        var index = _index is { } known && ReferenceEquals(known.Of, Migrations) ? known.ByVersion : Index();
        return index.GetValueOrDefault(version);
    }

    /// <summary>
    /// The entries by version, built at the first lookup (the no-op decision looks up every applied
    /// version: a list search made it quadratic). It remembers the list it indexes, so a copy made
    /// with <c>with</c> builds its own; it is left out of the record's equality.
    /// </summary>
    private (IReadOnlyList<ManifestEntry> Of, Dictionary<long, ManifestEntry> ByVersion)? _index;

    private Dictionary<long, ManifestEntry> Index()
    {
        var byVersion = new Dictionary<long, ManifestEntry>(Migrations.Count);
        foreach (var entry in Migrations)
        {
            byVersion.TryAdd(entry.Version, entry); // the first, as a search in order finds it
        }

        _index = (Migrations, byVersion);
        return byVersion;
    }

    public bool Equals(MigrationManifest? other) =>
        other is not null && EqualityComparer<IReadOnlyList<ManifestEntry>>.Default.Equals(Migrations, other.Migrations);

    public override int GetHashCode() => EqualityComparer<IReadOnlyList<ManifestEntry>>.Default.GetHashCode(Migrations);
}

/// <param name="Checksums">Per provider key ("postgres", "sqlite").</param>
/// <param name="Accepted">Earlier checksums of the same operations, still valid (per provider key).</param>
public sealed record ManifestEntry(
    long Version,
    string Description,
    IReadOnlyDictionary<string, string> Checksums,
    IReadOnlyDictionary<string, IReadOnlyList<string>>? Accepted)
{
    /// <summary>
    /// The checksum-acceptance rule: <paramref name="recorded"/> is this build's checksum on the
    /// provider (<paramref name="current"/> when the caller has it, else this entry's), or an earlier one still accepted.
    /// </summary>
    public bool Accepts(string providerKey, string recorded, string? current = null) =>
        recorded == (current ?? Checksums.GetValueOrDefault(providerKey))
        || (Accepted?.GetValueOrDefault(providerKey)?.Contains(recorded) ?? false);
}
