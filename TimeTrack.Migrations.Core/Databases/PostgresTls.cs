using Npgsql;
using TimeTrack.Migrations.Runner.Output;

namespace TimeTrack.Migrations.Runner.Databases.Postgres;

/// <summary>
/// Which certificates a PostgreSQL connection trusts, for each sslmode as libpq means it:
/// disable, allow, prefer and require verify nothing; verify-ca and verify-full trust the root
/// certificate file (sslrootcert, else PGSSLROOTCERT, else ~/.postgresql/root.crt, as Npgsql
/// reads them), and only without one the system's CAs (sslrootcert=system). Npgsql applies the
/// rule; this says when the system trust store plays no part.
/// </summary>
/// <remarks>
/// .NET builds a chain against the system trust store for every server certificate before any
/// validation callback sees it, whatever the chain policy says (its trust mode included): reading
/// the ~140 files of /etc/ssl/certs cost the NativeAOT front about 110 ms of CPU per TLS start, 2–3×
/// its whole no-op start, also for require, where the result is thrown away. Where the store plays
/// no part, the front hides it from OpenSSL while it connects (<see cref="HideSystemTrustStore"/>).
/// With a root file, Npgsql then verifies against that file alone, which is libpq's rule (with the
/// store visible, a certificate from any system CA passed verify-full too; the runner keeps that).
/// </remarks>
public static class PostgresTls
{
    /// <summary>Whether a connection with these settings verifies against the system's CAs (verify-* without a root file).</summary>
    public static bool UsesSystemTrust(NpgsqlConnectionStringBuilder settings) =>
        settings.SslMode is SslMode.VerifyCA or SslMode.VerifyFull && RootCertificateFile(settings) is null;

    /// <summary>Npgsql's and libpq's order: the URL's sslrootcert, PGSSLROOTCERT, ~/.postgresql/root.crt if it exists.</summary>
    public static string? RootCertificateFile(NpgsqlConnectionStringBuilder settings)
    {
        if (settings.RootCertificate is { Length: > 0 } root)
        {
            return root;
        }

        if (Environment.GetEnvironmentVariable("PGSSLROOTCERT") is { Length: > 0 } variable)
        {
            return variable;
        }

        return Environment.GetEnvironmentVariable("HOME") is { Length: > 0 } home && Path.Combine(home, ".postgresql", "root.crt") is var path && File.Exists(path)
            ? path
            : null;
    }

    /// <summary>
    /// Until disposed, OpenSSL's trust store locations (SSL_CERT_FILE, SSL_CERT_DIR, read by .NET
    /// when it first builds a chain) name nothing, when these settings do not use the store; the
    /// process's own values come back on dispose, before anything is exec'd. For a process that
    /// opens one connection (the front): the store is read once, and stays empty for its life.
    /// </summary>
    public static IDisposable HideSystemTrustStore(string connectionString)
    {
        var settings = new NpgsqlConnectionStringBuilder(connectionString);
        if (settings.SslMode == SslMode.Disable || UsesSystemTrust(settings) || !OperatingSystem.IsLinux())
        {
            return new Restore([]);
        }

        string[] names = ["SSL_CERT_FILE", "SSL_CERT_DIR"];
        var saved = names.Select(n => (n, Environment.GetEnvironmentVariable(n))).ToList();
        foreach (var name in names)
        {
            NativeEnvironment.Set(name, Nowhere);
        }

        return new Restore(saved);
    }

    private const string Nowhere = "/nonexistent/timetrack-no-trust-store";

    private sealed class Restore(List<(string Name, string? Value)> saved) : IDisposable
    {
        public void Dispose()
        {
            foreach (var (name, value) in saved)
            {
                if (value is null)
                {
                    NativeEnvironment.Unset(name);
                }
                else
                {
                    NativeEnvironment.Set(name, value);
                }
            }

            saved.Clear();
        }
    }
}
