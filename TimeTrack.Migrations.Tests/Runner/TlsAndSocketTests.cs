using System.Diagnostics;
using TimeTrack.Migrations.Runner.Databases;
using TimeTrack.Migrations.Runner.FastStart;
using TimeTrack.Migrations.Tests.Infrastructure;

namespace TimeTrack.Migrations.Tests.Runner;

/// <summary>
/// A PostgreSQL cluster of its own with TLS on, certificates made by the test (openssl), and a
/// pg_hba.conf that rejects TCP without TLS: so a command that succeeds used TLS on every
/// connection it opened, FluentMigrator's included. Also its Unix socket directory.
/// </summary>
public sealed class TlsServerFixture : IAsyncLifetime
{
    public PostgresServer Server { get; private set; } = null!;
    public string Tls { get; private set; } = null!;
    public string CaFile => Path.Combine(Tls, "ca.crt");
    public string OtherCaFile => Path.Combine(Tls, "other-ca.crt");

    /// <summary>A server certificate signed by nobody else (ssl_cert_file/ssl_key_file to switch to it).</summary>
    public string SelfSigned => Path.Combine(Tls, "self-signed");

    public async Task InitializeAsync()
    {
        Server = await PostgresServer.StartOwnAsync(root =>
        {
            var tls = Path.Combine(root, "tls");
            Directory.CreateDirectory(tls);
            MakeCertificates(tls);
            return (
                ["ssl = on", $"ssl_cert_file = '{tls}/server.crt'", $"ssl_key_file = '{tls}/server.key'", $"ssl_ca_file = '{tls}/ca.crt'"],
                ["hostssl all certuser 127.0.0.1/32 cert", "hostssl all all 127.0.0.1/32 scram-sha-256", "hostnossl all all 127.0.0.1/32 reject"]);
        });
        Tls = Path.Combine(Server.Root!, "tls");
        await Server.ExecuteOverSocketAsync("CREATE ROLE certuser LOGIN CREATEDB");
    }

    public Task DisposeAsync() => Task.CompletedTask; // stopped with the test process, like the shared cluster

    private static void MakeCertificates(string dir)
    {
        void OpenSsl(params string[] args)
        {
            var start = new ProcessStartInfo("openssl") { WorkingDirectory = dir, RedirectStandardError = true, RedirectStandardOutput = true };
            args.ToList().ForEach(start.ArgumentList.Add);
            using var process = Process.Start(start) ?? throw new InvalidOperationException("openssl is missing (apt-get install openssl)");
            var error = process.StandardError.ReadToEndAsync();
            process.StandardOutput.ReadToEnd();
            process.WaitForExit();
            if (process.ExitCode != 0)
            {
                throw new InvalidOperationException($"openssl {string.Join(' ', args)} failed: {error.Result}");
            }
        }

        void Signed(string name, string subject, string? san)
        {
            OpenSsl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", $"{name}.key", "-out", $"{name}.csr", "-subj", subject);
            if (san is not null)
            {
                File.WriteAllText(Path.Combine(dir, $"{name}.ext"), $"subjectAltName={san}\n");
            }

            OpenSsl(["x509", "-req", "-in", $"{name}.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial", "-out", $"{name}.crt", "-days", "2",
                .. san is null ? Array.Empty<string>() : ["-extfile", $"{name}.ext"]]);
        }

        OpenSsl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.crt", "-days", "2", "-subj", "/CN=TimeTrack test CA");
        OpenSsl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "other-ca.key", "-out", "other-ca.crt", "-days", "2", "-subj", "/CN=Some other CA");
        Signed("server", "/CN=127.0.0.1", "IP:127.0.0.1"); // valid for 127.0.0.1, not for "localhost"
        Signed("client", "/CN=certuser", null);
        OpenSsl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "self-signed.key", "-out", "self-signed.crt", "-days", "2", "-subj", "/CN=127.0.0.1",
            "-addext", "subjectAltName=IP:127.0.0.1");
        if (!OperatingSystem.IsWindows())
        {
            // PostgreSQL and libpq refuse a key that others can read.
            File.SetUnixFileMode(Path.Combine(dir, "server.key"), UnixFileMode.UserRead | UnixFileMode.UserWrite);
            File.SetUnixFileMode(Path.Combine(dir, "client.key"), UnixFileMode.UserRead | UnixFileMode.UserWrite);
            File.SetUnixFileMode(Path.Combine(dir, "self-signed.key"), UnixFileMode.UserRead | UnixFileMode.UserWrite);
        }
    }
}

