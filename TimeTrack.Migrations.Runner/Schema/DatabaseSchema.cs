namespace TimeTrack.Migrations.Runner.Schema;

// The neutral shape every schema source is read into: the model (ModelReader), a live
// PostgreSQL or SQLite database (the catalog readers in Databases/), or the history (the
// migrations applied to a scratch database). Readers normalise dialect spellings so that
// SchemaComparer only ever sees real differences.

public enum TypeKind
{
    Integer,
    BigInt,
    SmallInt,
    Boolean,
    Varchar,
    Text,
    Numeric,
    Timestamp,
    TimestampTz,
    Date,
    Enum,
    /// <summary>A type this tool does not model; <see cref="ColumnType.Name"/> holds its spelling.</summary>
    Other,
}

public sealed record ColumnType(TypeKind Kind, int? Length = null, int? Precision = null, int? Scale = null, string? Name = null)
{
    public static ColumnType Varchar(int? length) => new(TypeKind.Varchar, Length: length);
    public static ColumnType Numeric(int? precision, int? scale) => new(TypeKind.Numeric, Precision: precision, Scale: scale);
    public static ColumnType EnumOf(string name) => new(TypeKind.Enum, Name: name);

    public override string ToString() => Kind switch
    {
        TypeKind.Varchar => Length is { } n ? $"varchar({n})" : "varchar",
        TypeKind.Numeric => Precision is { } p ? $"numeric({p},{Scale ?? 0})" : "numeric",
        TypeKind.Enum => $"enum {Name}",
        TypeKind.Other => Name ?? "unknown",
        TypeKind.TimestampTz => "timestamptz",
        _ => Kind.ToString().ToLowerInvariant(),
    };
}

/// <param name="Default">Normalised by <see cref="DefaultValues"/>: CURRENT_TIMESTAMP, true/false, a canonical number, or a quoted string.</param>
/// <param name="Identity">Database-generated id (serial or identity on PostgreSQL).</param>
/// <param name="Generator">
/// How PostgreSQL generates an <paramref name="Identity"/> column: <c>nextval('teams_id_seq')</c>
/// for serial, <c>identity by default</c> or <c>identity always</c>. Null when the source cannot
/// tell (the model, SQLite); compared only when both sides can.
/// </param>
public sealed record ColumnSchema(string Name, ColumnType Type, bool Nullable, string? Default = null, bool Identity = false, string? Generator = null);

public sealed record PrimaryKeySchema(string Name, IReadOnlyList<string> Columns);

public sealed record UniqueConstraintSchema(string Name, IReadOnlyList<string> Columns);

public enum ReferentialAction
{
    NoAction,
    Restrict,
    Cascade,
    SetNull,
    SetDefault,
}

public sealed record ForeignKeySchema(
    string Name,
    IReadOnlyList<string> Columns,
    string ReferencedTable,
    IReadOnlyList<string> ReferencedColumns,
    ReferentialAction OnDelete);

/// <param name="IsValid">False for a PostgreSQL index left INVALID by an interrupted CREATE INDEX CONCURRENTLY.</param>
/// <param name="Method">The access method (btree, hash, gin...); null when the source cannot tell (the model, SQLite).</param>
/// <param name="Predicate">A partial index's WHERE condition, as PostgreSQL prints it; null for none, or when <paramref name="Method"/> is null.</param>
public sealed record IndexSchema(
    string Name, IReadOnlyList<string> Columns, bool Unique = false, bool IsValid = true, string? Method = null, string? Predicate = null)
{
    /// <summary>" using hash where (x > 0)"; empty for a plain btree index.</summary>
    public string Shape => (Method is null or "btree" ? "" : $" using {Method}") + (Predicate is null ? "" : $" where {Predicate}");
}

/// <param name="Expression">As PostgreSQL prints it: <c>CHECK ((max_users &gt; 0))</c>.</param>
public sealed record CheckConstraintSchema(string Name, string Expression);

/// <param name="Checks">
/// CHECK constraints, where the source reads them as such (PostgreSQL); null when it cannot (the
/// model, and SQLite, where the only CHECKs are the enum columns' and read as enums). Compared only
/// when both sides have them.
/// </param>
public sealed record TableSchema(
    string Name,
    IReadOnlyList<ColumnSchema> Columns,
    PrimaryKeySchema? PrimaryKey,
    IReadOnlyList<ForeignKeySchema> ForeignKeys,
    IReadOnlyList<UniqueConstraintSchema> UniqueConstraints,
    IReadOnlyList<IndexSchema> Indexes,
    IReadOnlyList<CheckConstraintSchema>? Checks = null)
{
    public ColumnSchema? Column(string name) => Columns.FirstOrDefault(c => c.Name == name);
}

public sealed record EnumSchema(string Name, IReadOnlyList<string> Values);

/// <param name="Tables">Ordered by name.</param>
/// <param name="Enums">Ordered by name. On SQLite, read back from the CHECK constraints named after them.</param>
/// <param name="Sequences">Sequences not owned by a serial column (PostgreSQL only).</param>
/// <param name="Capabilities">What the source can tell; the comparer only compares what both can.</param>
public sealed record DatabaseSchema(
    IReadOnlyList<TableSchema> Tables,
    IReadOnlyList<EnumSchema> Enums,
    IReadOnlyList<string> Sequences,
    SchemaCapabilities Capabilities)
{
    public TableSchema? Table(string name) => Tables.FirstOrDefault(t => t.Name == name);

    public bool IsEmpty => Tables.Count == 0 && Enums.Count == 0 && Sequences.Count == 0;

    /// <summary>The same schema without the named tables (the version table, say).</summary>
    public DatabaseSchema Without(params string[] tableNames) =>
        this with { Tables = Tables.Where(t => !tableNames.Contains(t.Name, StringComparer.OrdinalIgnoreCase)).ToList() };
}

/// <param name="ConstraintNames">SQLite keeps no names for primary keys, foreign keys and inline unique constraints.</param>
/// <param name="Identity">SQLite cannot tell an auto-numbered rowid from any other INTEGER primary key.</param>
public sealed record SchemaCapabilities(bool ConstraintNames, bool Identity)
{
    public static readonly SchemaCapabilities Full = new(true, true);
    public static readonly SchemaCapabilities Sqlite = new(false, false);
}
