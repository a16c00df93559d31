using System.Text.RegularExpressions;

namespace TimeTrack.Migrations.Runner.Output;

/// <summary>
/// Removes secrets from any text before it is printed: the last line of defence for "passwords
/// never appear". Masks by structure, never by plain substring: the password part of any URL,
/// the value of a Password= setting, and a known secret only where it stands as a whole value (an
/// error that quotes it). A plain replace would turn the password "postgres" into
/// "***ql://" and "tt" into "wri***en" — garbling every message and giving the password away by
/// elimination.
/// </summary>
public sealed partial class Redactor
{
    private readonly List<string> _secrets = [];

    public void Add(string? secret)
    {
        if (!string.IsNullOrEmpty(secret))
        {
            _secrets.Add(secret);
            _secrets.Add(Uri.EscapeDataString(secret));
        }
    }

    public string Redact(string text)
    {
        text = MaskStructurally(text);
        foreach (var secret in _secrets)
        {
            text = MaskWholeValue(text, secret);
        }

        return text;
    }

    /// <summary>Masks <paramref name="secret"/> where it is quoted ('…', "…", `…`) or the whole value of key=….</summary>
    private static string MaskWholeValue(string text, string secret)
    {
        for (var at = text.IndexOf(secret, StringComparison.Ordinal); at >= 0; at = text.IndexOf(secret, at + 1, StringComparison.Ordinal))
        {
            var before = at == 0 ? '\0' : text[at - 1];
            var end = at + secret.Length;
            var after = end == text.Length ? '\0' : text[end];
            var quoted = before is '\'' or '"' or '`' && after == before;
            var assigned = before == '=' && (after is '\0' or ';' or '&' || char.IsWhiteSpace(after));
            if (quoted || assigned)
            {
                text = string.Concat(text.AsSpan(0, at), "***", text.AsSpan(end));
            }
        }

        return text;
    }

    /// <summary>Masks what is a password by its place: in a URL's user info, or as a Password= value.</summary>
    public static string MaskStructurally(string text) =>
        ConnectionStringPassword().Replace(UrlPassword().Replace(text, "${prefix}***${host}"), "${key}***");

    // scheme://user:PASSWORD@host — up to the last '@' of the word, so that a raw '@' in the
    // password is masked too.
    [GeneratedRegex(@"(?<prefix>\b[A-Za-z][A-Za-z0-9+.\-]*://[^\s:/@]*:)[^\s]*(?<host>@[^\s@]*)", RegexOptions.CultureInvariant)]
    private static partial Regex UrlPassword();

    // Password=…; Pwd=…; SSL Password=… in connection strings, quoted or not; password=… in a URL query.
    [GeneratedRegex(@"(?<key>\b(?:ssl\s?)?(?:password|pwd)\s*=\s*)(?:'(?:[^']|'')*'|""(?:[^""]|"""")*""|[^;&\s]*)", RegexOptions.IgnoreCase | RegexOptions.CultureInvariant)]
    private static partial Regex ConnectionStringPassword();
}
