using Npgsql;
using TimeTrack.Migrations.Runner.Databases;
using TimeTrack.Migrations.Runner.Output;

namespace TimeTrack.Migrations.Tests.Runner;

public sealed class DatabaseUrlTests
{
    [Theory]
    [InlineData("postgresql://tt:secret@db:5432/timetrack", "db", 5432, "timetrack", "tt", "secret")]
    [InlineData("postgres://tt:secret@db/timetrack", "db", 5432, "timetrack", "tt", "secret")]
    [InlineData("postgresql://us%40er:p%40ss%3Aw%2Fo%25rd@10.0.0.5:6543/my%20db", "10.0.0.5", 6543, "my db", "us@er", "p@ss:w/o%rd")]
    [InlineData("postgresql://tt@localhost/timetrack", "localhost", 5432, "timetrack", "tt", null)]
    [InlineData("postgresql://tt:secret@[::1]:5433/timetrack", "::1", 5433, "timetrack", "tt", "secret")]
    [InlineData("postgresql://tt:p%20ss@db/timetrack", "db", 5432, "timetrack", "tt", "p ss")]
    public void Postgres_urls_become_npgsql_settings(string url, string host, int port, string database, string user, string? password)
    {
        var target = DatabaseUrl.Parse(url);

        target.Kind.ShouldBe(DatabaseKind.Postgres);
        var builder = new NpgsqlConnectionStringBuilder(target.ConnectionString);
        builder.Host.ShouldBe(host);
        builder.Port.ShouldBe(port);
        builder.Database.ShouldBe(database);
        builder.Username.ShouldBe(user);
        builder.Password.ShouldBe(password);
    }

    [Fact]
    public void Query_parameters_pass_on_to_npgsql_with_libpq_spellings()
    {
        var builder = new NpgsqlConnectionStringBuilder(
            DatabaseUrl.Parse("postgresql://u:p@h/d?sslmode=require&application_name=timetrack&connect_timeout=7&Command%20Timeout=60").ConnectionString);

        builder.SslMode.ShouldBe(SslMode.Require);
        builder.ApplicationName.ShouldBe("timetrack");
        builder.Timeout.ShouldBe(7);
        builder.CommandTimeout.ShouldBe(60);
    }

    [Theory]
    [InlineData("postgresql://u:p@h/d?sslmod=require", "query parameter 'sslmod'")]
    [InlineData("postgresql://u:p@h/d?sslmode=sometimes", "sslmode 'sometimes' is not one of disable, allow, prefer, require, verify-ca, verify-full")]
    [InlineData("postgresql://u:p@h/", "names no database")]
    [InlineData("oracle://u:p@h/d", "unsupported database URL scheme 'oracle'")]
    [InlineData("timetrack.db", "malformed database URL")]
    [InlineData("sqlite://relative.db", "malformed SQLite URL")]
    [InlineData("sqlite:///x.db?mode=ro", "takes no query parameters")]
    public void Bad_urls_are_invalid_input(string url, string message)
    {
        var error = Should.Throw<UserError>(() => DatabaseUrl.Parse(url));

        error.Code.ShouldBe(ExitCode.InvalidInput);
        error.Message.ShouldContain(message);
        error.Message.ShouldNotContain(":p@");
    }

    [Fact]
    public void Sqlite_urls_have_three_slashes_for_relative_and_four_for_absolute_paths()
    {
        var directory = Directory.CreateTempSubdirectory("timetrack-url-").FullName;
        Should.Throw<UserError>(() => DatabaseUrl.Parse("sqlite:///data/tt.db", directory))
            .Message.ShouldContain("does not exist (is the volume mounted?)");

        Directory.CreateDirectory(Path.Combine(directory, "data"));
        DatabaseUrl.Parse("sqlite:///data/tt.db", directory).SqlitePath.ShouldBe(Path.Combine(directory, "data", "tt.db"));
        DatabaseUrl.Parse($"sqlite:///{directory}/abs.db").SqlitePath.ShouldBe(Path.Combine(directory, "abs.db"));
        Directory.Delete(directory, recursive: true);
    }

    [Theory]
    [InlineData("postgresql://user:s3cr3t@host:5432/db", "postgresql://user:***@host:5432/db")]
    [InlineData("postgresql://user:p@ss@host/db", "postgresql://user:***@host/db")]
    [InlineData("postgresql://user@host/db", "postgresql://user@host/db")]
    [InlineData("sqlite:///timetrack.db", "sqlite:///timetrack.db")]
    public void Masking_hides_the_password_only(string url, string masked) => DatabaseUrl.Mask(url).ShouldBe(masked);

    [Theory]
    [InlineData("postgresql:///timetrack?host=/var/run/postgresql", "/var/run/postgresql", 5432)]
    [InlineData("postgresql://tt@%2Fvar%2Frun%2Fpostgresql/timetrack", "/var/run/postgresql", 5432)]
    [InlineData("postgresql://tt@%2Frun%2Fpg:6000/timetrack", "/run/pg", 6000)]
    [InlineData("postgresql:///timetrack?host=%2Frun%2Fpg&port=6001", "/run/pg", 6001)]
    public void Unix_socket_directories_are_hosts_as_libpq_writes_them(string url, string directory, int port)
    {
        var builder = new NpgsqlConnectionStringBuilder(DatabaseUrl.Parse(url).ConnectionString);

        builder.Host.ShouldBe(directory);
        builder.Port.ShouldBe(port);
        builder.Database.ShouldBe("timetrack");
    }

