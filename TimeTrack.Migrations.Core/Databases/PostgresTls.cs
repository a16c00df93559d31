using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Npgsql;

namespace TimeTrack.Migrations.Runner.Databases.Postgres;

/// <summary>
/// Which certificates a PostgreSQL connection of the front or the runner trusts, for each sslmode
/// as libpq means it: disable, allow, prefer and require encrypt without verifying anything;
/// verify-ca and verify-full trust the root certificate file (sslrootcert, else PGSSLROOTCERT, else
/// ~/.postgresql/root.crt), or the system's CAs when there is none (sslrootcert=system).
/// </summary>
/// <remarks>
/// Npgsql decides from the sslmode whether a certificate is accepted; this only tells .NET what to
/// build the certificate's chain against. .NET builds that chain for every server certificate before
/// any callback sees it, by default against the system trust store: reading /etc/ssl/certs cost the
/// NativeAOT front about 100 ms of CPU per start, also for require, where the result is thrown away.
/// A chain built against nothing (require) or against the configured root alone (verify-*) gives
/// Npgsql the same answers without that read.
/// </remarks>
public static class PostgresTls
{
    /// <summary>The data source builder of <paramref name="connectionString"/>, with the chain policy of its sslmode.</summary>
    public static NpgsqlSlimDataSourceBuilder UseLibpqTrust(this NpgsqlSlimDataSourceBuilder builder, string connectionString)
    {
        var policy = ChainPolicy(new NpgsqlConnectionStringBuilder(connectionString));
        return policy is null ? builder : builder.UseSslClientAuthenticationOptionsCallback(options => options.CertificateChainPolicy = policy.Clone());
    }

    /// <summary>
    /// The chain policy for these settings; null where .NET's default is what libpq would do (the
    /// system's CAs for verify-* without a root file) or where Npgsql reads the root itself (PKCS#12).
    /// </summary>
    public static X509ChainPolicy? ChainPolicy(NpgsqlConnectionStringBuilder settings)
    {
        if (settings.SslMode is SslMode.Disable or SslMode.Allow or SslMode.Prefer or SslMode.Require)
        {
            return CustomRoots([], checkRevocation: false); // Npgsql accepts any certificate here: the chain is never looked at
        }

        if (RootCertificateFile(settings) is not { } file || file.EndsWith(".pfx", StringComparison.OrdinalIgnoreCase))
        {
            return null;
        }

        var roots = new X509Certificate2Collection();
        try
        {
            roots.ImportFromPemFile(file);
        }
        catch (Exception e) when (e is CryptographicException or IOException or UnauthorizedAccessException)
        {
            return null; // Npgsql reads it again and fails the connection in its words
        }

        return roots.Count == 0 ? null : CustomRoots(roots, settings.CheckCertificateRevocation);
    }

    /// <summary>libpq's (and Npgsql's) order: the URL's sslrootcert, PGSSLROOTCERT, ~/.postgresql/root.crt if it exists.</summary>
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

    private static X509ChainPolicy CustomRoots(X509Certificate2Collection roots, bool checkRevocation)
    {
        var policy = new X509ChainPolicy
        {
            TrustMode = X509ChainTrustMode.CustomRootTrust,
            RevocationMode = checkRevocation ? X509RevocationMode.Online : X509RevocationMode.NoCheck,
            DisableCertificateDownloads = !checkRevocation,
        };
        policy.CustomTrustStore.AddRange(roots);
        return policy;
    }
}
