using System.Text.Json;
using TimeTrack.Migrations.Runner.Databases;
using TimeTrack.Migrations.Runner.Output;
using TimeTrack.Migrations.Tests.Infrastructure;

namespace TimeTrack.Migrations.Tests.Runner;

/// <summary>
/// Secret files that are not files (a named pipe, a device), text in the database that would
/// forge output lines or colours, and roles that lack a privilege: one line, a documented exit
/// code, nothing leaked, nothing changed. The bad inputs without a set-up of their own are in
/// <see cref="BadInputMatrixTests"/>.
/// </summary>
public abstract class HostileInputTests(DatabaseKind provider) : RunnerTestBase(provider)
{
    // A line break that would forge a warning, an escape sequence (red), a C1 CSI and a bidi override.
    protected const string Hostile = "evil\nwarning: forged line\u001b[31mred\u009b31m\u202Eesrever";

    [Fact]
    public async Task Text_read_from_the_database_cannot_forge_lines_or_colours_and_json_keeps_it_exactly()
    {
        ShouldSucceed(await RunAsync("up", "--to", Versions[0].ToString()));
        await SetDescriptionAsync(Versions[0], Hostile);

        var text = await RunAsync("status");
        var json = await RunAsync("status", "--json");

        ShouldSucceed(text);
        text.Output.Split('\n').ShouldNotContain(line => line.TrimStart().StartsWith("warning:", StringComparison.Ordinal), text.ToString());
        text.Output.ShouldNotContain("\u001b");
        text.Output.ShouldNotContain("\u009b");
        text.Output.ShouldNotContain("\u202E");
        text.Stdout.ShouldContain(@"evil\u000Awarning: forged line\u001B[31mred\u009B31m\u202Eesrever");
        ShouldSucceed(json);
        JsonDocument.Parse(json.Stdout).RootElement.GetProperty("applied")[0].GetProperty("description").GetString().ShouldBe(Hostile);
    }

    protected abstract Task SetDescriptionAsync(long version, string description);
}

public sealed class PostgresHostileInputTests() : HostileInputTests(DatabaseKind.Postgres)
{
    protected override async Task SetDescriptionAsync(long version, string description)
    {
        await using var connection = Db.OpenConnection();
        await using var command = connection.CreateCommand();
        command.CommandText = $"UPDATE \"VersionInfo\" SET \"Description\" = @d WHERE \"Version\" = {version}";
        command.Parameters.Add(new Npgsql.NpgsqlParameter("d", description));
        (await command.ExecuteNonQueryAsync()).ShouldBe(1);
    }

    /// <summary>A role of its own that may log in and nothing more (PostgreSQL 15: no CREATE on public).</summary>
    private async Task<(string Role, string Url)> BareRoleAsync()
    {
        var server = await PostgresServer.GetAsync();
        var role = "bare_" + Guid.NewGuid().ToString("N")[..8];
        const string password = "bare-role-pw-Kd2";
        RunnerProcess.RegisterSecret(password);
        await Db.ExecuteAsync($"CREATE ROLE {role} LOGIN PASSWORD '{password}'");
        return (role, $"postgresql://{role}:{password}@{server.Host}:{server.Port}/{((PostgresTestDatabase)Db).Name}");
    }

    [Fact]
    public async Task Up_as_a_role_without_create_on_the_schema_exits_5_with_one_line_naming_the_privilege_and_object()
    {
        var (role, url) = await BareRoleAsync();
        var before = await Db.FingerprintAsync();
        try
        {
            var result = await InProcessRunner.RunAsync(["up", "--database-url", url]);

            // The preflight answers before the first write, the version table's creation included.
            ShouldFailWithOneLine(result, 5, $"role {role} lacks CREATE on schema public, needed by the version table. Nothing was written");
            (await Db.FingerprintAsync()).ShouldBe(before);
        }
        finally
        {
            await Db.ExecuteAsync($"DROP OWNED BY {role}; DROP ROLE {role}");
        }
    }

    [Fact]
    public async Task Status_as_a_role_without_select_on_the_version_table_exits_5_with_one_line()
    {
        ShouldSucceed(await RunAsync("up", "--to", Versions[0].ToString()));
        var (role, url) = await BareRoleAsync();
        var before = await Db.FingerprintAsync();
        try
        {
            var result = await InProcessRunner.RunAsync(["status", "--database-url", url]);

            ShouldFailWithOneLine(result, 5, "42501: permission denied for table VersionInfo: ");
            result.Stderr.ShouldContain("SELECT on the version table");
            (await Db.FingerprintAsync()).ShouldBe(before);
        }
        finally
        {
            await Db.ExecuteAsync($"DROP OWNED BY {role}; DROP ROLE {role}");
        }
    }

