using System.Buffers.Binary;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Cryptography.X509Certificates;
using Npgsql;

namespace TimeTrack.Migrations.Runner.Databases.Postgres;

/// <summary>
/// Says why a TLS connection failed, in the operator's terms. Npgsql reports every rejected
/// certificate alike ("Exception while performing SSL handshake"), and a server without TLS as a
/// bare message; so after such a failure this repeats the first step of the handshake itself —
/// PostgreSQL's SSLRequest, then TLS with a callback that records what was wrong — and checks the
/// chain against sslrootcert. Runs only on the failure path; the connection it opens sends no
/// credentials.
/// </summary>
public static class TlsDiagnosis
{
    private const int SslRequestCode = 80877103;

    /// <returns>The reason, or null when the probe finds nothing wrong with TLS (the failure was something else).</returns>
    public static async Task<string?> ExplainAsync(NpgsqlConnectionStringBuilder settings)
    {
        if (settings.SslMode is not (SslMode.Require or SslMode.VerifyCA or SslMode.VerifyFull) || settings.Host is not { } hosts || hosts.StartsWith('/'))
        {
            return null;
        }

        var host = hosts.Split(',')[0];
        var port = settings.Port;
        var colon = host.LastIndexOf(':');
        if (hosts.Contains(',') && colon > 0 && int.TryParse(host[(colon + 1)..], out var p))
        {
            (host, port) = (host[..colon], p);
        }

        try
        {
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
            using var client = new TcpClient();
            await client.ConnectAsync(host, port, timeout.Token);
            var stream = client.GetStream();
            var request = new byte[8];
            BinaryPrimitives.WriteInt32BigEndian(request, 8);
            BinaryPrimitives.WriteInt32BigEndian(request.AsSpan(4), SslRequestCode);
            await stream.WriteAsync(request, timeout.Token);
            var answer = new byte[1];
            if (await stream.ReadAsync(answer, timeout.Token) != 1 || answer[0] != (byte)'S')
            {
                return $"the server does not offer TLS, and sslmode={Libpq(settings.SslMode)} requires it (enable ssl on the server, or lower sslmode)";
            }

            X509Certificate2? certificate = null;
            var errors = SslPolicyErrors.None;
            await using var tls = new SslStream(stream, leaveInnerStreamOpen: true);
            await tls.AuthenticateAsClientAsync(new SslClientAuthenticationOptions
            {
                TargetHost = host,
                RemoteCertificateValidationCallback = (_, cert, _, policyErrors) =>
                {
                    certificate = cert is null ? null : new X509Certificate2(cert);
                    errors = policyErrors;
                    return true; // look, don't trust: nothing but this probe uses the connection
                },
            }, timeout.Token);

            return certificate is null ? null : Judge(settings, host, certificate, errors);
        }
        catch (Exception e) when (e is SocketException or IOException or OperationCanceledException or System.Security.Authentication.AuthenticationException)
        {
            return null;
        }
    }

    private static string? Judge(NpgsqlConnectionStringBuilder settings, string host, X509Certificate2 certificate, SslPolicyErrors errors)
    {
        var subject = certificate.GetNameInfo(X509NameType.SimpleName, forIssuer: false);
        if (settings.SslMode is SslMode.VerifyCA or SslMode.VerifyFull)
        {
            var trusted = settings.RootCertificate is { } root ? IsSignedBy(certificate, root) : !errors.HasFlag(SslPolicyErrors.RemoteCertificateChainErrors);
            if (!trusted)
            {
                return settings.RootCertificate is { } r
                    ? $"the server's TLS certificate (CN={subject}) is not signed by the CA in sslrootcert {r}"
                    : $"the server's TLS certificate (CN={subject}) is not signed by a CA this machine trusts (give the server's CA with sslrootcert=/path/ca.pem)";
            }
        }

        if (settings.SslMode == SslMode.VerifyFull && errors.HasFlag(SslPolicyErrors.RemoteCertificateNameMismatch))
        {
            return $"the server's TLS certificate (CN={subject}) is not valid for the host name '{host}' (sslmode=verify-full checks it; connect by a name the certificate lists)";
        }

        if (DateTime.Now > certificate.NotAfter || DateTime.Now < certificate.NotBefore)
        {
            return $"the server's TLS certificate (CN={subject}) is not valid now (valid {certificate.NotBefore:u} to {certificate.NotAfter:u})";
        }

        return null;
    }

    private static bool IsSignedBy(X509Certificate2 certificate, string rootFile)
    {
        var roots = new X509Certificate2Collection();
        try
        {
            roots.ImportFromPemFile(rootFile);
        }
        catch (Exception e) when (e is System.Security.Cryptography.CryptographicException or IOException)
        {
            return false;
        }

        using var chain = new X509Chain();
        chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        chain.ChainPolicy.CustomTrustStore.AddRange(roots);
        chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        return chain.Build(certificate);
    }

    public static string Libpq(SslMode mode) => mode switch
    {
        SslMode.VerifyCA => "verify-ca",
        SslMode.VerifyFull => "verify-full",
        _ => mode.ToString().ToLowerInvariant(),
    };
}