public sealed class TlsAndSocketTests(TlsServerFixture fixture) : IClassFixture<TlsServerFixture>, IAsyncLifetime
{
    private PostgresServer Server => fixture.Server;
    private string _database = null!;

    public async Task InitializeAsync() => _database = await Server.CreateDatabaseAsync("tls");

    public Task DisposeAsync() => Server.DropDatabaseAsync(_database);

    private string Url(string host = "127.0.0.1", string query = "") => Server.UrlFor(_database).Replace("@127.0.0.1:", $"@{host}:", StringComparison.Ordinal) + query;

    private static Task<ProcessResult> RunAsync(string url, params string[] args) => InProcessRunner.RunAsync([.. args, "--database-url", url]);

    /// <summary>The published runner (what the image holds) as a process: its TLS stack and native libraries, its stderr.</summary>
    private static async Task<ProcessResult> RunPublishedAsync(string url, params string[] args) =>
        await RunnerProcess.RunProgramAsync(Path.Combine(await PublishedRunner.GetFolderAsync(), "timetrack-migrate"), [.. args, "--database-url", url]);

    [Fact]
    public async Task Verify_full_with_the_right_CA_migrates_over_TLS_on_every_connection()
    {
        var url = Url(query: $"?sslmode=verify-full&sslrootcert={fixture.CaFile}");

        var up = await RunPublishedAsync(url, "up");

        up.ExitCode.ShouldBe(0, up.ToString());
        up.Stdout.ShouldContain($"the database is at {RunnerTestBase.Versions[^1]} (head)");
        up.Output.ShouldNotContain("libgssapi", Case.Insensitive); // a native library's complaint: only a process's stderr shows it
        (await RunAsync(url, "status")).Stdout.ShouldContain("pending:      none");
        (await RunAsync(Url(query: "?sslmode=require"), "status")).ExitCode.ShouldBe(0, "require encrypts without checking the certificate");
    }

    [Fact]
    public async Task A_certificate_that_does_not_name_the_host_or_comes_from_another_CA_exits_3_saying_so()
    {
        RunnerTestBase.ShouldFailWithOneLine(await RunAsync(Url("localhost", $"?sslmode=verify-full&sslrootcert={fixture.CaFile}"), "status"), 3,
            "the server's TLS certificate (CN=127.0.0.1) is not valid for the host name 'localhost'");
        RunnerTestBase.ShouldFailWithOneLine(await RunAsync(Url(query: $"?sslmode=verify-full&sslrootcert={fixture.OtherCaFile}"), "status"), 3,
            $"is not signed by the CA in sslrootcert {fixture.OtherCaFile}");
        RunnerTestBase.ShouldFailWithOneLine(await RunAsync(Url(query: $"?sslmode=verify-ca&sslrootcert={fixture.OtherCaFile}"), "up"), 3,
            "is not signed by the CA in sslrootcert");
        RunnerTestBase.ShouldFailWithOneLine(await RunAsync(Url(query: "?sslmode=verify-full"), "status", "--wait", "30"), 3,
            "is not signed by a CA this machine trusts (give the server's CA with sslrootcert=");
        (await TestDatabaseTables()).ShouldBe(0, "nothing was created");
    }