    [Theory]
    [InlineData("disable", SslMode.Disable)]
    [InlineData("allow", SslMode.Allow)]
    [InlineData("prefer", SslMode.Prefer)]
    [InlineData("require", SslMode.Require)]
    [InlineData("verify-ca", SslMode.VerifyCA)]
    [InlineData("verify-full", SslMode.VerifyFull)]
    public void Every_libpq_sslmode_is_understood(string mode, SslMode expected) =>
        new NpgsqlConnectionStringBuilder(DatabaseUrl.Parse($"postgresql://u@h/d?sslmode={mode}").ConnectionString).SslMode.ShouldBe(expected);

    [Fact]
    public void Tls_defaults_and_certificates_follow_libpq()
    {
        var ca = Path.GetTempFileName();
        try
        {
            var plain = new NpgsqlConnectionStringBuilder(DatabaseUrl.Parse("postgresql://u@h/d").ConnectionString);
            plain.SslMode.ShouldBe(SslMode.Prefer);
            plain.GssEncryptionMode.ShouldBe(GssEncryptionMode.Disable, "no Kerberos unless asked for");

            // libpq checks the chain under require when a root certificate is given.
            var withCa = new NpgsqlConnectionStringBuilder(DatabaseUrl.Parse($"postgresql://u@h/d?sslmode=require&sslrootcert={ca}").ConnectionString);
            withCa.SslMode.ShouldBe(SslMode.VerifyCA);
            withCa.RootCertificate.ShouldBe(ca);

            new NpgsqlConnectionStringBuilder(DatabaseUrl.Parse("postgresql://u@h/d?sslrootcert=system").ConnectionString).SslMode.ShouldBe(SslMode.VerifyFull);
            Should.Throw<UserError>(() => DatabaseUrl.Parse("postgresql://u@h/d?sslmode=require&sslrootcert=system")).Message.ShouldContain("needs sslmode=verify-full");
            Should.Throw<UserError>(() => DatabaseUrl.Parse("postgresql://u@h/d?sslrootcert=/no/such/ca.pem")).Message.ShouldContain("sslrootcert file '/no/such/ca.pem' does not exist");

            var gss = DatabaseUrl.Parse("postgresql://u@h/d?gssencmode=prefer");
            gss.UsesGss.ShouldBeTrue();
            new NpgsqlConnectionStringBuilder(gss.ConnectionString).GssEncryptionMode.ShouldBe(GssEncryptionMode.Prefer);
        }
        finally
        {
            File.Delete(ca);
        }
    }

    [Fact]
    public void Several_hosts_keep_their_ports()
    {
        var builder = new NpgsqlConnectionStringBuilder(DatabaseUrl.Parse("postgresql://u:p@db1:5433,db2/d?target_session_attrs=read-write").ConnectionString);

        builder.Host.ShouldBe("db1:5433,db2");
        builder.Port.ShouldBe(5432);
        builder.TargetSessionAttributes.ShouldBe("read-write");
    }

    [Theory]
    [InlineData("postgresql://u:p@ss/w#rd@db/x")]
    [InlineData("postgresql://u:p@ss@db/x")]
    [InlineData("postgresql://u:p/ss@db/x")]
    [InlineData("postgresql://u:p?ss@db/x")]
    [InlineData("postgresql://u:secret@db:54x2/x")]
    public void Raw_reserved_characters_in_a_password_are_refused_without_echoing_any_of_it(string url)
    {
        var error = Should.Throw<UserError>(() => DatabaseUrl.Parse(url));

        error.Code.ShouldBe(ExitCode.InvalidInput);
        error.Message.ShouldContain("percent-encode the user name and password (or use DATABASE_PASSWORD_FILE)");
        foreach (var fragment in new[] { "p@ss", "w#rd", "rd@db", "p/ss", "p?ss", "secret", "54x2", "db/x" })
        {
            error.Message.ShouldNotContain(fragment, Case.Sensitive);
        }
    }

    [Theory]
    [InlineData("postgresql://u:p%zz@db/x")]
    [InlineData("postgresql://u:p%4@db/x")]
    [InlineData("postgresql://u:p%C3%28@db/x")]
    public void Malformed_percent_encoding_is_invalid_input_not_an_authentication_failure(string url)
    {
        var error = Should.Throw<UserError>(() => DatabaseUrl.Parse(url));

        error.Code.ShouldBe(ExitCode.InvalidInput);
        error.Message.ShouldContain("percent-encod");
    }

    [Fact]
    public void A_password_from_the_environment_fills_in_only_when_the_url_has_none()
    {
        new NpgsqlConnectionStringBuilder(DatabaseUrl.Parse("postgresql://u@h/d", fallbackPassword: "from-file").ConnectionString).Password.ShouldBe("from-file");
        new NpgsqlConnectionStringBuilder(DatabaseUrl.Parse("postgresql://u:in-url@h/d", fallbackPassword: "from-file").ConnectionString).Password.ShouldBe("in-url");
    }

    [Fact]
    public void Passwords_in_the_query_are_masked_in_the_display_too()
    {
        var target = DatabaseUrl.Parse("postgresql://u@h/d?password=hunter2&application_name=tt");

        target.Password.ShouldBe("hunter2");
        target.Display.ShouldBe("postgresql://u@h/d?password=***&application_name=tt");
    }
}
