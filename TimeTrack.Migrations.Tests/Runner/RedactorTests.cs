using TimeTrack.Migrations.Runner.Output;

namespace TimeTrack.Migrations.Tests.Runner;

/// <summary>Masking by structure: passwords go, the words around them stay as they were.</summary>
public sealed class RedactorTests
{
    public static TheoryData<string> Passwords => new() { "postgres", "tt", "a", "settings", "p@ss:w/rd%?#&= x", "Zq8r0Lk2vT9mW4xN7bY1cP6dH3sJ5gF8aE0uR2iO" };

    private static readonly string[] Innocent =
    [
        "database: postgresql://postgres:***@db:5432/timetrack",
        "Nothing was written. Differences: missing table system_settings, extra column a.settings",
        "a migration failed: 42P01: relation \"tt_items\" does not exist",
        "applied 202406010900 Baseline (12 ms)",
    ];

    [Theory]
    [MemberData(nameof(Passwords))]
    public void Ordinary_text_is_left_exactly_as_it_is_whatever_the_password(string password)
    {
        var redactor = new Redactor();
        redactor.Add(password);

        foreach (var line in Innocent)
        {
            redactor.Redact(line).ShouldBe(line);
        }
    }

    [Theory]
    [MemberData(nameof(Passwords))]
    public void A_password_in_a_url_a_connection_string_or_quoted_in_an_error_is_masked(string password)
    {
        var redactor = new Redactor();
        redactor.Add(password);
        var encoded = Uri.EscapeDataString(password);

        redactor.Redact($"could not use postgresql://timetrack:{encoded}@db:5432/x").ShouldBe("could not use postgresql://timetrack:***@db:5432/x");
        var connectionString = new Npgsql.NpgsqlConnectionStringBuilder { Host = "db", Username = "timetrack", Password = password, Database = "x" }.ConnectionString;
        redactor.Redact(connectionString).ShouldBe("Host=db;Username=timetrack;Password=***;Database=x");
        redactor.Redact($"server said: password '{password}' is not valid").ShouldBe("server said: password '***' is not valid");
        redactor.Redact($"postgresql://timetrack@db/x?password={encoded}&sslmode=require").ShouldBe("postgresql://timetrack@db/x?password=***&sslmode=require");
    }

    [Fact]
    public void Urls_are_masked_even_when_no_secret_is_known() =>
        new Redactor().Redact("postgresql://user:p@ss@host/db and Password='x;y'").ShouldBe("postgresql://user:***@host/db and Password=***");
}
