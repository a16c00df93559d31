using FluentMigrator.Runner;
using Microsoft.Extensions.DependencyInjection;
using TimeTrack.Migrations.Runner.Databases;
using TimeTrack.Migrations.Runner.Running;
using TimeTrack.Migrations.Runner.Schema;
using TimeTrack.Migrations.Tests.Infrastructure;

namespace TimeTrack.Migrations.Tests.Migrations;

/// <summary>
/// Data carried through the history: rows that exist at the baseline are still there, unchanged,
/// after going to head, back down to the baseline, and up again.
/// </summary>
public abstract class DataSurvivalTests(DatabaseKind provider) : IAsyncLifetime
{
    /// <summary>The tables of state 1: everything that holds data before any later migration.</summary>
    public static readonly string[] BaselineTables = ["companies", "teams", "users", "projects", "tasks", "time_entries", "system_settings"];

    private static readonly long Baseline = MigrationHistoryTests.Versions[0];

    private TestDatabase _db = null!;

    public async Task InitializeAsync() => _db = await TestDatabase.CreateAsync(provider, "data");

    public async Task DisposeAsync() => await _db.DisposeAsync();

    [Fact]
    public async Task Rows_seeded_at_the_baseline_survive_up_down_and_up_again()
    {
        await _db.MigrateToAsync(Baseline);
        await SeedAsync(_db);
        await AssertRowsSurviveTheRoundTripAsync();
    }

    [Fact]
    public async Task A_legacy_database_is_the_baseline_schema()
    {
        await _db.RestoreLegacyFixtureAsync();
        var legacy = await _db.ReadSchemaAsync();

        await using var fresh = await TestDatabase.CreateAsync(provider, "fresh");
        await fresh.MigrateToAsync(Baseline);

        SchemaComparer.Compare(legacy, await fresh.ReadSchemaAsync()).Render().ShouldBe("(no differences)");
    }

    [Fact]
    public async Task The_legacy_fixture_survives_up_down_and_up_again()
    {
        await _db.RestoreLegacyFixtureAsync();
        (await _db.CountAsync("time_entries")).ShouldBe(2000);
        await StampBaselineAsync(_db);
        await AssertRowsSurviveTheRoundTripAsync();
    }

    [Fact]
    public async Task Company_settings_gives_every_existing_company_exactly_one_row_of_defaults()
    {
        await _db.RestoreLegacyFixtureAsync();
        await StampBaselineAsync(_db);
        await _db.ExecuteAsync("INSERT INTO companies (name, slug) VALUES ('O''Brien & Söhne', 'obrien')");

        await _db.MigrateToAsync();

        var companies = await _db.CountAsync("companies");
        companies.ShouldBe(4);
        (await _db.CountAsync("company_settings")).ShouldBe(companies);
        (await _db.CountAsync("SELECT count(DISTINCT company_id) FROM company_settings")).ShouldBe(companies);
        (await _db.CountAsync("SELECT count(*) FROM companies c WHERE NOT EXISTS (SELECT 1 FROM company_settings s WHERE s.company_id = c.id)")).ShouldBe(0);
        (await _db.CountAsync("SELECT count(*) FROM company_settings WHERE mandatory_break_minutes = 30 AND region = 'DE' AND work_hours_per_day = 8")).ShouldBe(companies);
        (await _db.CountAsync("SELECT count(*) FROM tasks WHERE priority = 'MEDIUM'")).ShouldBe(await _db.CountAsync("tasks"));
    }

    private async Task AssertRowsSurviveTheRoundTripAsync()
    {
        var before = await SnapshotAsync(_db);
        before.Count.ShouldBeGreaterThan(10);

        await _db.MigrateToAsync();
        (await SnapshotAsync(_db, exceptColumns: ["priority"])).ShouldBe(before);

        await _db.MigrateToAsync(Baseline);
        (await SnapshotAsync(_db)).ShouldBe(before);

        await _db.MigrateToAsync();
        (await SnapshotAsync(_db, exceptColumns: ["priority"])).ShouldBe(before);
    }

    /// <summary>Every row of every baseline table, as text.</summary>
    internal static async Task<List<string>> SnapshotAsync(TestDatabase db, string[]? exceptColumns = null)
    {
        var rows = new List<string>();
        foreach (var table in BaselineTables)
        {
            rows.AddRange(await db.SnapshotAsync(table, exceptColumns ?? []));
        }

        return rows;
    }

    /// <summary>Records the baseline as applied without running it (what `stamp` does).</summary>
    internal static async Task StampBaselineAsync(TestDatabase db)
    {
        await using var database = await Database.OpenAsync(db.Target);
        await new VersionTable(db.Target.Provider).StampAsync(database, [(Baseline, "Baseline", null)], [], CancellationToken.None);
    }

