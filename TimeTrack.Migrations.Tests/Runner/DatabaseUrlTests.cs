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
    public void Postgres_urls_become_npgsql_settings(string url, string host, int port, string database, string user, string? password)
    {
        var target = DatabaseUrl.Parse(url);

        target.Provider.ShouldBe(DatabaseProvider.Postgres);
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
    [InlineData("postgresql://u:p@h/d?sslmode=sometimes", "query parameter 'sslmode'")]
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
}
