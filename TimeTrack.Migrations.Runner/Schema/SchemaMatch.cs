namespace TimeTrack.Migrations.Runner.Schema;

/// <summary>
/// How a live database compares with the schema it is expected to have (adoption, drift check).
/// Objects the application never looks at (an extra table, an extra index, a free-standing
/// sequence) are tolerated and listed as warnings; anything else — a missing table or column,
/// another type, length, nullability or default, a column that lost its serial default or whose
/// sequence changed, other keys or key names, other index keys or sort order, other enum values —
/// is blocking. (A removed default breaks inserts as surely as a missing column; what the expected side cannot tell, such as names against SQLite, is not
/// compared at all: see <see cref="SchemaCapabilities"/>.)
/// </summary>
public sealed record SchemaMatch(SchemaDiff Diff)
{
    /// <summary>Compares <paramref name="live"/> with <paramref name="expected"/>; the version table is not part of either.</summary>
    public static SchemaMatch Of(DatabaseSchema live, DatabaseSchema expected, string versionTable) =>
        new(SchemaComparer.Compare(live.Without(versionTable), expected.Without(versionTable)));

    public IReadOnlyList<SchemaChange> Warnings => Diff.Changes.Where(IsTolerated).ToList();

    public IReadOnlyList<SchemaChange> Blocking => Diff.Changes.Where(c => !IsTolerated(c)).ToList();

    public bool Matches => Blocking.Count == 0;

    /// <summary>The blocking differences, one line each (<see cref="SchemaChange.DescribeAsDrift"/>).</summary>
    public string RenderBlocking(string indent = "  ") => string.Join(Environment.NewLine, Blocking.Select(c => indent + c.DescribeAsDrift()));

    public string RenderWarnings(string indent = "  ") => string.Join(Environment.NewLine, Warnings.Select(c => indent + c.DescribeAsDrift()));

    // Only whole objects the application never looks at are tolerated. A sequence behind a column
    // is part of that column (its default, its OWNED BY, its settings) and never lands here.
    private static bool IsTolerated(SchemaChange change) => change is DropTable or DropIndex or DropSequence;
}
