using System.Text.RegularExpressions;
using TimeTrack.Migrations.Runner.Databases;
using TimeTrack.Migrations.Tests.Infrastructure;

namespace TimeTrack.Migrations.Tests.Runner;

/// <summary>
/// Passwords out of the URL (the *_FILE secrets convention), URLs whose password was not
/// percent-encoded, and masking that hides passwords without mangling anything else.
/// </summary>
public sealed partial class SecretsAndMaskingTests() : RunnerTestBase(DatabaseProvider.Postgres)
{
    private readonly List<string> _files = [];

    public override async Task DisposeAsync()
    {
        _files.ForEach(File.Delete);
        await base.DisposeAsync();
    }

    private string SecretFile(string content)
    {
        var path = Path.GetTempFileName();
        File.WriteAllText(path, content);
        _files.Add(path);
        return path;
    }

    private static async Task<(PostgresServer Server, string UrlWithoutPassword)> ServerAsync(TestDatabase db)
    {
        var server = await PostgresServer.GetAsync();
        return (server, db.Url.Replace($":{Uri.EscapeDataString(server.Password)}@", "@", StringComparison.Ordinal));
    }

    [Fact]
    public async Task The_url_or_the_password_can_come_from_files_with_their_trailing_newline_ignored()
    {
        var (server, withoutPassword) = await ServerAsync(Db);
        withoutPassword.ShouldNotContain(server.Password);

        var fromUrlFile = await RunnerProcess.RunAsync(["up", "--to", Versions[0].ToString()], new Dictionary<string, string?> { ["DATABASE_URL_FILE"] = SecretFile(Db.Url + "\n") });
        ShouldSucceed(fromUrlFile);

        var fromPasswordFile = await RunnerProcess.RunAsync(["up", "--to", Versions[1].ToString()], new Dictionary<string, string?>
        {
            ["DATABASE_URL"] = withoutPassword,
            ["DATABASE_PASSWORD_FILE"] = SecretFile(server.Password + "\r\n"),
        });
        ShouldSucceed(fromPasswordFile);

        var fromPassword = await RunnerProcess.RunAsync(["up"], new Dictionary<string, string?> { ["DATABASE_URL"] = withoutPassword, ["DATABASE_PASSWORD"] = server.Password });
        ShouldSucceed(fromPassword);
        (await Db.AppliedVersionsAsync()).ShouldBe(Versions);
    }

    [Fact]
    public async Task Ambiguous_missing_or_empty_secrets_are_invalid_input()
    {
        var (server, withoutPassword) = await ServerAsync(Db);

        ShouldFailWithOneLine(await RunnerProcess.RunAsync(["status"], new Dictionary<string, string?> { ["DATABASE_URL"] = Db.Url, ["DATABASE_URL_FILE"] = SecretFile(Db.Url) }), 2,
            "both DATABASE_URL and DATABASE_URL_FILE are set; set only one");
        ShouldFailWithOneLine(await RunnerProcess.RunAsync(["status"], new Dictionary<string, string?> { ["DATABASE_URL_FILE"] = "/run/secrets/nope" }), 2,
            "DATABASE_URL_FILE: cannot read '/run/secrets/nope': it does not exist (is the secret mounted?)");
        ShouldFailWithOneLine(await RunnerProcess.RunAsync(["status"], new Dictionary<string, string?> { ["DATABASE_URL"] = withoutPassword, ["DATABASE_PASSWORD_FILE"] = SecretFile("\n") }), 2,
            "is empty");
        ShouldFailWithOneLine(await RunnerProcess.RunAsync(["status"], new Dictionary<string, string?> { ["DATABASE_URL"] = withoutPassword, ["DATABASE_PASSWORD"] = "wrong" }), 3,
            $"authentication failed for user '{server.User}'");
    }

    [Theory]
    [InlineData("postgresql://u:p@ss/w#rd@db/x")]
    [InlineData("postgresql://u:p@ss@127.0.0.1/x")]
    [InlineData("postgresql://u:p%zz@127.0.0.1/x")]
    public async Task A_url_with_an_unencoded_password_exits_2_and_prints_none_of_it(string url)
    {
        var result = await RunnerProcess.RunAsync(["up", "--json", "--database-url", url]);

        ShouldFailWithOneLine(result, 2, "percent-encod");
        foreach (var fragment in new[] { "p@ss", "w#rd", "rd@db", "p%zz" })
        {
            result.Output.ShouldNotContain(fragment);
        }

        result.Stdout.ShouldContain("\"exitCode\":2");
    }