    [Fact]
    public async Task A_malformed_url_is_not_echoed_in_the_json_error_either()
    {
        const string password = "S3cret-json-Wm4";
        RunnerProcess.RegisterSecret(password);

        var result = await InProcessRunner.RunAsync(["status", "--json", "--database-url", $"postgresql:/app:{password}@db/tt"]);

        result.ExitCode.ShouldBe(2);
        var error = JsonDocument.Parse(result.Stdout).RootElement.GetProperty("error");
        error.GetProperty("exitCode").GetInt32().ShouldBe(2);
        error.GetProperty("message").GetString()!.ShouldContain("'postgresql:' must be followed by '//'");
        result.Output.ShouldNotContain("app:");
    }

    /// <summary>
    /// As processes: before the fix a named pipe blocked the runner for ever (SIGTERM ignored), and
    /// /dev/zero grew its memory without bound. Each secret file is read only if it is a regular file.
    /// </summary>
    [Theory]
    [InlineData("DATABASE_URL_FILE", "fifo", "is a named pipe (FIFO)")]
    [InlineData("DATABASE_PASSWORD_FILE", "fifo", "is a named pipe (FIFO)")]
    [InlineData("DATABASE_URL_FILE", "/dev/zero", "is a device")]
    [InlineData("DATABASE_PASSWORD_FILE", "/dev/urandom", "is a device")]
    public async Task A_secret_file_that_is_a_pipe_or_a_device_exits_2_naming_what_it_is(string variable, string file, string expected)
    {
        var directory = Directory.CreateTempSubdirectory("timetrack-fifo-").FullName;
        try
        {
            if (file == "fifo")
            {
                file = Path.Combine(directory, "fifo");
                using var mkfifo = System.Diagnostics.Process.Start("mkfifo", [file]);
                await mkfifo.WaitForExitAsync();
                mkfifo.ExitCode.ShouldBe(0);
            }

            var environment = new Dictionary<string, string?> { [variable] = file };
            if (variable == "DATABASE_PASSWORD_FILE")
            {
                environment["DATABASE_URL"] = "postgresql://someone@127.0.0.1:1/db";
            }

            var result = await RunnerProcess.RunAsync(["status"], environment, timeout: TimeSpan.FromMinutes(1));

            ShouldFailWithOneLine(result, 2, $"{variable}: '{file}' {expected}");
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }
}

public sealed class SqliteHostileInputTests() : HostileInputTests(DatabaseKind.Sqlite)
{
    protected override async Task SetDescriptionAsync(long version, string description)
    {
        await using var connection = Db.OpenConnection();
        await using var command = connection.CreateCommand();
        command.CommandText = $"UPDATE \"VersionInfo\" SET \"Description\" = $d WHERE \"Version\" = {version}";
        command.Parameters.Add(new Microsoft.Data.Sqlite.SqliteParameter("$d", description));
        (await command.ExecuteNonQueryAsync()).ShouldBe(1);
    }

    [Theory]
    [InlineData("plain text", "plain text")]
    [InlineData("a\u001b[2Jb", @"a\u001B[2Jb")]
    [InlineData("bell\u0007 del\u007f c1\u0085", @"bell\u0007 del\u007F c1\u0085")]
    [InlineData("over\rwrite", @"over\u000Dwrite")]
    [InlineData("crlf\r\nnext", "crlf\n  next")]
    [InlineData("line\nwarning: forged", "line\n  warning: forged")]
    [InlineData("kept\n    indented", "kept\n    indented")]
    [InlineData("tab\tkept", "tab\tkept")]
    [InlineData("\u2066isolate\u2069 \u202Aembed\u202C", @"\u2066isolate\u2069 \u202Aembed\u202C")]
    public void Printable_escapes_control_characters_and_indents_what_follows_a_line_break(string text, string printed) =>
        LogLine.Printable(text).ShouldBe(printed);

    [Fact]
    public void Printable_one_line_escapes_line_breaks_too() =>
        LogLine.Printable("a\nwarning: b", oneLine: true).ShouldBe(@"a\u000Awarning: b");
}
