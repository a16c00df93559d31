using TimeTrack.Migrations.Runner.Databases;
using TimeTrack.Migrations.Tests.Infrastructure;

namespace TimeTrack.Migrations.Tests.Runner;

/// <summary>Every bad input: one clear line, its documented exit code, no stack trace, the database as it was.</summary>
public abstract class BadInputTests(DatabaseKind provider) : RunnerTestBase(provider)
{
    public override async Task InitializeAsync()
    {
        await base.InitializeAsync();
        ShouldSucceed(await RunAsync("up", "--to", Versions[2].ToString()));
    }

    public static TheoryData<string[], string> InvalidVersionArguments => new()
    {
        { ["up", "--to", "1999"], "version 1999 does not exist" },
        { ["stamp", "--repair", "head"], "--repair takes no version and no --profile" },
        { ["stamp", "--repair", "--profile", "legacy"], "--repair takes no version and no --profile" },
        { ["rollback", "--to", "1999"], "version 1999 does not exist" },
        { ["rollback", "--to", Versions[4].ToString()], $"version {Versions[4]} is not applied" },
        { ["stamp", "1999"], "version 1999 does not exist" },
        { ["stamp", "latest"], "'latest' is not a version number" },
        { ["script", "up", "--to", "1999"], "version 1999 does not exist" },
        { ["script", "rollback", "--to", "1999"], "version 1999 does not exist" },
        { ["rollback", "--steps", "0"], "--steps must be 1 or more" },
        { ["rollback", "--steps", "-2"], "--steps must be 1 or more" },
        { ["rollback", "--steps", "4"], "only 3 migration(s) are applied" },
        { ["rollback", "--to", Versions[0].ToString(), "--steps", "1"], "not both" },
        { ["script", "up", "--steps", "1"], "--steps goes with 'script rollback'" },
    };

    [Theory]
    [MemberData(nameof(InvalidVersionArguments))]
    public async Task An_invalid_version_or_step_count_exits_2_and_changes_nothing(string[] args, string message)
    {
        var before = await Db.FingerprintAsync();

        ShouldFailWithOneLine(await RunAsync(args), 2, message);

        (await Db.FingerprintAsync()).ShouldBe(before);
    }

    [Theory]
    [InlineData(new[] { "frobnicate" }, "frobnicate")]
    [InlineData(new[] { "up", "--no-such-option" }, "--no-such-option")]
    [InlineData(new[] { "rollback", "--steps", "many" }, "many")]
    [InlineData(new[] { "script", "sideways" }, "sideways")]
    [InlineData(new string[0], "command")]
    public async Task Unknown_commands_and_options_exit_2_with_one_line(string[] args, string message)
    {
        var before = await Db.FingerprintAsync();

        ShouldFailWithOneLine(await RunAsync(args), 2, message);

        (await Db.FingerprintAsync()).ShouldBe(before);
    }
}

public sealed class PostgresBadInputTests() : BadInputTests(DatabaseKind.Postgres)
{
    [Fact]
    public async Task Connection_failures_exit_3_saying_which_part_was_wrong_without_the_password()
    {
        var server = await PostgresServer.GetAsync();
        const string wrongPassword = "not-the-password-Zq9";
        RunnerProcess.RegisterSecret(wrongPassword);
        var before = await Db.FingerprintAsync();

        ShouldFailWithOneLine(await InProcessRunner.RunAsync(["status", "--database-url", server.UrlFor(((PostgresTestDatabase)Db).Name, wrongPassword)]), 3, "authentication failed");
        ShouldFailWithOneLine(await InProcessRunner.RunAsync(["up", "--database-url", server.UrlFor("no_such_database")]), 3, "database 'no_such_database' does not exist");
        ShouldFailWithOneLine(await InProcessRunner.RunAsync(["up", "--database-url", $"postgresql://u:{wrongPassword}@no-such-host.invalid:5432/db"]), 3, "unknown host 'no-such-host.invalid'");
        ShouldFailWithOneLine(await InProcessRunner.RunAsync(["up", "--database-url", $"postgresql://u:{wrongPassword}@127.0.0.1:1/db"]), 3, "connection refused");

        (await Db.FingerprintAsync()).ShouldBe(before);
    }

    [Theory]
    [InlineData("postgresql://u:p@host:5432/db?sslmod=require", "query parameter 'sslmod'")]
    [InlineData("postgresql://u:p@host:5432/", "names no database")]
    [InlineData("postgresql://u:p@host:notaport/db", "percent-encode the user name and password")]
    [InlineData("mysql://u:p@host/db", "unsupported database URL scheme 'mysql'")]
    [InlineData("just-a-string", "malformed database URL")]
    public async Task Malformed_urls_exit_2_without_connecting(string url, string message)
    {
        var result = await InProcessRunner.RunAsync(["up", "--database-url", url]);

        ShouldFailWithOneLine(result, 2, message);
        result.Output.ShouldNotContain(":p@");
    }
}

public sealed class SqliteBadInputTests() : BadInputTests(DatabaseKind.Sqlite)
{
    [Fact]
    public async Task A_sqlite_path_whose_directory_does_not_exist_exits_2_and_creates_nothing()
    {
        var missing = Path.Combine(Path.GetTempPath(), "timetrack-no-such-dir-" + Guid.NewGuid().ToString("N"));

        ShouldFailWithOneLine(await InProcessRunner.RunAsync(["up", "--database-url", $"sqlite:///{missing}/timetrack.db"]), 2, "does not exist (is the volume mounted?)");

        Directory.Exists(missing).ShouldBeFalse();
    }
}
