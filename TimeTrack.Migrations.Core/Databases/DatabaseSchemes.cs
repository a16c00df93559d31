using TimeTrack.Migrations.Runner.Output;

namespace TimeTrack.Migrations.Runner.Databases;

/// <summary>
/// The URL schemes and which kind of database each names: one registry for the runner (which
/// picks its provider by <see cref="DatabaseTarget.Kind"/>) and the NativeAOT front.
/// </summary>
public static partial class DatabaseUrl
{
    public static readonly IReadOnlyDictionary<string, DatabaseKind> Schemes = new Dictionary<string, DatabaseKind>(StringComparer.Ordinal)
    {
        ["postgresql"] = DatabaseKind.Postgres,
        ["postgres"] = DatabaseKind.Postgres,
        ["sqlite"] = DatabaseKind.Sqlite,
    };

    /// <summary>
    /// A database URL parsed. <paramref name="user"/> is libpq's default user name for a PostgreSQL
    /// URL without one (PGUSER, else the login name): passed in by the caller, which read its
    /// environment, never read here from the process.
    /// </summary>
    /// <param name="role">--role (RunnerEnvironment.DatabaseRole): PostgreSQL only.</param>
    public static DatabaseTarget Parse(string url, string? workingDirectory = null, string? fallbackPassword = null, string? user = null, string? role = null)
    {
        var (scheme, written, rest) = Split(url);
        var target = Schemes.TryGetValue(scheme, out var kind)
            ? kind == DatabaseKind.Postgres
                ? Postgres.PostgresUrl.Parse(written, rest, fallbackPassword, user)
                : Sqlite.SqliteUrl.Parse($"{written}://{rest}", rest, workingDirectory ?? Directory.GetCurrentDirectory())
            : throw UserError.Invalid($"unsupported database URL scheme '{Mask(scheme)}': use postgresql:// or sqlite://");
        return role is null ? target
            : target.Kind == DatabaseKind.Postgres ? target with { Role = role }
            : throw UserError.Invalid("--role (TIMETRACK_DATABASE_ROLE) names a PostgreSQL role to SET ROLE to; a SQLite database has no roles");
    }
}
