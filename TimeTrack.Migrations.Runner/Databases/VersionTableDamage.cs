using System.Data.Common;
using System.Globalization;
using System.Text;
using TimeTrack.Migrations.Runner.Output;

namespace TimeTrack.Migrations.Runner.Databases;

/// <summary>
/// A version table changed by hand (a dropped column or unique index, a NULL or repeated version):
/// found while reading it, before anything is written, and refused with exit 5 naming the row or
/// column and the repair. Every command reads the table through <see cref="VersionTable.ReadWithLayoutAsync"/>,
/// so this is the one place that decides what "damaged" is; <see cref="VersionTableRepair"/> undoes it.
/// </summary>
public static class VersionTableDamage
{
    public const string Docs = "docs/damaged-state.md";

    private const string Repair = "run 'timetrack-migrate stamp --repair'";

    // Columns read as whole numbers and as timestamps; the rest are text.
    private static readonly HashSet<string> Numbers = new(["Version", "DurationMs", "DownInTransaction"], StringComparer.OrdinalIgnoreCase);

    /// <summary>Version, AppliedOn and Description are FluentMigrator's: every runner reads and writes them.</summary>
    public static void RefuseMissingColumns(IReadOnlyList<string> missing)
    {
        if (missing.Count == 0)
        {
            return;
        }

        throw missing.Contains("Version", StringComparer.OrdinalIgnoreCase)
            ? Damaged("it has no \"Version\" column", "restore the version table from a backup, or recreate it and stamp the version the schema is at")
            : Damaged($"it has no {string.Join(" and no ", missing.Select(c => $"\"{c}\" column"))}", $"{Repair} (adds it back, empty for the rows there are)");
    }

    /// <summary>One row, built by <paramref name="read"/> from its version; a NULL version or a value of the wrong type is damage.</summary>
    public static AppliedVersion ReadRow(DbDataReader reader, IReadOnlyDictionary<string, int> ordinals, Func<long, AppliedVersion> read)
    {
        var v = ordinals["Version"];
        if (reader.IsDBNull(v))
        {
            throw Damaged($"a row has no version (NULL; its description: {Shown(reader, ordinals, "Description")})",
                $"{Repair} (deletes the rows without a version)");
        }

        // SQLite stores any value in any column, and reads text as 0 where a number is asked for.
        if (reader.GetValue(v) is not (long or int or short))
        {
            throw Damaged($"a row's version is not a whole number ({Shown(reader, ordinals, "Version")})", "correct or delete that row by hand");
        }

        var version = reader.GetInt64(v);
        try
        {
            return read(version);
        }
        catch (Exception e) when (e is InvalidCastException or FormatException or OverflowException)
        {
            var column = ordinals.Keys.FirstOrDefault(c => !Readable(reader, ordinals[c], c)) ?? "?";
            throw Damaged($"the row of version {version} holds a value of the wrong type in \"{column}\" ({Shown(reader, ordinals, column)})",
                "correct or delete that value by hand", e);
        }
    }

    /// <summary>A version recorded twice: possible only where the unique index "UC_Version" was dropped.</summary>
    public static void RefuseDuplicates(IReadOnlyList<AppliedVersion> rows)
    {
        var repeated = rows.GroupBy(r => r.Version).Where(g => g.Count() > 1).Select(g => $"{g.Key} ({g.Count()} rows)").ToList();
        if (repeated.Count > 0)
        {
            throw Damaged($"version {string.Join(", ", repeated)} is recorded more than once (its unique index \"UC_Version\" is missing)",
                $"{Repair} (keeps the earliest row of each version and adds the unique index back)");
        }
    }

    private static UserError Damaged(string what, string how, Exception? inner = null) =>
        new(ExitCode.Refused, $"the version table \"{VersionTable.Name}\" is damaged: {what}; nothing was written. To repair it, {how} (see {Docs})", inner);

    private static bool Readable(DbDataReader reader, int ordinal, string column)
    {
        try
        {
            _ = reader.IsDBNull(ordinal) ? null
                : Numbers.Contains(column) ? reader.GetInt64(ordinal)
                : column.Equals("AppliedOn", StringComparison.OrdinalIgnoreCase) ? reader.GetDateTime(ordinal)
                : (object)reader.GetString(ordinal);
            return true;
        }
        catch (Exception e) when (e is InvalidCastException or FormatException or OverflowException)
        {
            return false;
        }
    }

    /// <summary>A value as the message shows it: short, and no control character (it was typed by hand, perhaps by anyone).</summary>
    private static string Shown(DbDataReader reader, IReadOnlyDictionary<string, int> ordinals, string column)
    {
        if (!ordinals.TryGetValue(column, out var i))
        {
            return "none";
        }

        if (reader.IsDBNull(i))
        {
            return "NULL";
        }

        var text = Convert.ToString(reader.GetValue(i), CultureInfo.InvariantCulture) ?? "";
        var shown = new StringBuilder("'");
        foreach (var c in text.Length > 60 ? text[..60] : text)
        {
            _ = char.IsControl(c) ? shown.Append(CultureInfo.InvariantCulture, $"\\u{(int)c:x4}") : shown.Append(c);
        }

        return shown.Append(text.Length > 60 ? "…'" : "'").ToString();
    }
}
