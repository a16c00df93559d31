using TimeTrack.Migrations.Runner.Databases;

namespace TimeTrack.Migrations.Tests.Runner;

/// <summary>
/// Exact verification: hand-made changes to a database at head, each of which `check
/// --database-url` must refuse (exit 5) and name; the same kind of change on the legacy fixture
/// makes `init` refuse adoption without writing anything; and no false alarms — a fresh database,
/// one at every version of the history, and an adopted legacy database match exactly.
/// </summary>
public abstract class DriftMatrixTests(DatabaseProvider provider) : RunnerTestBase(provider)
{
    /// <summary>Brings the database to head in-process (faster than the runner; the check is what is tested).</summary>
    protected void MigrateToHead() => Db.Migrate(runner => runner.MigrateUp());

    protected async Task CheckRefusesAsync(string sql, string expected)
    {
        MigrateToHead();
        await Db.ExecuteAsync(sql);

        var result = await RunAsync("check");

        result.ExitCode.ShouldBe(5, result.ToString());
        result.Stdout.ShouldContain("the database differs from the schema of version", Case.Sensitive, result.ToString());

        // The blocking difference (stdout), or for a changed index the index found in its place
        // (a tolerated extra index, on stderr, beside the blocking "missing index").
        result.Output.ShouldContain(expected, Case.Sensitive, result.ToString());
    }

    [Fact]
    public async Task A_database_at_every_version_of_the_history_matches_exactly()
    {
        foreach (var version in Versions)
        {
            ShouldSucceed(await RunAsync("up", "--to", version.ToString()));
            var result = await RunAsync("check");
            ShouldSucceed(result);
            result.Stderr.ShouldNotContain("not created by the migrations", Case.Sensitive, $"at {version}: {result}");
        }
    }

    [Fact]
    public async Task An_adopted_legacy_database_matches_exactly()
    {
        await Db.RestoreLegacyFixtureAsync();
        ShouldSucceed(await RunAsync("init"));

        var result = await RunAsync("check");

        ShouldSucceed(result);
        result.Stderr.ShouldNotContain("not created by the migrations", Case.Sensitive, result.ToString());
    }

    protected async Task InitRefusesLegacyAsync(string sql, string expected)
    {
        await Db.RestoreLegacyFixtureAsync();
        await Db.ExecuteAsync(sql);
        var dump = await Db.DumpAsync();

        var result = await RunAsync("init");

        result.ExitCode.ShouldBe(5, result.ToString());
        result.Stderr.ShouldContain("matches no stamping profile", Case.Sensitive, result.ToString());
        result.Stderr.ShouldContain(expected, Case.Sensitive, result.ToString());
        (await Db.DumpAsync()).ShouldBe(dump);
    }
}

