namespace TimeTrack.Migrations.Runner.Databases;

/// <summary>The kinds of column the version table needs (each provider names its SQL type).</summary>
public enum VersionColumnType
{
    BigInteger,
    Timestamp,
    Text1024,
    Text,
}

/// <summary>
/// The version table's name and columns, once: the runner creates, upgrades and reads it
/// (VersionTable), the NativeAOT front reads it to decide a no-op start.
/// </summary>
public static class VersionTableLayout
{
    public const string Name = "VersionInfo";

    public sealed record Column(string Name, VersionColumnType Type, bool Nullable = true);

    /// <summary>FluentMigrator's columns: every version table has them.</summary>
    public static readonly IReadOnlyList<Column> FluentMigratorColumns =
    [
        new("Version", VersionColumnType.BigInteger, Nullable: false),
        new("AppliedOn", VersionColumnType.Timestamp),
        new("Description", VersionColumnType.Text1024),
    ];

    /// <summary>The recorded history (all nullable: rows of older runners have none of it).</summary>
    public static readonly IReadOnlyList<Column> RecordColumns =
    [
        new("Checksum", VersionColumnType.Text),
        new("RunnerVersion", VersionColumnType.Text),
        new("ImageRevision", VersionColumnType.Text),
        new("AppliedByHost", VersionColumnType.Text),
        new("AppliedByUser", VersionColumnType.Text),
        new("DurationMs", VersionColumnType.BigInteger),
        new("DownSql", VersionColumnType.Text),
        new("DownInTransaction", VersionColumnType.BigInteger),
        new("DownNotCaptured", VersionColumnType.Text),
    ];

    /// <summary>Every column of a complete table, in order (a table lacking one is completed by the runner).</summary>
    public static readonly IReadOnlyList<Column> Columns = [.. FluentMigratorColumns, .. RecordColumns];

    /// <summary>The table's name as each provider writes it in SQL (PostgreSQL: in the public schema).</summary>
    public static string QualifiedName(DatabaseKind kind) =>
        kind == DatabaseKind.Postgres ? $"\"public\".\"{Name}\"" : $"\"{Name}\"";
}
