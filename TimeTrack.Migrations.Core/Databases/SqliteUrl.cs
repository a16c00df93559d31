using TimeTrack.Migrations.Runner.Output;

namespace TimeTrack.Migrations.Runner.Databases.Sqlite;

/// <summary><c>sqlite:///relative.db</c> (to the working directory) and <c>sqlite:////absolute/path.db</c>.</summary>
internal static class SqliteUrl
{
    public static DatabaseTarget Parse(string url, string rest, string workingDirectory)
    {
        // sqlite:///relative.db → rest "/relative.db"; sqlite:////abs.db → rest "//abs.db".
        if (!rest.StartsWith('/') || rest.Length < 2)
        {
            throw UserError.Invalid("malformed SQLite URL: use sqlite:///relative/path.db or sqlite:////absolute/path.db");
        }

        var query = rest.IndexOf('?');
        if (query >= 0)
        {
            throw UserError.Invalid("a SQLite URL takes no query parameters (nothing after '?')");
        }

        var path = DatabaseUrl.Decode(rest[1..]);
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
        return new DatabaseTarget(DatabaseKind.Sqlite, builder.ConnectionString, url) { SqlitePath = fullPath };
    }

}