public sealed class PostgresDriftMatrixTests() : DriftMatrixTests(DatabaseProvider.Postgres)
{
    public static readonly TheoryData<string, string> Changes = new()
    {
        { "ALTER TABLE teams ALTER COLUMN id DROP DEFAULT", "column teams.id has no default (expected nextval(" },
        { "ALTER TABLE teams ALTER COLUMN id TYPE bigint", "column teams.id is bigint not null, expected integer not null" },
        { "ALTER TABLE users RENAME CONSTRAINT users_team_id_fkey TO fk_users_team", "unexpected foreign key fk_users_team users(team_id) -> teams" },
        { "ALTER TABLE time_entries ALTER COLUMN total_break_duration DROP DEFAULT", "column time_entries.total_break_duration has no default (expected 0)" },
        { "ALTER TABLE time_entries ALTER COLUMN total_break_duration SET DEFAULT 5", "column time_entries.total_break_duration has default 5 (expected 0)" },
        { "ALTER TABLE users ALTER COLUMN is_verified DROP DEFAULT", "column users.is_verified has no default (expected false)" },
        { "ALTER TABLE tasks ALTER COLUMN priority SET DEFAULT 'HIGH'", "column tasks.priority has default 'HIGH' (expected 'MEDIUM')" },
        { "ALTER TABLE users ALTER COLUMN email TYPE varchar(200)", "column users.email is varchar(200) not null, expected varchar(120) not null" },
        { "ALTER TABLE users ALTER COLUMN email DROP NOT NULL", "column users.email is varchar(120) null, expected varchar(120) not null" },
        { "ALTER TABLE company_settings ALTER COLUMN work_hours_per_day TYPE numeric(5,2)", "column company_settings.work_hours_per_day is numeric(5,2) not null, expected numeric(4,2) not null" },
        { "ALTER TABLE time_entries ALTER COLUMN arrival_time TYPE timestamptz", "column time_entries.arrival_time is timestamptz not null, expected timestamp not null" },
        { "ALTER TABLE users ADD COLUMN hack text", "extra column users.hack (text null)" },
        { "ALTER TABLE users DROP COLUMN two_factor_secret", "missing column users.two_factor_secret" },
        { "DROP TABLE user_preferences", "missing table user_preferences" },
        { "ALTER TABLE users RENAME CONSTRAINT users_email_key TO users_email_uq", "unexpected unique constraint users_email_uq on users(email)" },
        { "ALTER TABLE users DROP CONSTRAINT users_email_key", "missing unique constraint users_email_key on users(email)" },
        { "ALTER TABLE teams RENAME CONSTRAINT teams_pkey TO teams_pk", "unexpected primary key teams_pk on teams(id)" },
        { "ALTER TABLE projects DROP CONSTRAINT projects_pkey CASCADE", "missing primary key projects_pkey on projects(id)" },
        {
            "ALTER TABLE user_preferences DROP CONSTRAINT user_preferences_user_id_fkey; " +
            "ALTER TABLE user_preferences ADD CONSTRAINT user_preferences_user_id_fkey FOREIGN KEY (user_id) REFERENCES users (id)",
            "unexpected foreign key user_preferences_user_id_fkey user_preferences(user_id) -> users (on delete NoAction)"
        },
        { "DROP INDEX ix_time_entries_user_arrival", "missing index ix_time_entries_user_arrival on time_entries(user_id, arrival_time)" },
        {
            "DROP INDEX ix_time_entries_user_arrival; CREATE INDEX ix_time_entries_user_arrival ON time_entries (user_id)",
            "missing index ix_time_entries_user_arrival on time_entries(user_id, arrival_time)"
        },
        { "ALTER INDEX ix_time_entries_user_arrival RENAME TO ix_entries", "missing index ix_time_entries_user_arrival" },
        {
            "DROP INDEX ix_time_entries_user_arrival; CREATE UNIQUE INDEX ix_time_entries_user_arrival ON time_entries (user_id, arrival_time)",
            "missing index ix_time_entries_user_arrival on time_entries(user_id, arrival_time)"
        },
        {
            "DROP INDEX ix_time_entries_user_arrival; CREATE INDEX ix_time_entries_user_arrival ON time_entries USING brin (user_id, arrival_time)",
            "extra index ix_time_entries_user_arrival on time_entries(user_id, arrival_time) using brin"
        },
        {
            "DROP INDEX ix_time_entries_user_arrival; CREATE INDEX ix_time_entries_user_arrival ON time_entries (user_id, arrival_time) WHERE departure_time IS NULL",
            "extra index ix_time_entries_user_arrival on time_entries(user_id, arrival_time) where (departure_time IS NULL)"
        },
        { "ALTER TABLE companies ADD CONSTRAINT companies_max_users_check CHECK (max_users > 0)", "unexpected check constraint companies_max_users_check on companies: CHECK ((max_users > 0))" },
        { "ALTER TYPE taskpriority ADD VALUE 'BLOCKER'", "enum taskpriority has (LOW, MEDIUM, HIGH, URGENT, BLOCKER)" },
        { "ALTER TYPE role RENAME VALUE 'ADMIN' TO 'ADMINISTRATOR'", "enum role has (TEAM_MEMBER, TEAM_LEADER, SUPERVISOR, ADMINISTRATOR, SYSTEM_ADMIN)" },
    };

    [Theory]
    [MemberData(nameof(Changes))]
    public Task Check_refuses_a_hand_made_change(string sql, string expected) => CheckRefusesAsync(sql, expected);

    public static readonly TheoryData<string, string> LegacyChanges = new()
    {
        { "ALTER TABLE teams ALTER COLUMN id DROP DEFAULT", "column teams.id has no default (expected nextval(" },
        { "ALTER TABLE users RENAME CONSTRAINT users_team_id_fkey TO fk_users_team", "unexpected foreign key fk_users_team" },
        { "ALTER TABLE time_entries ALTER COLUMN total_break_duration SET DEFAULT 5", "column time_entries.total_break_duration has default 5 (expected 0)" },
        { "ALTER TABLE teams RENAME CONSTRAINT teams_pkey TO teams_pk", "unexpected primary key teams_pk on teams(id)" },
        { "ALTER TABLE companies ADD CONSTRAINT companies_max_users_check CHECK (max_users > 0)", "unexpected check constraint companies_max_users_check" },
    };

