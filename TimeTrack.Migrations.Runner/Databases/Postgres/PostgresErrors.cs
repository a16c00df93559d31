using System.Net.Sockets;
using Npgsql;
using TimeTrack.Migrations.Runner.Output;

namespace TimeTrack.Migrations.Runner.Databases.Postgres;

/// <summary>Turns PostgreSQL connection failures into one line that says which part was wrong.</summary>
public static class PostgresErrors
{
    // SQLSTATEs, never message text: https://www.postgresql.org/docs/current/errcodes-appendix.html
    private const string InvalidPassword = "28P01";
    private const string InvalidAuthorization = "28000";
    private const string InvalidCatalogName = "3D000";
    private const string CannotConnectNow = "57P03";
    private const string TooManyConnections = "53300";

    /// <summary>Ours: a step's fence found the run off its primary or without its lock (PostgresDatabase.StepFenceStatement).</summary>
    public const string FenceBroken = "TTF01";

    public static bool IsConnectionError(Exception e) =>
        e is NpgsqlException or SocketException or TimeoutException or InvalidOperationException { InnerException: NpgsqlException };

    /// <summary>
    /// True when waiting can help: the server is down, starting, or its host name is not yet
    /// resolvable (a compose service that is still starting). False for wrong credentials or a
    /// missing database, which no amount of waiting fixes.
    /// </summary>
    public static bool IsRetryable(Exception e) => e switch
    {
        PostgresException p => p.SqlState is CannotConnectNow or TooManyConnections,
        _ when Find<System.Security.Authentication.AuthenticationException>(e) is not null => false, // a certificate: waiting won't fix it
        SocketException or TimeoutException => true,
        // Npgsql's own errors without a cause are its verdicts (e.g. the server offers no TLS).
        NpgsqlException => Find<SocketException>(e) is not null || Find<IOException>(e) is not null || Find<TimeoutException>(e) is not null,
        _ => false,
    };

    /// <summary>
    /// The session ended under a statement: the server shut it down (57P01 a fast shutdown or
    /// pg_terminate_backend, 57P02 a crash of another backend, 57P03), a connection exception
    /// (class 08), or the socket broke (a failover, a cut network). Npgsql marks such a
    /// connection broken; its transaction dies with the session on the server.
    /// </summary>
    public static bool IsConnectionLost(Exception e) =>
        Find<PostgresException>(e) is { } pg
            ? pg.SqlState is "57P01" or "57P02" or "57P03" || pg.SqlState.StartsWith("08", StringComparison.Ordinal)
            : Find<NpgsqlException>(e) is not null && (Find<IOException>(e) is not null || Find<SocketException>(e) is not null || Find<EndOfStreamException>(e) is not null);

    /// <summary>
    /// A session that ended without a word from the server (an immediate shutdown only warns
    /// before it closes the socket; a host that vanished says nothing), in libpq's terms rather
    /// than .NET's ("Attempted to read past the end of the stream"); null for anything else.
    /// </summary>
    public static string? DescribeLostConnection(Exception e) =>
        Find<PostgresException>(e) is null && IsConnectionLost(e)
            ? Find<SocketException>(e) is { } socket
                ? $"the connection to the server broke ({socket.SocketErrorCode})"
                : "the server closed the connection unexpectedly"
            : null;

    public static async Task<string> DescribeConnectionErrorAsync(Exception e, DatabaseTarget target)
    {
        var builder = new NpgsqlConnectionStringBuilder(target.ConnectionString);
        var where = builder.Host is { } h && h.StartsWith('/') ? $"socket {h}/.s.PGSQL.{builder.Port}" : $"{builder.Host}:{builder.Port}";

        // Anything TLS-shaped (a handshake failure, or no cause at all under sslmode=require and up): ask the server.
        if (e is not PostgresException && Find<SocketException>(e) is null && await TlsDiagnosis.ExplainAsync(builder) is { } tls)
        {
            return $"could not connect to {where}: {tls}";
        }

        return e switch
        {
            PostgresException { SqlState: InvalidPassword or InvalidAuthorization } =>
                $"could not connect to {where}: authentication failed for user '{builder.Username}' (check the user name and password)",
            PostgresException { SqlState: InvalidCatalogName } =>
                $"could not connect to {where}: database '{builder.Database}' does not exist (create it first; the runner never creates databases)",
            PostgresException { SqlState: CannotConnectNow } =>
                $"could not connect to {where}: the server is starting up or shutting down",
            PostgresException p => $"could not connect to {where}: server error {p.SqlState}",
            _ when Find<SocketException>(e) is { SocketErrorCode: SocketError.HostNotFound or SocketError.TryAgain or SocketError.NoData } =>
                $"could not connect: unknown host '{builder.Host}'",
            _ when builder.Host?.StartsWith('/') == true && Find<SocketException>(e) is { SocketErrorCode: SocketError.AddressNotAvailable or SocketError.ConnectionRefused } =>
                $"could not connect to {where}: no server listens there (is PostgreSQL running, and is this its socket directory and port?)",
            _ when Find<SocketException>(e) is { SocketErrorCode: SocketError.ConnectionRefused } =>
                $"could not connect to {where}: connection refused (is PostgreSQL running and listening on that port?)",
            _ when Find<TimeoutException>(e) is not null =>
                $"could not connect to {where}: timed out",
            _ when Find<System.Security.Authentication.AuthenticationException>(e) is not null =>
                $"could not connect to {where}: the TLS handshake failed (sslmode={TlsDiagnosis.Libpq(builder.SslMode)}; check the server's certificate and sslrootcert)",
            _ => $"could not connect to {where}: {Find<SocketException>(e)?.SocketErrorCode.ToString() ?? "connection failed"}",
        };
    }

    public static bool IsPrivilegeDenied(Exception e) => Find<PostgresException>(e)?.SqlState == PostgresErrorCodes.InsufficientPrivilege;

    /// <summary>
    /// A statement the server refused the role (42501): exit 5, one line with the server's words
    /// (which name the object) and the privileges the runner needs, the DETAIL and HINT lines left
    /// out. Npgsql does not say which statement failed, so the privilege is named by what the runner does.
    /// </summary>
    public static UserError? Classify(Exception e, DatabaseTarget target)
    {
        if (Find<PostgresException>(e) is not { SqlState: PostgresErrorCodes.InsufficientPrivilege } pg)
        {
            return null;
        }

        var user = new NpgsqlConnectionStringBuilder(target.ConnectionString).Username;
        return new UserError(ExitCode.Refused,
            $"{pg.SqlState}: {LogLine.Printable(pg.MessageText, oneLine: true)}: role '{user}' lacks a privilege the runner needs " +
            "(CREATE on the schema to create the version table and migrate, SELECT on the version table to read it); " +
            "grant it, or run as the schema's owner", e);
    }

    /// <summary>The first exception of type <typeparamref name="T"/> in the chain (FluentMigrator and Npgsql wrap the driver's).</summary>
    public static T? Find<T>(Exception? e) where T : Exception
    {
        for (; e is not null; e = e.InnerException)
        {
            if (e is T match)
            {
                return match;
            }
        }

        return null;
    }
}
