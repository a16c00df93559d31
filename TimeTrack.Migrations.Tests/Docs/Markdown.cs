using System.Text;
using System.Text.RegularExpressions;

namespace TimeTrack.Migrations.Tests.Docs;

/// <summary>
/// What the docs tests read of a markdown file: its tables, its relative links and its heading
/// anchors (as GitHub makes them), all outside fenced code blocks.
/// </summary>
public sealed partial class Markdown
{
    private Markdown(string path, IReadOnlyList<(int Number, string Text)> lines)
    {
        Path = path;
        Lines = lines;
    }

    /// <summary>The file's path relative to the repository root, with '/' (for messages).</summary>
    public string Path { get; }

    /// <summary>The lines outside fenced code blocks, numbered from 1 as in the file.</summary>
    public IReadOnlyList<(int Number, string Text)> Lines { get; }

    public static Markdown Read(string root, string relativePath)
    {
        var lines = new List<(int, string)>();
        var fenced = false;
        var number = 0;
        foreach (var line in File.ReadAllLines(System.IO.Path.Combine(root, relativePath)))
        {
            number++;
            if (line.TrimStart().StartsWith("```", StringComparison.Ordinal))
            {
                fenced = !fenced;
                continue;
            }

            if (!fenced)
            {
                lines.Add((number, line));
            }
        }

        return new Markdown(relativePath.Replace('\\', '/'), lines);
    }

    /// <summary>Every table: its header cells and its rows' cells (with their line numbers).</summary>
    public IEnumerable<Table> Tables()
    {
        List<(int Number, string[] Cells)>? rows = null;
        foreach (var (number, text) in Lines.Append((0, "")))
        {
            if (text.TrimStart().StartsWith('|'))
            {
                (rows ??= []).Add((number, Cells(text)));
                continue;
            }

            // A table is a header, a delimiter row and its rows.
            if (rows is { Count: >= 2 })
            {
                yield return new Table(this, rows[0].Cells, rows.Skip(2).ToList());
            }

            rows = null;
        }
    }

    /// <summary>The tables whose header has a cell equal to <paramref name="column"/>.</summary>
    public IReadOnlyList<Table> TablesWithColumn(string column) =>
        Tables().Where(t => t.Column(column) >= 0).ToList();

    /// <summary>Inline links and images: target as written, with its line number.</summary>
    public IEnumerable<(int Line, string Target)> Links() =>
        from line in Lines
        from Match m in LinkPattern().Matches(WithoutCodeSpans(line.Text))
        select (line.Number, m.Groups["target"].Value.Trim());

    /// <summary>The anchors a link can name: each heading's GitHub slug and every explicit id.</summary>
    public IReadOnlySet<string> Anchors()
    {
        var anchors = new HashSet<string>(StringComparer.Ordinal);
        foreach (var (_, text) in Lines)
        {
            foreach (Match id in ExplicitId().Matches(text))
            {
                anchors.Add(id.Groups[1].Value);
            }

            var heading = HeadingPattern().Match(text);
            if (heading.Success)
            {
                var slug = Slug(heading.Groups[1].Value);
                // GitHub numbers a repeated heading's slug: x, x-1, x-2.
                var unique = slug;
                for (var n = 1; !anchors.Add(unique); n++)
                {
                    unique = $"{slug}-{n}";
                }
            }
        }

        return anchors;
    }

    /// <summary>GitHub's heading slug: lower case, punctuation dropped, spaces as hyphens.</summary>
    public static string Slug(string heading)
    {
        var text = LinkPattern().Replace(heading.Trim(), m => m.Groups["text"].Value);
        var slug = new StringBuilder();
        foreach (var c in text.ToLowerInvariant())
        {
            if (char.IsLetterOrDigit(c) || c is '-' or '_')
            {
                slug.Append(c);
            }
            else if (c == ' ')
            {
                slug.Append('-');
            }
        }

        return slug.ToString();
    }

    /// <summary>The contents of the `code spans` in a cell or line.</summary>
    public static IEnumerable<string> CodeSpans(string text) =>
        CodeSpanPattern().Matches(text).Select(m => m.Groups[1].Value.Replace("\\|", "|", StringComparison.Ordinal));

    private static string WithoutCodeSpans(string text) => CodeSpanPattern().Replace(text, "");

    // Cells split at '|' not escaped as '\|' (which a table cell needs inside code).
    private static string[] Cells(string row)
    {
        var trimmed = row.Trim();
        trimmed = trimmed.Substring(1, trimmed.EndsWith('|') && !trimmed.EndsWith("\\|", StringComparison.Ordinal) ? trimmed.Length - 2 : trimmed.Length - 1);
        return CellSeparator().Split(trimmed).Select(c => c.Trim()).ToArray();
    }

    [GeneratedRegex(@"(?<!\\)\|")]
    private static partial Regex CellSeparator();

    [GeneratedRegex(@"!?\[(?<text>[^\]]*)\]\((?<target>[^)\s]*)(?:\s+""[^""]*"")?\)")]
    private static partial Regex LinkPattern();

    [GeneratedRegex(@"^#{1,6}\s+(.+?)\s*#*\s*$")]
    private static partial Regex HeadingPattern();

    [GeneratedRegex(@"<a\s+(?:id|name)=""([^""]+)""")]
    private static partial Regex ExplicitId();

    [GeneratedRegex(@"`([^`]+)`")]
    private static partial Regex CodeSpanPattern();

    public sealed record Table(Markdown File, string[] Header, IReadOnlyList<(int Line, string[] Cells)> Rows)
    {
        public int Column(string name) => Array.FindIndex(Header, h => string.Equals(h, name, StringComparison.OrdinalIgnoreCase));

        /// <summary>Where a row is, for a failure message: "README.md:97".</summary>
        public string Where(int line) => $"{File.Path}:{line}";
    }
}
