using Npgsql;
using TimeTrack.Migrations.Runner.Output;

namespace TimeTrack.Migrations.Runner.Databases;

public enum DatabaseProvider
{
    Postgres,
    Sqlite,
}

/// <summary>A parsed database URL: what to connect to, and how to show it without the password.</summary>
/// <param name="Display">The URL with the password masked, safe for any output.</param>
public sealed record DatabaseTarget(DatabaseProvider Provider, string ConnectionString, string Display)
{
    /// <summary>The SQLite file (absolute), or null for PostgreSQL.</summary>
    public string? SqlitePath { get; init; }

    /// <summary>The password, so that output can be scrubbed of it; null when there is none.</summary>
    public string? Password { get; init; }

    public override string ToString() => Display;
}

/// <summary>
/// Parses database URLs as docker-compose files write them:
/// <c>postgresql://user:pass@host:5432/db?sslmode=require</c> (or <c>postgres://</c>),
/// <c>sqlite:///relative.db</c> and <c>sqlite:////absolute/path.db</c>.
/// </summary>
public static class DatabaseUrl
{
    public const string EmbeddedDefault = "sqlite:///timetrack.db";

    // libpq spellings people copy from other tools, mapped to Npgsql's keywords.
    private static readonly Dictionary<string, string> LibpqAliases = new(StringComparer.OrdinalIgnoreCase)
    {
        ["sslmode"] = "SSL Mode",
        ["connect_timeout"] = "Timeout",
        ["application_name"] = "Application Name",
        ["sslrootcert"] = "Root Certificate",
        ["sslcert"] = "SSL Certificate",
        ["sslkey"] = "SSL Key",
        ["target_session_attrs"] = "Target Session Attributes",
        ["options"] = "Options",
    };

    public static DatabaseTarget Parse(string url, string? workingDirectory = null)
    {
        url = url.Trim();
        var schemeEnd = url.IndexOf("://", StringComparison.Ordinal);
        if (schemeEnd <= 0)
        {
            throw UserError.Invalid($"malformed database URL '{Mask(url)}': expected postgresql://user:password@host:port/database or sqlite:///path.db");
        }

        var scheme = url[..schemeEnd].ToLowerInvariant();
        return scheme switch
        {
            "postgresql" or "postgres" => ParsePostgres(url),
            "sqlite" => ParseSqlite(url, url[(schemeEnd + 3)..], workingDirectory ?? Directory.GetCurrentDirectory()),
            _ => throw UserError.Invalid($"unsupported database URL scheme '{scheme}': use postgresql:// or sqlite:///"),
        };
    }

    private static DatabaseTarget ParsePostgres(string url)
    {
        if (!Uri.TryCreate(url, UriKind.Absolute, out var uri))
        {
            throw UserError.Invalid($"malformed database URL '{Mask(url)}'");
        }

        var database = Uri.UnescapeDataString(uri.AbsolutePath.TrimStart('/'));
        if (database.Length == 0 || database.Contains('/'))
        {
            throw UserError.Invalid($"database URL '{Mask(url)}' names no database: expected postgresql://user:password@host:port/database");
        }

        var builder = new NpgsqlConnectionStringBuilder
        {
            Host = uri.Host.Length > 0 ? uri.Host.Trim('[', ']') : "localhost",
            Port = uri.IsDefaultPort || uri.Port < 0 ? 5432 : uri.Port,
            Database = database,
        };

        var userInfo = uri.UserInfo;
        if (userInfo.Length > 0)
        {
            var colon = userInfo.IndexOf(':');
            builder.Username = Uri.UnescapeDataString(colon < 0 ? userInfo : userInfo[..colon]);
            if (colon >= 0)
            {
                builder.Password = Uri.UnescapeDataString(userInfo[(colon + 1)..]);
            }
        }

        foreach (var (key, value) in QueryParameters(uri.Query))
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

        return new DatabaseTarget(DatabaseProvider.Postgres, builder.ConnectionString, Mask(url)) { Password = builder.Password };
    }

    private static DatabaseTarget ParseSqlite(string url, string rest, string workingDirectory)
    {
        // sqlite:///relative.db → rest "/relative.db"; sqlite:////abs.db → rest "//abs.db".
        if (!rest.StartsWith('/') || rest.Length < 2)
        {
            throw UserError.Invalid($"malformed SQLite URL '{url}': use sqlite:///relative/path.db or sqlite:////absolute/path.db");
        }

        var query = rest.IndexOf('?');
        if (query >= 0)
        {
            throw UserError.Invalid($"SQLite URL '{url}' takes no query parameters");
        }

        var path = Uri.UnescapeDataString(rest[1..]);
        var fullPath = Path.IsPathRooted(path) ? Path.GetFullPath(path) : Path.GetFullPath(Path.Combine(workingDirectory, path));
        if (Directory.Exists(fullPath))
        {
            throw UserError.Invalid($"SQLite path '{fullPath}' is a directory, not a database file");
        }

        // Never create the directory: a missing directory usually means a volume that is not mounted.
        var directory = Path.GetDirectoryName(fullPath)!;
        if (!Directory.Exists(directory))
        {
            throw UserError.Invalid($"directory '{directory}' of the SQLite database does not exist (is the volume mounted?)");
        }

        var builder = new Microsoft.Data.Sqlite.SqliteConnectionStringBuilder
        {
            DataSource = fullPath,
            Mode = Microsoft.Data.Sqlite.SqliteOpenMode.ReadWriteCreate,
            Pooling = false,
            DefaultTimeout = 30,
        };
        return new DatabaseTarget(DatabaseProvider.Sqlite, builder.ConnectionString, url) { SqlitePath = fullPath };
    }

    private static IEnumerable<(string Key, string Value)> QueryParameters(string query)
    {
        foreach (var pair in query.TrimStart('?').Split('&', StringSplitOptions.RemoveEmptyEntries))
        {
            var eq = pair.IndexOf('=');
            var key = Uri.UnescapeDataString(eq < 0 ? pair : pair[..eq]);
            var value = eq < 0 ? "" : Uri.UnescapeDataString(pair[(eq + 1)..].Replace('+', ' '));
            yield return (key, value);
        }
    }

    /// <summary>The URL with any password replaced by ***; works on malformed input too.</summary>
    public static string Mask(string url)
    {
        var schemeEnd = url.IndexOf("://", StringComparison.Ordinal);
        var start = schemeEnd < 0 ? 0 : schemeEnd + 3;
        var at = url.LastIndexOf('@');
        if (at < start)
        {
            return url;
        }

        var colon = url.IndexOf(':', start);
        return colon < 0 || colon > at ? url : url[..(colon + 1)] + "***" + url[at..];
    }
}
