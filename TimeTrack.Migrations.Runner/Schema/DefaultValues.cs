using System.Globalization;
using System.Text.RegularExpressions;

namespace TimeTrack.Migrations.Runner.Schema;

/// <summary>
/// One spelling for each column default, whatever the source wrote: PostgreSQL's
/// <c>'ISO'::character varying</c> and <c>now()</c>, SQLite's <c>(0)</c> and
/// <c>(CURRENT_TIMESTAMP)</c>, and the model's CLR values all meet here.
/// </summary>
public static partial class DefaultValues
{
    public const string CurrentTimestamp = "CURRENT_TIMESTAMP";

    public static string? Normalize(string? raw, ColumnType type)
    {
        if (raw is null)
        {
            return null;
        }

        var text = raw.Trim();
        while (text.StartsWith('(') && text.EndsWith(')') && Balanced(text[1..^1]))
        {
            text = text[1..^1].Trim();
        }

        // PostgreSQL casts: 'x'::character varying, 'DONE'::public.taskstatus, 8::numeric
        text = TrailingCast().Replace(text, "");
        while (text.StartsWith('(') && text.EndsWith(')') && Balanced(text[1..^1]))
        {
            text = text[1..^1].Trim();
        }

        switch (text.ToLowerInvariant())
        {
            case "now()" or "current_timestamp" or "localtimestamp" or "transaction_timestamp()" or "current_timestamp()":
                return CurrentTimestamp;
            case "null":
                return null;
        }

        if (type.Kind == TypeKind.Boolean)
        {
            switch (text.Trim('\'').ToLowerInvariant())
            {
                case "1" or "true" or "t":
                    return "true";
                case "0" or "false" or "f":
                    return "false";
            }
        }

        if (decimal.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var number))
        {
            return Number(number);
        }

        return text;
    }

    /// <summary>The normalised spelling of a constant default given in C# (the model's [Default]).</summary>
    public static string FromClrValue(object value) => value switch
    {
        bool b => b ? "true" : "false",
        string s => Quote(s),
        Enum e => Quote(e.ToString()),
        IConvertible c when IsNumber(value) => Number(c.ToDecimal(CultureInfo.InvariantCulture)),
        _ => throw new ArgumentException($"unsupported default value {value} of type {value.GetType().Name}"),
    };

    public static string Quote(string s) => "'" + s.Replace("'", "''") + "'";

    /// <summary>The text inside a quoted default, or null when it is not a quoted string.</summary>
    public static string? Unquote(string? normalized) =>
        normalized is { Length: >= 2 } s && s[0] == '\'' && s[^1] == '\'' ? s[1..^1].Replace("''", "'") : null;

    private static bool IsNumber(object value) => value is int or long or short or byte or decimal or double or float;

    private static string Number(decimal value) => (value / 1.000000000000000000000000000000000m).ToString(CultureInfo.InvariantCulture);

    private static bool Balanced(string inner)
    {
        var depth = 0;
        var quoted = false;
        foreach (var ch in inner)
        {
            if (ch == '\'')
            {
                quoted = !quoted;
            }
            else if (!quoted && ch == '(')
            {
                depth++;
            }
            else if (!quoted && ch == ')' && --depth < 0)
            {
                return false;
            }
        }

        return depth == 0;
    }

    [GeneratedRegex(@"(::[A-Za-z_][\w.""]*(\s+[A-Za-z_]\w*)*(\(\d+(,\d+)?\))?(\[\])?)+$")]
    private static partial Regex TrailingCast();
}
