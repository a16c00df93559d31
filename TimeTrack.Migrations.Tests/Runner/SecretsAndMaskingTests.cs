using System.Text.RegularExpressions;
using TimeTrack.Migrations.Runner.Databases;
using TimeTrack.Migrations.Tests.Infrastructure;

namespace TimeTrack.Migrations.Tests.Runner;

/// <summary>
/// Passwords out of the URL (the *_FILE secrets convention), URLs whose password was not
/// percent-encoded, and masking that hides passwords without mangling anything else.
/// </summary>
public sealed partial class SecretsAndMaskingTests() : RunnerTestBase(DatabaseKind.Postgres)
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

        var fromUrlFile = await InProcessRunner.RunAsync(["up", "--to", Versions[0].ToString()], new Dictionary<string, string?> { ["DATABASE_URL_FILE"] = SecretFile(Db.Url + "\n") });
        ShouldSucceed(fromUrlFile);

        var fromPasswordFile = await InProcessRunner.RunAsync(["up", "--to", Versions[1].ToString()], new Dictionary<string, string?>
        {
            ["DATABASE_URL"] = withoutPassword,
            ["DATABASE_PASSWORD_FILE"] = SecretFile(server.Password + "\r\n"),
        });
        ShouldSucceed(fromPasswordFile);

        var fromPassword = await InProcessRunner.RunAsync(["up"], new Dictionary<string, string?> { ["DATABASE_URL"] = withoutPassword, ["DATABASE_PASSWORD"] = server.Password });
        ShouldSucceed(fromPassword);
        (await Db.AppliedVersionsAsync()).ShouldBe(Versions);
    }

    [Fact]
    public async Task Ambiguous_missing_or_empty_secrets_are_invalid_input()
    {
        var (server, withoutPassword) = await ServerAsync(Db);

        ShouldFailWithOneLine(await InProcessRunner.RunAsync(["status"], new Dictionary<string, string?> { ["DATABASE_URL"] = Db.Url, ["DATABASE_URL_FILE"] = SecretFile(Db.Url) }), 2,
            "both DATABASE_URL and DATABASE_URL_FILE are set; set only one");
        ShouldFailWithOneLine(await InProcessRunner.RunAsync(["status"], new Dictionary<string, string?> { ["DATABASE_URL_FILE"] = "/run/secrets/nope" }), 2,
            "DATABASE_URL_FILE: cannot read '/run/secrets/nope': it does not exist (is the secret mounted?)");
        ShouldFailWithOneLine(await InProcessRunner.RunAsync(["status"], new Dictionary<string, string?> { ["DATABASE_URL"] = withoutPassword, ["DATABASE_PASSWORD_FILE"] = SecretFile("\n") }), 2,
            "is empty");
        ShouldFailWithOneLine(await InProcessRunner.RunAsync(["status"], new Dictionary<string, string?> { ["DATABASE_URL"] = withoutPassword, ["DATABASE_PASSWORD"] = "wrong" }), 3,
            $"authentication failed for user '{server.User}'");
    }

    [Theory]
    [InlineData("postgresql://u:p@ss/w#rd@db/x")]
    [InlineData("postgresql://u:p@ss@127.0.0.1/x")]
    [InlineData("postgresql://u:p%zz@127.0.0.1/x")]
    public async Task A_url_with_an_unencoded_password_exits_2_and_prints_none_of_it(string url)
    {
        var result = await InProcessRunner.RunAsync(["up", "--json", "--database-url", url]);

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
        // Each password on a role and a database of its own, all at once (the runs wait on the database).
        var transcripts = await Task.WhenAll(((string[])["innocuous-reference", .. Passwords]).Select(TranscriptAsync));

        foreach (var (password, transcript) in transcripts.Skip(1))
        {
            transcript.ShouldBe(transcripts[0].Transcript, $"with the password '{password}' the output differs");
        }
    }

    /// <summary>Every command's output with a role whose password is <paramref name="password"/>, names normalised.</summary>
    private static async Task<(string Password, string Transcript)> TranscriptAsync(string password)
    {
        var server = await PostgresServer.GetAsync();
        await using var db = await TestDatabase.CreateAsync(DatabaseKind.Postgres, "masking");
        var database = db.Url[(db.Url.LastIndexOf('/') + 1)..];
        var role = "masking_" + Guid.NewGuid().ToString("N")[..8];
        await db.ExecuteAsync($"CREATE ROLE {role} LOGIN PASSWORD '{password.Replace("'", "''", StringComparison.Ordinal)}'; " +
            $"ALTER DATABASE \"{database}\" OWNER TO {role}; ALTER SCHEMA public OWNER TO {role}");
        string UrlWith(string pw) => $"postgresql://{role}:{Uri.EscapeDataString(pw)}@{server.Host}:{server.Port}/{database}";
        var url = UrlWith(password);
        try
        {
            var outputs = new List<ProcessResult>
            {
                await InProcessRunner.RunAsync(["status", "--database-url", url]),
                await InProcessRunner.RunAsync(["up", "--to", Versions[1].ToString(), "--database-url", url]),
                await InProcessRunner.RunAsync(["script", "rollback", "--database-url", url]),
                await InProcessRunner.RunAsync(["rollback", "--steps", "1", "--database-url", url]),
                await InProcessRunner.RunAsync(["stamp", Versions[0].ToString(), "--json", "--database-url", url]),
                await InProcessRunner.RunAsync(["check", "--database-url", url]),
                await InProcessRunner.RunAsync(["status", "--json", "--database-url", url]),
                await InProcessRunner.RunAsync(["up", "--json", "--bogus", "--database-url", url]),
                await InProcessRunner.RunAsync(["status", "--markdown", "--database-url", url]),
            };
            await db.ExecuteAsync("DROP TABLE \"VersionInfo\"; DROP TABLE system_settings");
            outputs.Add(await InProcessRunner.RunAsync(["init", "--database-url", url])); // refused: lists what is missing
            outputs.Add(await InProcessRunner.RunAsync(["status", "--database-url", UrlWith(password + "-wrong")]));

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
            return (password, transcript.Replace(role, "ROLE", StringComparison.Ordinal).Replace(database, "DATABASE", StringComparison.Ordinal));
        }
        finally
        {
            await server.DropDatabaseAsync(database);
            await server.ExecuteAsync($"DROP ROLE IF EXISTS {role}");
        }
    }

    private static string Normalise(string text) =>
        Timestamps().Replace(Durations().Replace(text, "(N ms)"), "TIME");

    [GeneratedRegex(@"\(\d+ ms\)|""durationMs"": \d+")]
    private static partial Regex Durations();

    [GeneratedRegex(@"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}(\.\d+)?Z?")]
    private static partial Regex Timestamps();
}