    /// <summary>The NativeAOT front's connection (NoOpStart.OpenAsync, PostgresTls: the trust store hidden where it plays no part) to <paramref name="url"/>: null when it opened, else why not.</summary>
    private static async Task<string?> FrontRefusesAsync(string url)
    {
        try
        {
            await using var connection = await NoOpStart.OpenAsync(DatabaseUrl.Parse(url), CancellationToken.None, connectTimeoutSeconds: 60); // a loaded machine: 3 s is the image's choice, not a verdict
            return null;
        }
        catch (Exception e) when (e is Npgsql.NpgsqlException or System.Security.Authentication.AuthenticationException)
        {
            return e.Message;
        }
    }

    [Fact]
    public async Task Verify_full_and_verify_ca_refuse_a_wrong_host_or_CA_in_the_front_as_in_the_runner()
    {
        // (URL, accepted?): hiding the system trust store (PostgresTls) must not weaken what sslmode promises.
        (string Url, bool Accepted)[] cases =
        [
            (Url(query: $"?sslmode=verify-full&sslrootcert={fixture.CaFile}"), true),
            (Url("localhost", $"?sslmode=verify-full&sslrootcert={fixture.CaFile}"), false), // the certificate names 127.0.0.1 only
            (Url(query: $"?sslmode=verify-full&sslrootcert={fixture.OtherCaFile}"), false),
            (Url(query: $"?sslmode=verify-ca&sslrootcert={fixture.OtherCaFile}"), false),
            (Url("localhost", $"?sslmode=verify-ca&sslrootcert={fixture.CaFile}"), true), // verify-ca checks the chain, not the name
            (Url(query: $"?sslmode=require&sslrootcert={fixture.OtherCaFile}"), false), // libpq: require with a root file verifies the chain
            (Url(query: "?sslmode=verify-full"), false), // no root file: the system's CAs, which do not know the test CA
        ];
        foreach (var (url, accepted) in cases)
        {
            var front = await FrontRefusesAsync(url);
            var runner = await RunAsync(url, "status");
            if (accepted)
            {
                front.ShouldBeNull(url);
                runner.ExitCode.ShouldBe(0, url);
            }
            else
            {
                front.ShouldNotBeNull(url);
                runner.ExitCode.ShouldBe(3, url);
            }
        }
    }

    [Fact]
    public async Task Require_and_prefer_accept_a_self_signed_server_certificate_in_the_front_and_the_runner()
    {
        await Server.ExecuteOverSocketAsync($"ALTER SYSTEM SET ssl_cert_file = '{fixture.SelfSigned}.crt'; ALTER SYSTEM SET ssl_key_file = '{fixture.SelfSigned}.key'; SELECT pg_reload_conf()");
        try
        {
            await Task.Delay(300); // the postmaster reloads asynchronously
            foreach (var url in new[] { Url(query: "?sslmode=require"), Url() })
            {
                (await FrontRefusesAsync(url)).ShouldBeNull(url);
                (await RunAsync(url, "status")).ExitCode.ShouldBe(0, url);
            }

            // The same server under verify-full with the test CA: refused, so the switch took effect.
            (await FrontRefusesAsync(Url(query: $"?sslmode=verify-full&sslrootcert={fixture.CaFile}"))).ShouldNotBeNull();
        }
        finally
        {
            await Server.ExecuteOverSocketAsync("ALTER SYSTEM RESET ssl_cert_file; ALTER SYSTEM RESET ssl_key_file; SELECT pg_reload_conf()");
            await Task.Delay(300);
        }
    }

    [Fact]
    public async Task Require_against_a_server_without_TLS_exits_3_at_once_saying_the_server_offers_none()
    {
        await Server.ExecuteOverSocketAsync("ALTER SYSTEM SET ssl = off; SELECT pg_reload_conf()");
        try
        {
            await Task.Delay(300); // the postmaster reloads asynchronously
            RunnerTestBase.ShouldFailWithOneLine(await RunAsync(Url(query: "?sslmode=require"), "up", "--wait", "60"), 3,
                "the server does not offer TLS, and sslmode=require requires it");
        }
        finally
        {
            await Server.ExecuteOverSocketAsync("ALTER SYSTEM RESET ssl; SELECT pg_reload_conf()");
            await Task.Delay(300);
        }
    }

