using System.Globalization;
using System.Text;
using TimeTrack.Migrations.Runner.Output;

namespace TimeTrack.Migrations.Runner.Databases;

/// <summary>Which database a target is: the key of its <see cref="DatabaseProvider"/>.</summary>
public enum DatabaseKind
{
    Postgres,
    Sqlite,
}

/// <summary>A parsed database URL: what to connect to, and how to show it without the password.</summary>
/// <param name="Display">The URL with the password masked, safe for any output.</param>
public sealed record DatabaseTarget(DatabaseKind Kind, string ConnectionString, string Display)
{
    /// <summary>The SQLite file (absolute), or null for PostgreSQL.</summary>
    public string? SqlitePath { get; init; }

    /// <summary>The password, so that output can be scrubbed of it; null when there is none.</summary>
    public string? Password { get; init; }

    /// <summary>
    /// True when the URL asks for GSS (Kerberos) encryption: only then is Npgsql's integrated
    /// security enabled (loading libgssapi, which a slim image lacks and complains about).
    /// </summary>
    public bool UsesGss { get; init; }

    /// <summary>PostgreSQL: the role every session switches to after connecting (--role); null: the login's own.</summary>
    public string? Role { get; init; }

    /// <summary>
    /// <c>SET [LOCAL] ROLE "role"</c> (quoted as an identifier: the name's case stays, as pg_dump
    /// --role quotes it), or null without a role. Sent after connecting, never as a startup
    /// parameter, which PgBouncer refuses.
    /// </summary>
    public string? SetRoleStatement(bool local = false) =>
        Role is null ? null : $"SET {(local ? "LOCAL " : "")}ROLE \"{Role.Replace("\"", "\"\"", StringComparison.Ordinal)}\"";

    public override string ToString() => Display;
}

/// <summary>
/// A database URL: its scheme chooses the provider, which parses the rest
/// (<see cref="Postgres.PostgresUrl"/>, <see cref="Sqlite.SqliteUrl"/>). Also the strict
/// percent-decoding and masking every provider's URLs share.
/// </summary>
/// <remarks>
/// This half knows no provider (<c>Parse</c>, which chooses one, is in DatabaseProvider.cs): the
/// NativeAOT front (TimeTrack.Migrations.FastStart) compiles it with PostgresUrl.cs, without
/// FluentMigrator.
/// </remarks>
public static partial class DatabaseUrl
{
    public const string EmbeddedDefault = "sqlite:///timetrack.db";

    private const string Expected = "expected postgresql://host:port/database, with user:password@ before the host, or sqlite:///path.db";

    /// <summary>
    /// The URL's scheme (lower-cased) and what follows "://", the URL trimmed; a URL without a scheme is refused.
    /// A URL that does not parse may be a password or a whole secrets file: its errors name what is
    /// wrong and echo nothing of it but a known scheme.
    /// </summary>
    public static (string Scheme, string SchemeAsWritten, string AfterScheme) Split(string url)
    {
        url = url.Trim();
        if (url.Length == 0)
        {
            throw UserError.Invalid($"the database URL is empty: {Expected}");
        }

        if (url.Any(char.IsControl))
        {
            throw UserError.Invalid("the database URL contains a control character (a NUL, a line break or a tab): percent-encode it, or check where the URL comes from");
        }

        if (url.Length > MaxLength)
        {
            throw UserError.Invalid($"the database URL is longer than {MaxLength} characters: is it the right value?");
        }

        var schemeEnd = url.IndexOf("://", StringComparison.Ordinal);
        if (schemeEnd <= 0)
        {
            var colon = url.IndexOf(':');
            var scheme = colon > 0 ? url[..colon].ToLowerInvariant() : null;
            throw UserError.Invalid(scheme is not null && Schemes.ContainsKey(scheme)
                ? $"malformed database URL: '{scheme}:' must be followed by '//' ({Expected})"
                : $"malformed database URL: it has no scheme followed by '://' ({Expected})");
        }

        var written = url[..schemeEnd];
        if (!Schemes.ContainsKey(written.ToLowerInvariant()))
        {
            // An unknown scheme is echoed only when it looks like one (mysql), never a password's characters.
            var echo = written.Length <= 20 && char.IsAsciiLetter(written[0]) && written.All(c => char.IsAsciiLetterOrDigit(c) || c is '+' or '-' or '.') ? $" '{written}'" : "";
            throw UserError.Invalid($"unsupported database URL scheme{echo}: use one of {string.Join(", ", Schemes.Keys.Select(s => s + "://"))}");
        }

        return (written.ToLowerInvariant(), written, url[(schemeEnd + 3)..]);
    }

    /// <summary>Longer than any real URL (libpq's own buffers are smaller): a wrong file or variable.</summary>
    public const int MaxLength = 8192;

    internal const string EncodeAdvice = "percent-encode the user name and password (or use DATABASE_PASSWORD_FILE)";

    internal static UserError Unencoded() =>
        UserError.Invalid($"the database URL is malformed (a host, port or database name that cannot be one): {EncodeAdvice}");

    /// <summary>Strict percent-decoding: a '%' not followed by two hex digits, or bytes that are not UTF-8, are refused.</summary>
    internal static string Decode(string text)
    {
        if (!text.Contains('%'))
        {
            return text;
        }

        var bytes = new List<byte>(text.Length);
        for (var i = 0; i < text.Length; i++)
        {
            if (text[i] != '%')
            {
                bytes.AddRange(Encoding.UTF8.GetBytes(text[i].ToString()));
                continue;
            }

            if (i + 2 >= text.Length || !char.IsAsciiHexDigit(text[i + 1]) || !char.IsAsciiHexDigit(text[i + 2]))
            {
                throw UserError.Invalid($"the database URL has a malformed percent-encoding ('%' must be followed by two hex digits): {EncodeAdvice}");
            }

            bytes.Add(byte.Parse(text.AsSpan(i + 1, 2), NumberStyles.HexNumber, CultureInfo.InvariantCulture));
            i += 2;
        }

        if (bytes.Contains(0))
        {
            throw UserError.Invalid("the database URL has a percent-encoded NUL (%00), which no name or password can hold");
        }

        try
        {
            return new UTF8Encoding(false, throwOnInvalidBytes: true).GetString(bytes.ToArray());
        }
        catch (DecoderFallbackException)
        {
            throw UserError.Invalid($"the database URL has a percent-encoding that is not UTF-8: {EncodeAdvice}");
        }
    }

    /// <summary>The text with the password of any URL in it masked; works on malformed input too.</summary>
    public static string Mask(string text) => Redactor.MaskStructurally(text);
}