    [Theory]
    [MemberData(nameof(LegacyChanges))]
    public Task Init_refuses_to_adopt_a_legacy_database_with_a_hand_made_change(string sql, string expected) => InitRefusesLegacyAsync(sql, expected);

    [Fact]
    public async Task The_check_leaves_no_scratch_schema_behind()
    {
        MigrateToHead();
        ShouldSucceed(await RunAsync("check"));

        (await Db.CountAsync("SELECT count(*) FROM pg_namespace WHERE nspname LIKE 'timetrack_expected_%'")).ShouldBe(0);
    }
}

public sealed class SqliteDriftMatrixTests() : DriftMatrixTests(DatabaseProvider.Sqlite)
{
    // SQLite's ALTER TABLE cannot change a column's type, default or nullability, a foreign key or
    // a CHECK: those changes are made by editing the stored CREATE TABLE text, as a hand-made
    // "fix" with writable_schema would.
    private static string EditTable(string table, string from, string to) =>
        $"PRAGMA writable_schema = ON; UPDATE sqlite_master SET sql = replace(sql, '{from.Replace("'", "''")}', '{to.Replace("'", "''")}') " +
        $"WHERE type = 'table' AND name = '{table}'; PRAGMA writable_schema = OFF;";

    public static readonly TheoryData<string, string> Changes = new()
    {
        { EditTable("time_entries", "\"total_break_duration\" INTEGER NOT NULL DEFAULT 0", "\"total_break_duration\" INTEGER NOT NULL"), "column time_entries.total_break_duration has no default (expected 0)" },
        { EditTable("time_entries", "\"total_break_duration\" INTEGER NOT NULL DEFAULT 0", "\"total_break_duration\" INTEGER NOT NULL DEFAULT 5"), "column time_entries.total_break_duration has default 5 (expected 0)" },
        { EditTable("users", "\"email\" VARCHAR(120) NOT NULL", "\"email\" VARCHAR(200) NOT NULL"), "column users.email is varchar(200) not null, expected varchar(120) not null" },
        { EditTable("users", "\"email\" VARCHAR(120) NOT NULL", "\"email\" VARCHAR(120)"), "column users.email is varchar(120) null, expected varchar(120) not null" },
        { EditTable("company_settings", "\"work_hours_per_day\" NUMERIC(4, 2)", "\"work_hours_per_day\" NUMERIC(5, 2)"), "column company_settings.work_hours_per_day is numeric(5,2) not null, expected numeric(4,2) not null" },
        { EditTable("user_preferences", " ON DELETE CASCADE)", ")"), "user_preferences(user_id) -> users (on delete NoAction)" },
        { EditTable("tasks", "'HIGH', 'URGENT')", "'HIGH')"), "enum taskpriority has (LOW, MEDIUM, HIGH), expected (LOW, MEDIUM, HIGH, URGENT)" },
        { "ALTER TABLE users ADD COLUMN hack TEXT", "extra column users.hack (text null)" },
        { "ALTER TABLE users DROP COLUMN two_factor_secret", "missing column users.two_factor_secret" },
        { "ALTER TABLE users RENAME COLUMN last_login_at TO last_seen_at", "missing column users.last_login_at" },
        { "DROP TABLE user_preferences", "missing table user_preferences" },
        { "DROP INDEX ix_time_entries_user_arrival", "missing index ix_time_entries_user_arrival on time_entries(user_id, arrival_time)" },
        {
            "DROP INDEX ix_time_entries_user_arrival; CREATE UNIQUE INDEX ix_time_entries_user_arrival ON time_entries (user_id, arrival_time)",
            "missing index ix_time_entries_user_arrival on time_entries(user_id, arrival_time)"
        },
    };

    [Theory]
    [MemberData(nameof(Changes))]
    public Task Check_refuses_a_hand_made_change(string sql, string expected) => CheckRefusesAsync(sql, expected);

    public static readonly TheoryData<string, string> LegacyChanges = new()
    {
        { "ALTER TABLE users ADD COLUMN hack TEXT", "extra column users.hack (text null)" },
        { "DROP INDEX IF EXISTS ix_time_entries_user_arrival; ALTER TABLE users DROP COLUMN two_factor_secret", "missing column users.two_factor_secret" },
    };

    [Theory]
    [MemberData(nameof(LegacyChanges))]
    public Task Init_refuses_to_adopt_a_legacy_database_with_a_hand_made_change(string sql, string expected) => InitRefusesLegacyAsync(sql, expected);
}
