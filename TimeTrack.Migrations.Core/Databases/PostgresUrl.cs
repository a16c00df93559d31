using System.Globalization;
using Npgsql;
using TimeTrack.Migrations.Runner.Output;

namespace TimeTrack.Migrations.Runner.Databases.Postgres;

/// <summary>
/// PostgreSQL URLs as libpq and docker-compose files write them:
/// <c>postgresql://user:pass@host:5432/db?sslmode=verify-full&amp;sslrootcert=/ca.pem</c> (or
/// <c>postgres://</c>; several <c>host:port</c> separated by commas; a Unix socket directory as a
/// percent-encoded host or as <c>?host=/var/run/postgresql</c>).
/// </summary>
/// <remarks>
/// Parsed by hand after libpq's URI grammar rather than with System.Uri, which takes a raw '#' in
/// a password for a fragment, rejects a percent-encoded socket path as a host, and decodes
/// malformed escapes silently. A password with raw reserved characters shows up here as a host,
/// port or database name that cannot be one: that is refused, and no part of the URL is echoed.
/// </remarks>
internal static class PostgresUrl
{
    /// <summary>libpq's sslmode values and Npgsql's names for them.</summary>
    private static readonly Dictionary<string, SslMode> SslModes = new(StringComparer.OrdinalIgnoreCase)
    {
        ["disable"] = SslMode.Disable,
        ["allow"] = SslMode.Allow,
        ["prefer"] = SslMode.Prefer,
        ["require"] = SslMode.Require,
        ["verify-ca"] = SslMode.VerifyCA,
        ["verify-full"] = SslMode.VerifyFull,
    };

    private static readonly Dictionary<string, GssEncryptionMode> GssModes = new(StringComparer.OrdinalIgnoreCase)
    {
        ["disable"] = GssEncryptionMode.Disable,
        ["prefer"] = GssEncryptionMode.Prefer,
        ["require"] = GssEncryptionMode.Require,
    };

    // libpq spellings people copy from other tools, mapped to Npgsql's keywords. The TLS, GSS,
    // host, port, user, password and dbname parameters are handled one by one below.
    private static readonly Dictionary<string, string> LibpqAliases = new(StringComparer.OrdinalIgnoreCase)
    {
        ["connect_timeout"] = "Timeout",
        ["application_name"] = "Application Name",
        ["target_session_attrs"] = "Target Session Attributes",
        ["options"] = "Options",
        ["keepalives_idle"] = "Keepalive",
        ["sslpassword"] = "SSL Password",
        ["krbsrvname"] = "Kerberos Service Name",
    };