    /// <summary>A database owned by certuser, whom pg_hba takes only with its client certificate, and the URL that presents it.</summary>
    private async Task<(string Database, string Url)> CertUserDatabaseAsync(string prefix)
    {
        var database = await Server.CreateDatabaseAsync(prefix);
        await Server.ExecuteOverSocketAsync($"ALTER DATABASE \"{database}\" OWNER TO certuser");
        await Server.ExecuteOverSocketAsync("ALTER SCHEMA public OWNER TO certuser", database);
        var tls = fixture.Tls;
        return (database, $"postgresql://certuser@127.0.0.1:{Server.Port}/{database}?sslmode=verify-full&sslrootcert={tls}/ca.crt&sslcert={tls}/client.crt&sslkey={tls}/client.key");
    }

    [Fact]
    public async Task A_client_certificate_authenticates_with_sslcert_and_sslkey()
    {
        var (database, url) = await CertUserDatabaseAsync("certuser");

        var up = await RunAsync(url, "up");

        up.ExitCode.ShouldBe(0, up.ToString());
        await Server.DropDatabaseAsync(database);
    }

    [Fact]
    public async Task Backup_and_restore_carry_the_TLS_settings_and_the_client_certificate_over_to_pg_dump_and_pg_restore()
    {
        // pg_hba takes certuser only with its certificate, and anybody only over TLS: pg_dump and
        // pg_restore connect only if the URL's sslmode, sslrootcert, sslcert and sslkey reach them.
        var (database, url) = await CertUserDatabaseAsync("certbackup");
        var dir = Directory.CreateTempSubdirectory("timetrack-tls-backups-").FullName;
        try
        {
            (await RunAsync(url, "up", "--to", RunnerTestBase.Versions[1].ToString())).ExitCode.ShouldBe(0);
            var up = await RunAsync(url, "up", "--backup", dir);
            up.ExitCode.ShouldBe(0, up.ToString());
            var backup = Directory.GetFiles(dir).ShouldHaveSingleItem();

            var restored = Url(query: $"?sslmode=verify-full&sslrootcert={fixture.CaFile}");
            var restore = await RunAsync(restored, "restore", backup);

            restore.ExitCode.ShouldBe(0, restore.ToString());
            restore.Stdout.ShouldContain($"current:      {RunnerTestBase.Versions[1]}");
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
            await Server.DropDatabaseAsync(database);
        }
    }

    [Fact]
    public async Task Unix_sockets_as_libpq_writes_them_in_the_query_and_percent_encoded_in_the_host()
    {
        var socketDirectory = Server.SocketDirectory!;
        var inQuery = $"postgresql:///{_database}?host={socketDirectory}&port={Server.Port}&user=postgres";
        var inHost = $"postgresql://postgres@{Uri.EscapeDataString(socketDirectory)}:{Server.Port}/{_database}";

        var up = await RunAsync(inQuery, "up", "--to", RunnerTestBase.Versions[1].ToString());
        up.ExitCode.ShouldBe(0, up.ToString());
        var rest = await RunAsync(inHost, "up");
        rest.ExitCode.ShouldBe(0, rest.ToString());
        rest.Stdout.ShouldContain("(head)");

        RunnerTestBase.ShouldFailWithOneLine(await RunAsync($"postgresql://postgres@%2Fno%2Fsuch%2Fdir:{Server.Port}/{_database}", "status"), 3,
            $"could not connect to socket /no/such/dir/.s.PGSQL.{Server.Port}: no server listens there");
    }

    private async Task<long> TestDatabaseTables()
    {
        var result = await RunAsync(Url(query: $"?sslmode=verify-full&sslrootcert={fixture.CaFile}"), "status", "--json");
        result.ExitCode.ShouldBe(0, result.ToString());
        return System.Text.Json.JsonDocument.Parse(result.Stdout).RootElement.GetProperty("history").GetString() == "empty" ? 0 : 1;
    }
}
