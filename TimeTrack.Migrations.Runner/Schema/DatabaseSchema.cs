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
/// tell (the model, SQLite); compared only when both sides can (<see cref="SchemaCapabilities.Sequences"/>).
/// </param>
/// <param name="Sequence">
/// The sequence a serial default or an identity draws from; null for other columns, and when the
/// source cannot tell (the model, SQLite). Compared under the same rule as <paramref name="Generator"/>.
/// </param>
public sealed record ColumnSchema(
    string Name, ColumnType Type, bool Nullable, string? Default = null, bool Identity = false, string? Generator = null, SequenceSettings? Sequence = null)
{
    /// <summary>The default as the column is written: the constant or expression, or a serial's <c>nextval(...)</c>.</summary>
    public string? EffectiveDefault => Default ?? (Generator is { } g && g.StartsWith("nextval(", StringComparison.Ordinal) ? g : null);

    /// <summary><c>identity always</c> or <c>identity by default</c>; null for any other column, or when the source cannot tell.</summary>
    public string? IdentityKind => Generator is { } g && g.StartsWith("identity", StringComparison.Ordinal) ? g : null;
}

/// <summary>
/// The settings of the sequence behind a serial or identity column, as pg_sequence keeps them:
/// what decides which numbers come next and when it runs out. The cache size is left out: it
/// changes the gaps after a restart, not which values are handed out.
/// </summary>
/// <param name="Name">The sequence's name (a serial's is also in its <c>nextval</c> default).</param>
/// <param name="DataType">integer, bigint or smallint: the range <paramref name="Max"/> cannot exceed.</param>
/// <param name="OwnedByColumn">
/// OWNED BY the column (serial) or internal to its identity: dropped with it, found by
/// pg_get_serial_sequence, and what dumps and tools expect. A sequence that lost its owner survives
/// the column, and a restore re-creates it without the link.
/// </param>
public sealed record SequenceSettings(string Name, string DataType, long Start, long Increment, long Min, long Max, bool Cycle, bool OwnedByColumn);

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

/// <summary>
/// One key of an index: a column, or an expression as the database prints it (PostgreSQL's
/// pg_get_indexdef, SQLite's CREATE INDEX text), with its sort order. A plain column converts
/// implicitly, so <c>new IndexSchema("ix", ["user_id"])</c> reads as it always did.
/// </summary>
/// <param name="NullsFirst">Null for the direction's default (NULLS LAST ascending, NULLS FIRST descending), as PostgreSQL prints it.</param>
public sealed record IndexKey(string Text, bool Expression = false, bool Descending = false, bool? NullsFirst = null)
{
    public static implicit operator IndexKey(string column) => new(column);

    /// <summary>As PostgreSQL writes it in CREATE INDEX: <c>arrival_time DESC</c>, <c>lower((email)::text)</c>.</summary>
    public override string ToString() =>
        Text + (Descending ? " DESC" : "") + NullsFirst switch { true => " NULLS FIRST", false => " NULLS LAST", null => "" };
}

/// <param name="Keys">In index order; the model's are plain ascending columns (it has no way to say otherwise).</param>
/// <param name="IsValid">False for a PostgreSQL index left INVALID by an interrupted CREATE INDEX CONCURRENTLY.</param>
/// <param name="Method">The access method (btree, hash, gin...); null when the source cannot tell (the model, SQLite).</param>
/// <param name="Predicate">A partial index's WHERE condition, as PostgreSQL prints it; null for none, or when <paramref name="Method"/> is null.</param>
public sealed record IndexSchema(
    string Name, IReadOnlyList<IndexKey> Keys, bool Unique = false, bool IsValid = true, string? Method = null, string? Predicate = null)
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
/// <param name="Sequences">
/// How a generated column is generated — its <see cref="ColumnSchema.Generator"/> and
/// <see cref="ColumnSchema.Sequence"/> — which only a PostgreSQL catalog tells; the model says
/// "identity" and no more.
/// </param>
public sealed record SchemaCapabilities(bool ConstraintNames, bool Identity, bool Sequences = false)
{
    /// <summary>The model: names and identity, not how the database generates it.</summary>
    public static readonly SchemaCapabilities Full = new(true, true);
    public static readonly SchemaCapabilities Postgres = new(true, true, Sequences: true);
    public static readonly SchemaCapabilities Sqlite = new(false, false);
}
