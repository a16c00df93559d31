namespace TimeTrack.Migrations.Runner.Lint;

/// <summary>One rule of the lint: its id (what <c>[AllowLint]</c> names), what goes wrong, and the safe way.</summary>
public sealed record LintRule(string Id, string Explanation, string SafeAlternative);

/// <summary>
/// The lint's own rules, in one table. Each is checked over a migration's FluentMigrator
/// expressions in <see cref="MigrationLinter"/>, with what SQL alone cannot tell: whether the table
/// was created by an earlier migration (or is new in this one, and empty) and what the previous
/// release's schema has. Everything else squawk knows about the rendered SQL (<see cref="Squawk"/>).
/// </summary>
public static class LintRules
{
    public static readonly LintRule IndexNotConcurrent = new(
        "index-not-concurrent",
        "CREATE INDEX without CONCURRENTLY on an existing table blocks its writes until the index is built",
        "a migration with TransactionBehavior.None that creates the index with CreateIndexConcurrently(...) (CREATE INDEX CONCURRENTLY)");

    public static readonly LintRule NotNullWithoutDefault = new(
        "not-null-without-default",
        "a NOT NULL column without a default added to an existing table fails on its rows, and the running release's INSERTs omit it",
        "add it nullable (or with a constant default), backfill, then SET NOT NULL behind a validated CHECK in a later migration");

    public static readonly LintRule VolatileDefault = new(
        "volatile-default",
        "a column added with a volatile default (serial, nextval, random, gen_random_uuid, clock_timestamp) rewrites the whole table under ACCESS EXCLUSIVE",
        "add it without the default (or with a constant one), then set the default and backfill in batches");

    public static readonly LintRule TypeChangeRewrites = new(
        "type-change-rewrites",
        "this column type change rewrites the table under ACCESS EXCLUSIVE (only a longer varchar, varchar to text or a wider numeric are free)",
        "add a column of the new type, write both in the application, backfill in batches, switch reads, drop the old column later");

    public static readonly LintRule SetNotNull = new(
        "set-not-null",
        "SET NOT NULL on an existing column scans the whole table under ACCESS EXCLUSIVE",
        "ADD CONSTRAINT ... CHECK (col IS NOT NULL) NOT VALID, VALIDATE CONSTRAINT, then SET NOT NULL (PostgreSQL 12+ uses the check and skips the scan)");

    public static readonly LintRule ConstraintNotValid = new(
        "constraint-not-valid",
        "a foreign key or CHECK added to an existing table validates every row while holding a lock that blocks writes",
        "AddForeignKeyNotValid(...) (or ADD CONSTRAINT ... NOT VALID), then VALIDATE CONSTRAINT, which takes a weaker lock");

    public static readonly LintRule DropStillUsed = new(
        "drop-still-used",
        "a column or table the previous release's schema has is dropped: the release still running during the rolling deploy fails on it",
        "expand/contract: first ship a release that no longer uses it, drop it in a later migration (allow this finding there, naming that release)");

    public static readonly LintRule RenameStillUsed = new(
        "rename-still-used",
        "a column or table the previous release's schema has is renamed: the release still running during the rolling deploy fails on the old name",
        "expand/contract: add the new column (or a view for a table), write both, backfill, switch reads, drop the old one in a later release");

    public static readonly LintRule EnumValueRemoved = new(
        "enum-value-removed",
        "an enum value is removed or renamed: the previous release still writes it, and the type's columns are rewritten",
        "keep the value (stop writing it in the application); only append values with AddEnumValues(...)");

    /// <summary>Every rule of our own, in the order the README lists them.</summary>
    public static readonly IReadOnlyList<LintRule> All =
    [
        IndexNotConcurrent, NotNullWithoutDefault, VolatileDefault, TypeChangeRewrites, SetNotNull,
        ConstraintNotValid, DropStillUsed, RenameStillUsed, EnumValueRemoved,
    ];
}
