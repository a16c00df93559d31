using System.Globalization;
using TimeTrack.Migrations.Runner.Output;

namespace TimeTrack.Migrations.Runner.Running;

/// <summary>
/// The target grammar, once: <c>head</c> (any case; also an empty or unset setting) or a version
/// number, 0 meaning before the first migration. init's --to, MIGRATE_TARGET_VERSION, and the
/// NativeAOT front read it here; up's and rollback's --to take a number only.
/// </summary>
public static class TargetVersion
{
    public const string Head = "head";

    /// <summary>The version, or null for head; anything else is refused (exit 2), naming <paramref name="source"/>.</summary>
    public static long? Parse(string? text, string source = "--to")
    {
        if (string.IsNullOrWhiteSpace(text) || text.Trim().Equals(Head, StringComparison.OrdinalIgnoreCase))
        {
            return null;
        }

        return long.TryParse(text.Trim(), NumberStyles.None, CultureInfo.InvariantCulture, out var version)
            ? version
            : throw UserError.Invalid($"{source} '{text}' is not a version number (or '{Head}')");
    }

    public static bool IsHead(string? text) =>
        string.IsNullOrWhiteSpace(text) || text.Trim().Equals(Head, StringComparison.OrdinalIgnoreCase);

    /// <summary>Whether reaching <paramref name="target"/> from <paramref name="current"/> is a rollback (head never is).</summary>
    public static bool IsBelow(long? target, long current) => target is { } t && t < current;
}
