namespace TimeTrack.Migrations.Runner.Lint;

/// <summary>
/// One finding: which rule, on which migration, about what. <paramref name="AllowedBecause"/> is
/// the reason of the migration's <c>[AllowLint]</c> for this rule; an allowed finding is printed
/// and does not fail the lint.
/// </summary>
/// <param name="File">The migration's source file (from the assembly's PDB), relative to the repository when under it; null without a PDB.</param>
/// <param name="Line">The line of the first statement of its Up (1-based); 0 when the file is not known.</param>
public sealed record LintFinding(
    string RuleId, string Explanation, string SafeAlternative, long Version, string MigrationClass, string Subject,
    string? AllowedBecause = null, string? File = null, int Line = 0)
{
    public bool Allowed => AllowedBecause is not null;
}
