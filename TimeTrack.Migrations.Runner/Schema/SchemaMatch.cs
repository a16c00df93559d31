namespace TimeTrack.Migrations.Runner.Schema;

/// <summary>
/// How a live database compares with the schema it is expected to have (adoption, drift check).
/// Objects the application never looks at (an extra table, an extra index, a sequence) and
/// differences that change no data shape (a column default) are tolerated and listed as warnings;
/// anything else — a missing table or column, another type, length or nullability, other keys,
/// other enum values — is blocking.
/// </summary>
public sealed record SchemaMatch(SchemaDiff Diff)
{
    /// <summary>Compares <paramref name="live"/> with <paramref name="expected"/>; the version table is not part of either.</summary>
    public static SchemaMatch Of(DatabaseSchema live, DatabaseSchema expected, string versionTable) =>
        new(SchemaComparer.Compare(live.Without(versionTable), expected.Without(versionTable)));

    public IReadOnlyList<SchemaChange> Warnings => Diff.Changes.Where(IsTolerated).ToList();

    public IReadOnlyList<SchemaChange> Blocking => Diff.Changes.Where(c => !IsTolerated(c)).ToList();

    public bool Matches => Blocking.Count == 0;

    /// <summary>The blocking differences, as "what the database has that it should not" lines.</summary>
    public string RenderBlocking(string indent = "  ") => string.Join(Environment.NewLine, Blocking.Select(c => indent + Explain(c)));

    public string RenderWarnings(string indent = "  ") => string.Join(Environment.NewLine, Warnings.Select(c => indent + Explain(c)));

    // The diff is written as the change that would turn the live database into the expected one;
    // people reading a refusal want to know what the database has or lacks.
    public static string Explain(SchemaChange change) => change switch
    {
        AddTable t => $"missing table {t.Table.Name}",
        DropTable t => $"extra table {t.Table.Name}",
        AddColumn c => $"missing column {c.Table}.{c.Column.Name} ({SchemaChange.Describe(c.Column)})",
        DropColumn c => $"extra column {c.Table}.{c.Column.Name} ({SchemaChange.Describe(c.Column)})",
        AlterColumn c => $"column {c.Table}.{c.New.Name} is {SchemaChange.Describe(c.Old)}, expected {SchemaChange.Describe(c.New)}",
        AddIndex i => $"missing index {i.Index.Name} on {i.Table}{SchemaChange.Columns(i.Index.Columns)}",
        DropIndex i => $"extra index {i.Index.Name} on {i.Table}{SchemaChange.Columns(i.Index.Columns)}{(i.Index.IsValid ? "" : " (INVALID)")}",
        AddEnum e => $"missing enum type {e.Enum.Name}",
        DropEnum e => $"extra enum type {e.Enum.Name}",
        AlterEnum e => $"enum {e.New.Name} has ({string.Join(", ", e.Old.Values)}), expected ({string.Join(", ", e.New.Values)})",
        AddPrimaryKey k => $"missing primary key on {k.Table}{SchemaChange.Columns(k.Key.Columns)}",
        DropPrimaryKey k => $"unexpected primary key on {k.Table}{SchemaChange.Columns(k.Key.Columns)}",
        AddForeignKey k => $"missing foreign key {k.Key.Name} {k.Table}{SchemaChange.Columns(k.Key.Columns)} -> {k.Key.ReferencedTable} (on delete {k.Key.OnDelete})",
        DropForeignKey k => $"unexpected foreign key {k.Key.Name} {k.Table}{SchemaChange.Columns(k.Key.Columns)} -> {k.Key.ReferencedTable} (on delete {k.Key.OnDelete})",
        AddUniqueConstraint u => $"missing unique constraint {u.Constraint.Name} on {u.Table}{SchemaChange.Columns(u.Constraint.Columns)}",
        DropUniqueConstraint u => $"unexpected unique constraint {u.Constraint.Name} on {u.Table}{SchemaChange.Columns(u.Constraint.Columns)}",
        AddSequence s => $"missing sequence {s.Name}",
        DropSequence s => $"extra sequence {s.Name}",
        _ => change.Describe(),
    };

    private static bool IsTolerated(SchemaChange change) => change switch
    {
        DropTable or DropIndex or DropSequence => true,
        AlterColumn c => c.Old with { Default = c.New.Default, Identity = c.New.Identity } == c.New,
        _ => false,
    };
}
