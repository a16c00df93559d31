namespace TimeTrack.Migrations.Migrations;

/// <summary>
/// Allows one finding of <c>timetrack-migrate lint</c> on this migration: the rule's id (as the
/// lint prints it, e.g. <c>index-not-concurrent</c> or <c>squawk/ban-drop-column</c>) and why it is
/// safe here. The reason is printed with the finding, which then no longer fails the lint.
/// Repeat the attribute for several rules.
/// </summary>
[AttributeUsage(AttributeTargets.Class, AllowMultiple = true, Inherited = false)]
public sealed class AllowLintAttribute(string ruleId, string reason) : Attribute
{
    public string RuleId { get; } = ruleId;

    public string Reason { get; } = reason;
}