    /// <summary>Realistic rows: every enum value, NULLs, quotes and non-ASCII text.</summary>
    internal static async Task SeedAsync(TestDatabase db)
    {
        var t = db.Provider == DatabaseKind.Sqlite ? "1" : "true";
        var f = db.Provider == DatabaseKind.Sqlite ? "0" : "false";
        await db.ExecuteAsync($"""
            INSERT INTO companies (id, name, slug, is_personal, max_users, created_at) VALUES
              (1, 'Müller & Partner', 'mueller', {f}, 50, '2024-01-02 08:00:00'),
              (2, 'O''Neil Ltd', 'oneil', {f}, NULL, '2024-01-03 09:30:00'),
              (3, 'Personal – Jana', 'jana', {t}, 1, '2024-01-04 10:00:00');
            INSERT INTO teams (id, company_id, name, description, created_at) VALUES
              (1, 1, 'Statik', 'Tragwerk', '2024-01-05 08:00:00'),
              (2, 2, 'Platform', NULL, '2024-01-05 09:00:00');
            INSERT INTO users (id, company_id, team_id, username, email, password_hash, role, is_verified, is_blocked, two_factor_enabled, two_factor_secret, created_at, last_login_at) VALUES
              (1, 1, 1, 'amueller', 'a@mueller.de', 'hash1', 'ADMIN', {t}, {f}, {t}, 'SECRET', '2024-01-06 08:00:00', '2024-02-01 07:59:00'),
              (2, 1, NULL, 'bschmidt', 'b@mueller.de', NULL, 'TEAM_MEMBER', {f}, {f}, {f}, NULL, '2024-01-06 08:10:00', NULL),
              (3, 2, 2, 'coneil', 'c@oneil.ie', 'hash3', 'TEAM_LEADER', {t}, {t}, {f}, NULL, '2024-01-07 08:00:00', NULL),
              (4, 2, 2, 'dsuper', 'd@oneil.ie', 'hash4', 'SUPERVISOR', {t}, {f}, {f}, NULL, '2024-01-07 08:00:00', NULL),
              (5, 3, NULL, 'jana', 'jana@example.org', 'hash5', 'SYSTEM_ADMIN', {t}, {f}, {f}, NULL, '2024-01-08 08:00:00', NULL);
            INSERT INTO projects (id, company_id, team_id, name, code, description, is_active, is_billable, hourly_rate, start_date, end_date, created_by_id, created_at) VALUES
              (1, 1, 1, 'Brücke', 'MP-1', 'Neckartal', {t}, {t}, 95.50, '2024-01-10', NULL, 1, '2024-01-09 08:00:00'),
              (2, 2, NULL, 'Internal', 'NW-INT', NULL, {f}, {f}, NULL, NULL, '2024-12-31', NULL, '2024-01-09 09:00:00');
            INSERT INTO tasks (id, project_id, name, description, status, assigned_to_id, estimated_hours, due_date, created_at) VALUES
              (1, 1, 'Entwurf', 'Erster Entwurf', 'TODO', 1, 12.25, '2024-03-01', '2024-01-10 08:00:00'),
              (2, 1, 'Review', NULL, 'IN_PROGRESS', NULL, NULL, NULL, '2024-01-10 08:00:00'),
              (3, 1, 'Abnahme', NULL, 'IN_REVIEW', 2, 4, NULL, '2024-01-10 08:00:00'),
              (4, 2, 'Done', NULL, 'DONE', 3, 1, NULL, '2024-01-10 08:00:00'),
              (5, 2, 'Dropped', NULL, 'CANCELLED', NULL, NULL, NULL, '2024-01-10 08:00:00');
            INSERT INTO time_entries (id, user_id, project_id, task_id, arrival_time, departure_time, duration, total_break_duration, notes, created_at) VALUES
              (1, 1, 1, 1, '2024-02-01 08:00:00', '2024-02-01 16:30:00', 28800, 1800, 'Baustelle', '2024-02-01 08:00:00'),
              (2, 2, NULL, NULL, '2024-02-01 09:00:00', NULL, NULL, 0, NULL, '2024-02-01 09:00:00'),
              (3, 3, 2, 4, '2024-02-02 07:45:00', '2024-02-02 15:00:00', 24300, 2400, 'It''s done', '2024-02-02 07:45:00');
            INSERT INTO system_settings (key, value, updated_at) VALUES
              ('registration_enabled', 'true', '2024-01-01 00:00:00'),
              ('tracking_script_code', NULL, '2024-01-01 00:00:00');
            """);
    }
}

public sealed class PostgresDataSurvivalTests() : DataSurvivalTests(DatabaseKind.Postgres);

public sealed class SqliteDataSurvivalTests() : DataSurvivalTests(DatabaseKind.Sqlite);