    private static readonly string[] Passwords = ["postgres", "tt", "a", "settings", "p@ss:w/rd%?#&= x", "Zq8r0Lk2vT9mW4xN7bY1cP6dH3sJ5gF8aE0uR2iO"];

    /// <summary>
    /// The same commands with a role whose password is each of <see cref="Passwords"/>: every
    /// output is byte for byte what it is with an innocuous password (timings aside), so nothing
    /// was masked that is not a password, and no password shows in a URL, a setting or a quote.
    /// </summary>
    [Fact]
    public async Task Every_output_is_the_same_whatever_the_password_and_shows_none_of_it()
    {
        var server = await PostgresServer.GetAsync();
        var role = "masking_" + Guid.NewGuid().ToString("N")[..8];
        await Db.ExecuteAsync($"CREATE ROLE {role} LOGIN PASSWORD 'x'; GRANT ALL ON SCHEMA public TO {role}; ALTER DATABASE \"{DatabaseName}\" OWNER TO {role}; ALTER SCHEMA public OWNER TO {role}");
        string? reference = null;
        foreach (var password in (string[])["innocuous-reference", .. Passwords])
        {
            await Db.ExecuteAsync($"ALTER ROLE {role} PASSWORD '{password.Replace("'", "''", StringComparison.Ordinal)}'; DROP SCHEMA public CASCADE; CREATE SCHEMA public AUTHORIZATION {role}");
            string UrlWith(string pw) => $"postgresql://{role}:{Uri.EscapeDataString(pw)}@{server.Host}:{server.Port}/{DatabaseName}";
            var url = UrlWith(password);
            var outputs = new List<ProcessResult>
            {
                await RunnerProcess.RunAsync(["status", "--database-url", url]),
                await RunnerProcess.RunAsync(["up", "--to", Versions[0].ToString(), "--database-url", url]),
                await RunnerProcess.RunAsync(["status", "--json", "--database-url", url]),
                await RunnerProcess.RunAsync(["up", "--json", "--bogus", "--database-url", url]),
                await RunnerProcess.RunAsync(["status", "--markdown", "--database-url", url]),
            };
            await Db.ExecuteAsync("DROP TABLE \"VersionInfo\"; DROP TABLE system_settings");
            outputs.Add(await RunnerProcess.RunAsync(["init", "--database-url", url])); // refused: lists what is missing
            outputs.Add(await RunnerProcess.RunAsync(["status", "--database-url", UrlWith(password + "-wrong")]));

            foreach (var output in outputs)
            {
                foreach (var leak in new[] { $":{password}@", $":{Uri.EscapeDataString(password)}@", $"Password={password}", $"'{password}'", $"\"{password}\"" })
                {
                    output.Output.ShouldNotContain(leak, Case.Sensitive, output.ToString());
                }

                if (password.Length > 10)
                {
                    output.Output.ShouldNotContain(password, Case.Sensitive, output.ToString());
                }
            }

            var transcript = Normalise(string.Join("\n---\n", outputs.Select(o => o.ToString())));
            transcript.ShouldContain($"postgresql://{role}:***@");
            transcript.ShouldContain("missing table system_settings");
            if (reference is null)
            {
                reference = transcript;
            }
            else
            {
                transcript.ShouldBe(reference, $"with the password '{password}' the output differs");
            }
        }
    }

    private string DatabaseName => Db.Url[(Db.Url.LastIndexOf('/') + 1)..];

    private static string Normalise(string text) =>
        Timestamps().Replace(Durations().Replace(text, "(N ms)"), "TIME");

    [GeneratedRegex(@"\(\d+ ms\)|""durationMs"": \d+")]
    private static partial Regex Durations();

    [GeneratedRegex(@"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}(\.\d+)?Z?")]
    private static partial Regex Timestamps();
}