    public static DatabaseTarget Parse(string scheme, string rest, string? fallbackPassword, string? user = null)
    {
        // libpq has no fragments: a '#' can only be a raw character of the password.
        if (rest.Contains('#'))
        {
            throw DatabaseUrl.Unencoded();
        }

        var queryStart = rest.IndexOf('?');
        var query = queryStart < 0 ? "" : rest[(queryStart + 1)..];
        var beforeQuery = queryStart < 0 ? rest : rest[..queryStart];
        var pathStart = beforeQuery.IndexOf('/');
        var authority = pathStart < 0 ? beforeQuery : beforeQuery[..pathStart];
        var path = pathStart < 0 ? "" : beforeQuery[(pathStart + 1)..];

        var at = authority.IndexOf('@');
        if (at != authority.LastIndexOf('@'))
        {
            throw DatabaseUrl.Unencoded();
        }

        var userInfo = at < 0 ? "" : authority[..at];
        var hostSpec = at < 0 ? authority : authority[(at + 1)..];
        var builder = new NpgsqlConnectionStringBuilder();
        string? password = null;

        if (at >= 0)
        {
            var colon = userInfo.IndexOf(':');
            builder.Username = DatabaseUrl.Decode(colon < 0 ? userInfo : userInfo[..colon]);
            if (colon >= 0)
            {
                password = DatabaseUrl.Decode(userInfo[(colon + 1)..]);
            }
        }

        var hosts = ParseHosts(hostSpec);
        int? port = null;

        // A raw '/', '@' or '?' of a password lands in the database name.
        if (path.Contains('/') || path.Contains('@'))
        {
            throw DatabaseUrl.Unencoded();
        }

        var database = DatabaseUrl.Decode(path);
        var sslMode = (SslMode?)null;
        string? rootCertificate = null;
        var gss = GssEncryptionMode.Disable;
        var usesGss = false;
        var masked = new List<string>();
        var seen = new HashSet<string>(StringComparer.OrdinalIgnoreCase);

        foreach (var pair in query.Split('&', StringSplitOptions.RemoveEmptyEntries))
        {
            var eq = pair.IndexOf('=');
            var rawKey = eq < 0 ? pair : pair[..eq];
            if (eq < 0 || !IsParameterName(rawKey))
            {
                // "key" alone, or a key with characters no setting has: a password's '?' split the URL here.
                throw DatabaseUrl.Unencoded();
            }

            var key = DatabaseUrl.Decode(rawKey);
            if (!seen.Add(key))
            {
                // libpq takes the last; which one was meant is a guess (often a copy-paste of two URLs).
                throw UserError.Invalid($"database URL query parameter '{key}' is given more than once");
            }

            var value = DatabaseUrl.Decode(pair[(eq + 1)..]);
            var isSecret = key.Equals("password", StringComparison.OrdinalIgnoreCase) || key.Equals("sslpassword", StringComparison.OrdinalIgnoreCase);
            masked.Add(isSecret ? $"{rawKey}=***" : pair);
            switch (key.ToLowerInvariant())
            {
                case "host":
                    hosts = ParseHosts(pair[(eq + 1)..]);
                    break;
                case "port":
                    port = ParsePort(value);
                    break;
                case "dbname":
                    database = value;
                    break;
                case "user":
                    builder.Username = value;
                    break;
                case "password":
                    password = value;
                    break;
                case "sslmode":
                    sslMode = SslModes.TryGetValue(value, out var mode)
                        ? mode
                        : throw UserError.Invalid($"database URL: sslmode '{value}' is not one of {string.Join(", ", SslModes.Keys)}");
                    break;
                case "sslrootcert":
                    rootCertificate = value;
                    break;
                case "sslcert":
                    builder.SslCertificate = ExistingFile("sslcert", value);
                    break;
                case "sslkey":
                    builder.SslKey = ExistingFile("sslkey", value);
                    break;
                case "gssencmode":
                    gss = GssModes.TryGetValue(value, out var g)
                        ? g
                        : throw UserError.Invalid($"database URL: gssencmode '{value}' is not one of {string.Join(", ", GssModes.Keys)}");
                    usesGss = gss != GssEncryptionMode.Disable;
                    break;
                default:
                    SetNpgsqlKeyword(builder, key, value);
                    break;
            }
        }

        if (database.Length == 0)
        {
            throw UserError.Invalid("the database URL names no database: expected postgresql://user:password@host:port/database");
        }

        // PostgreSQL keeps names to 63 bytes (NAMEDATALEN): a longer one names nothing that can exist.
        if (System.Text.Encoding.UTF8.GetByteCount(database) > MaxNameBytes)
        {
            throw UserError.Invalid($"the database name in the URL is longer than PostgreSQL's {MaxNameBytes}-byte limit for names");
        }

        if (builder.Username is { } userName && System.Text.Encoding.UTF8.GetByteCount(userName) > MaxNameBytes)
        {
            throw UserError.Invalid($"the user name in the URL is longer than PostgreSQL's {MaxNameBytes}-byte limit for names");
        }

        if (rootCertificate is not null)
        {
            if (rootCertificate.Equals("system", StringComparison.OrdinalIgnoreCase))
            {
                // libpq 16: trust the system's CAs, and only with full verification (a public CA
                // signs certificates for anybody's host name).
                if (sslMode is { } m && m != SslMode.VerifyFull)
                {
                    throw UserError.Invalid("database URL: sslrootcert=system needs sslmode=verify-full (or no sslmode)");
                }

                sslMode = SslMode.VerifyFull;
            }
            else
            {
                builder.RootCertificate = ExistingFile("sslrootcert", rootCertificate);

                // libpq verifies the chain under sslmode=require when a root certificate is given.
                if (sslMode == SslMode.Require)
                {
                    sslMode = SslMode.VerifyCA;
                }
            }
        }

        // One host: Host and Port. Several: Npgsql's "h1:p1,h2" list, the default port for the rest.
        builder.Port = port ?? (hosts.Count == 1 ? hosts[0].Port : null) ?? 5432;
        builder.Host = hosts.Count == 1
            ? HostForNpgsql(hosts[0].Host)
            : string.Join(',', hosts.Select(h => h.Port is { } p ? $"{HostForNpgsql(h.Host)}:{p}" : HostForNpgsql(h.Host)));
        builder.Database = database;
        builder.SslMode = sslMode ?? SslMode.Prefer;
        builder.GssEncryptionMode = gss;
        builder.Username ??= user ?? Environment.UserName; // libpq's default: PGUSER (the caller's environment), else the login name

        password ??= fallbackPassword;
        if (password is not null)
        {
            builder.Password = password;
        }

        var display = $"{scheme}://{(at < 0 ? "" : MaskUserInfo(userInfo) + "@")}{hostSpec}{(pathStart < 0 ? "" : "/" + path)}{(masked.Count == 0 ? "" : "?" + string.Join('&', masked))}";
        return new DatabaseTarget(DatabaseKind.Postgres, builder.ConnectionString, display) { Password = password, UsesGss = usesGss };
    }

