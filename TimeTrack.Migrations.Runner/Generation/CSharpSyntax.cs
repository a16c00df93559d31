using System.Globalization;
using System.Text;

namespace TimeTrack.Migrations.Runner.Generation;

/// <summary>
/// Every piece of text that goes into generated C# passes through here, so a name or value
/// containing a quote, a backslash or a newline can never break the code or smuggle SQL into it.
/// SQL itself is never written into generated code: migrations call helpers that quote at run time.
/// </summary>
public static class CSharpSyntax
{
    /// <summary>A C# string literal: "users", "O\"Brien".</summary>
    public static string Literal(string value)
    {
        var text = new StringBuilder("\"");
        foreach (var ch in value)
        {
            text.Append(ch switch
            {
                '"' => "\\\"",
                '\\' => "\\\\",
                '\n' => "\\n",
                '\r' => "\\r",
                '\t' => "\\t",
                '\0' => "\\0",
                _ when char.IsControl(ch) => $"\\u{(int)ch:x4}",
                _ => ch.ToString(),
            });
        }

        return text.Append('"').ToString();
    }

    /// <summary>A collection expression of string literals: ["A", "B"].</summary>
    public static string List(IEnumerable<string> values) => "[" + string.Join(", ", values.Select(Literal)) + "]";

    /// <summary>Literals separated by commas, for params arguments: "a", "b".</summary>
    public static string Arguments(IEnumerable<string> values) => string.Join(", ", values.Select(Literal));

    /// <summary>A number as C# source: 8, 9.5m (decimal), -3.</summary>
    public static string Number(string canonical) =>
        decimal.TryParse(canonical, NumberStyles.Float, CultureInfo.InvariantCulture, out var value)
            ? value == decimal.Truncate(value) && Math.Abs(value) <= int.MaxValue
                ? value.ToString("0", CultureInfo.InvariantCulture)
                : value.ToString(CultureInfo.InvariantCulture) + "m"
            : throw new ArgumentException($"not a number: {canonical}");

    /// <summary>
    /// The class name of a migration: M{version}_{PascalCase of the message}, letters and digits
    /// only ("Add user's prefs!" → M202611251200_AddUsersPrefs).
    /// </summary>
    public static string MigrationClassName(long version, string message)
    {
        var words = new StringBuilder();
        var startOfWord = true;
        foreach (var ch in message.Normalize(NormalizationForm.FormKC))
        {
            if (char.IsAsciiLetterOrDigit(ch))
            {
                words.Append(startOfWord ? char.ToUpperInvariant(ch) : ch);
                startOfWord = false;
            }
            else if (ch != '\'')
            {
                startOfWord = true;
            }
        }

        var name = words.Length == 0 ? "Migration" : words.ToString();
        return $"M{version.ToString(CultureInfo.InvariantCulture)}_{name}";
    }
}