    /// <summary>
    /// <c>host[:port],host[:port]…</c>: names, IPv4, [IPv6], or a socket directory (percent-encoded
    /// in the authority, plain in ?host=). What cannot be any of these is a password's raw characters.
    /// </summary>
    private static List<(string Host, int? Port)> ParseHosts(string spec)
    {
        if (spec.Length == 0)
        {
            return [("localhost", null)];
        }

        var hosts = new List<(string, int?)>();
        foreach (var part in spec.Split(','))
        {
            string host;
            string? port = null;
            if (part.StartsWith('['))
            {
                var close = part.IndexOf(']');
                if (close < 0)
                {
                    throw DatabaseUrl.Unencoded();
                }

                host = part[..(close + 1)];
                var after = part[(close + 1)..];
                if (after.Length > 0)
                {
                    port = after.StartsWith(':') ? after[1..] : throw DatabaseUrl.Unencoded();
                }
            }
            else
            {
                var colon = part.LastIndexOf(':');
                host = DatabaseUrl.Decode(colon < 0 ? part : part[..colon]);
                port = colon < 0 ? null : part[(colon + 1)..];
            }

            if (!IsHost(host))
            {
                throw DatabaseUrl.Unencoded();
            }

            if (host.Length > MaxHostLength && !host.StartsWith('/'))
            {
                throw UserError.Invalid($"a host name in the database URL is longer than {MaxHostLength} characters, which no host name can be");
            }

            hosts.Add((host, port is null ? null : ParsePort(port)));
        }

        return hosts;
    }

    private const int MaxNameBytes = 63;

    // DNS: a host name is at most 253 characters.
    private const int MaxHostLength = 253;

    private static int ParsePort(string text) =>
        int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var port) && port is > 0 and < 65536 ? port : throw DatabaseUrl.Unencoded();

    private static bool IsHost(string host) =>
        host.StartsWith('/') // a Unix socket directory
        || (host.StartsWith('[') && host.EndsWith(']') && host.Length > 2 && host[1..^1].All(c => char.IsAsciiHexDigit(c) || c is ':' or '.' or '%'))
        || (host.Length > 0 && host.All(c => char.IsAsciiLetterOrDigit(c) || c is '.' or '-' or '_'));

    private static string HostForNpgsql(string host) => host.StartsWith('[') ? host[1..^1] : host;

    private static bool IsParameterName(string key) => key.Length > 0 && key.All(c => char.IsAsciiLetterOrDigit(c) || c is '_' or '%' or '-' or '.');

    private static void SetNpgsqlKeyword(NpgsqlConnectionStringBuilder builder, string key, string value)
    {
        var keyword = LibpqAliases.GetValueOrDefault(key, key);
        try
        {
            builder[keyword] = value;
        }
        catch (Exception e) when (e is ArgumentException or FormatException or InvalidCastException or KeyNotFoundException)
        {
            throw UserError.Invalid($"database URL query parameter '{key}' is not a PostgreSQL connection setting or has an invalid value");
        }
    }

    private static string ExistingFile(string parameter, string path) =>
        File.Exists(path) ? Path.GetFullPath(path) : throw UserError.Invalid($"database URL: {parameter} file '{path}' does not exist");

    private static string MaskUserInfo(string userInfo)
    {
        var colon = userInfo.IndexOf(':');
        return colon < 0 ? userInfo : userInfo[..colon] + ":***";
    }
}
