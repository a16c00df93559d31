using TimeTrack.Migrations.Runner.Databases;
using TimeTrack.Migrations.Tests.Infrastructure;

namespace TimeTrack.Migrations.Tests.Runner;

/// <summary>
/// Exact verification: hand-made changes to a database at head, each of which `check
/// --database-url` must refuse (exit 5) and name; the same kind of change on the legacy fixture
/// makes `init` refuse adoption without writing anything; and no false alarms — a fresh database,
/// one at every version of the history, and an adopted legacy database match exactly.
/// </summary>
public abstract class DriftMatrixTests(DatabaseKind provider) : RunnerTestBase(provider)
{
    /// <summary>
    /// No database before the test says which one it starts from: most start at head, and an
    /// empty one created first only to be dropped was two CREATE/DROP DATABASE per case.
    /// </summary>
    public override Task InitializeAsync() => Task.CompletedTask;

    public override async Task DisposeAsync()
    {
        if (Db is not null)
        {
            await Db.DisposeAsync();
        }
    }

    /// <summary>
    /// The test's database at head, copied from one migrated once per run: the check is what is
    /// tested here, and 60 cases each migrating were a tenth of the suite.
    /// </summary>
    protected async Task MigrateToHeadAsync() => Db = await TestDatabase.CreateAtHeadAsync(Provider, "drift");

    /// <summary>The test's database, empty (what RunnerTestBase gives every other test).</summary>
    protected async Task StartEmptyAsync() => await base.InitializeAsync();

    protected async Task CheckRefusesAsync(string sql, string expected)
    {
        await MigrateToHeadAsync();
        await Db.ExecuteAsync(sql);

        var result = await RunAsync("check");

        result.ExitCode.ShouldBe(5, result.ToString());
        result.Stdout.ShouldContain("the database differs from the schema of version", Case.Sensitive, result.ToString());

        // The blocking difference (stdout), or for a changed index the index found in its place
        // (a tolerated extra index, on stderr, beside the blocking "missing index").
        result.Output.ShouldContain(expected, Case.Sensitive, result.ToString());
    }

    protected async Task CheckToleratesAsync(string sql, string expected)
    {
        await MigrateToHeadAsync();
        await Db.ExecuteAsync(sql);

        var result = await RunAsync("check");

        ShouldSucceed(result);
        result.Stderr.ShouldContain("not created by the migrations: " + expected, Case.Sensitive, result.ToString());
    }

    [Fact]
    public async Task Check_reads_the_database_url_from_the_environment_like_every_command_and_model_only_skips_it()
    {
        await MigrateToHeadAsync();
        await Db.ExecuteAsync("ALTER TABLE teams ADD COLUMN hand_made integer");

        foreach (var variable in new[] { "DATABASE_URL", "TIMETRACK_DATABASE_URL" })
        {
            var live = await InProcessRunner.RunAsync(["check"], new Dictionary<string, string?> { [variable] = Db.Url });
            live.ExitCode.ShouldBe(5, $"{variable}: {live}");
            live.Stdout.ShouldContain("the database differs from the schema of version", Case.Sensitive, live.ToString());
        }

        var model = await InProcessRunner.RunAsync(["check", "--model-only"], new Dictionary<string, string?> { ["DATABASE_URL"] = Db.Url });
        ShouldSucceed(model);
        model.Stdout.ShouldContain("produce the model: no differences", Case.Sensitive, model.ToString());
    }

    [Fact]
    public async Task A_database_at_every_version_of_the_history_matches_exactly()
    {
        await StartEmptyAsync();
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
        await StartEmptyAsync();
        await Db.RestoreLegacyFixtureAsync();
        ShouldSucceed(await RunAsync("init"));

        var result = await RunAsync("check");

        ShouldSucceed(result);
        result.Stderr.ShouldNotContain("not created by the migrations", Case.Sensitive, result.ToString());
    }

    protected async Task InitRefusesLegacyAsync(string sql, string expected)
    {
        await StartEmptyAsync();
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

public sealed class PostgresDriftMatrixTests() : DriftMatrixTests(DatabaseKind.Postgres)
{
    // Every change kind that can block is here at least once: table, column, primary key, foreign
    // key, unique and check constraint, index, enum (missing, extra, changed); tolerated ones (an
    // extra table, index or free sequence) are in Check_names_but_tolerates_an_object_the_migrations_did_not_create.
    public static readonly TheoryData<string, string> Changes = new()
    {
        // Serial columns: the default, the identity, the sequence behind it and its settings.
        { "ALTER TABLE teams ALTER COLUMN id DROP DEFAULT", "changed column teams.id: default was removed (was nextval('teams_id_seq'))" },
        { "ALTER TABLE teams ALTER COLUMN id SET DEFAULT nextval('users_id_seq')", "changed column teams.id: default changed from nextval('teams_id_seq') to nextval('users_id_seq')" },
        {
            "CREATE SEQUENCE teams_id_seq2 AS integer OWNED BY teams.id; ALTER TABLE teams ALTER COLUMN id SET DEFAULT nextval('teams_id_seq2')",
            "changed column teams.id: default changed from nextval('teams_id_seq') to nextval('teams_id_seq2')"
        },
        {
            "ALTER TABLE teams ALTER COLUMN id DROP DEFAULT; ALTER TABLE teams ALTER COLUMN id ADD GENERATED BY DEFAULT AS IDENTITY",
            "changed column teams.id: default was removed (was nextval('teams_id_seq')), became identity by default"
        },
        { "ALTER SEQUENCE teams_id_seq OWNED BY NONE", "changed column teams.id: sequence teams_id_seq is no longer OWNED BY teams.id" },
        { "ALTER SEQUENCE teams_id_seq INCREMENT BY 5", "changed column teams.id: sequence increment 1 -> 5" },
        { "ALTER SEQUENCE teams_id_seq START WITH 100", "changed column teams.id: sequence start 1 -> 100" },
        { "ALTER SEQUENCE teams_id_seq MAXVALUE 1000 CYCLE", "changed column teams.id: sequence max 2147483647 -> 1000, sequence cycle no -> yes" },
        { "ALTER SEQUENCE teams_id_seq MINVALUE 0", "changed column teams.id: sequence min 1 -> 0" },
        { "ALTER SEQUENCE teams_id_seq AS smallint", "changed column teams.id: sequence type integer -> smallint, sequence max 2147483647 -> 32767" },
        { "ALTER TABLE teams ALTER COLUMN id TYPE bigint", "changed column teams.id: type integer -> bigint" },

        // Other columns.
        { "ALTER TABLE time_entries ALTER COLUMN total_break_duration DROP DEFAULT", "changed column time_entries.total_break_duration: default was removed (was 0)" },
        { "ALTER TABLE time_entries ALTER COLUMN total_break_duration SET DEFAULT 5", "changed column time_entries.total_break_duration: default changed from 0 to 5" },
        { "ALTER TABLE projects ALTER COLUMN start_date SET DEFAULT CURRENT_DATE", "changed column projects.start_date: default was set to CURRENT_DATE (had none)" },
        { "ALTER TABLE users ALTER COLUMN is_verified DROP DEFAULT", "changed column users.is_verified: default was removed (was false)" },
        { "ALTER TABLE tasks ALTER COLUMN priority SET DEFAULT 'HIGH'", "changed column tasks.priority: default changed from 'MEDIUM' to 'HIGH'" },
        { "ALTER TABLE users ALTER COLUMN email TYPE varchar(200)", "changed column users.email: type varchar(120) -> varchar(200)" },
        { "ALTER TABLE users ALTER COLUMN email DROP NOT NULL", "changed column users.email: not null -> null" },
        { "ALTER TABLE company_settings ALTER COLUMN work_hours_per_day TYPE numeric(5,2)", "changed column company_settings.work_hours_per_day: type numeric(4,2) -> numeric(5,2)" },
        { "ALTER TABLE time_entries ALTER COLUMN arrival_time TYPE timestamptz", "changed column time_entries.arrival_time: type timestamp -> timestamptz" },
        { "ALTER TABLE users ADD COLUMN hack text", "extra column users.hack (text null)" },
        { "ALTER TABLE users DROP COLUMN two_factor_secret", "missing column users.two_factor_secret (varchar(32) null)" },
        { "DROP TABLE user_preferences", "missing table user_preferences" },

        // Keys and constraints, with their names.
        { "ALTER TABLE users RENAME CONSTRAINT users_email_key TO users_email_uq", "extra unique constraint users_email_uq on users(email)" },
        { "ALTER TABLE users DROP CONSTRAINT users_email_key", "missing unique constraint users_email_key on users(email)" },
        { "ALTER TABLE teams RENAME CONSTRAINT teams_pkey TO teams_pk", "extra primary key teams_pk on teams(id)" },
        { "ALTER TABLE projects DROP CONSTRAINT projects_pkey CASCADE", "missing primary key projects_pkey on projects(id)" },
        { "ALTER TABLE users RENAME CONSTRAINT users_team_id_fkey TO fk_users_team", "extra foreign key fk_users_team users(team_id) -> teams(id)" },
        { "ALTER TABLE users DROP CONSTRAINT users_team_id_fkey", "missing foreign key users_team_id_fkey users(team_id) -> teams(id) (on delete" },
        {
            "ALTER TABLE user_preferences DROP CONSTRAINT user_preferences_user_id_fkey; " +
            "ALTER TABLE user_preferences ADD CONSTRAINT user_preferences_user_id_fkey FOREIGN KEY (user_id) REFERENCES users (id)",
            "extra foreign key user_preferences_user_id_fkey user_preferences(user_id) -> users(id) (on delete NoAction)"
        },
        { "ALTER TABLE companies ADD CONSTRAINT companies_max_users_check CHECK (max_users > 0)", "extra check constraint companies_max_users_check on companies (CHECK ((max_users > 0)))" },

        // Indexes: a changed one is missing (blocking) and found in its place (a tolerated extra).
        { "DROP INDEX ix_time_entries_user_arrival", "missing index ix_time_entries_user_arrival on time_entries(user_id, arrival_time)" },
        {
            "DROP INDEX ix_time_entries_user_arrival; CREATE INDEX ix_time_entries_user_arrival ON time_entries (user_id)",
            "missing index ix_time_entries_user_arrival on time_entries(user_id, arrival_time)"
        },
        { "ALTER INDEX ix_time_entries_user_arrival RENAME TO ix_entries", "missing index ix_time_entries_user_arrival" },
        {
            "DROP INDEX ix_time_entries_user_arrival; CREATE UNIQUE INDEX ix_time_entries_user_arrival ON time_entries (user_id, arrival_time)",
            "extra unique index ix_time_entries_user_arrival on time_entries(user_id, arrival_time)"
        },
        {
            "DROP INDEX ix_time_entries_user_arrival; CREATE INDEX ix_time_entries_user_arrival ON time_entries USING brin (user_id, arrival_time)",
            "extra index ix_time_entries_user_arrival on time_entries(user_id, arrival_time) using brin"
        },
        {
            "DROP INDEX ix_time_entries_user_arrival; CREATE INDEX ix_time_entries_user_arrival ON time_entries (user_id, arrival_time) WHERE departure_time IS NULL",
            "extra index ix_time_entries_user_arrival on time_entries(user_id, arrival_time) where (departure_time IS NULL)"
        },
        {
            "DROP INDEX ix_time_entries_user_arrival; CREATE INDEX ix_time_entries_user_arrival ON time_entries (user_id, arrival_time DESC)",
            "extra index ix_time_entries_user_arrival on time_entries(user_id, arrival_time DESC)"
        },
        {
            "DROP INDEX ix_time_entries_user_arrival; CREATE INDEX ix_time_entries_user_arrival ON time_entries (user_id, arrival_time NULLS FIRST)",
            "extra index ix_time_entries_user_arrival on time_entries(user_id, arrival_time NULLS FIRST)"
        },
        {
            "DROP INDEX ix_time_entries_user_arrival; CREATE INDEX ix_time_entries_user_arrival ON time_entries (user_id, date(arrival_time))",
            "extra index ix_time_entries_user_arrival on time_entries(user_id, date(arrival_time))"
        },

        // Enum types.
        { "ALTER TYPE taskpriority ADD VALUE 'BLOCKER'", "changed enum taskpriority: (LOW, MEDIUM, HIGH, URGENT) -> (LOW, MEDIUM, HIGH, URGENT, BLOCKER)" },
        { "ALTER TYPE role RENAME VALUE 'ADMIN' TO 'ADMINISTRATOR'", "-> (TEAM_MEMBER, TEAM_LEADER, SUPERVISOR, ADMINISTRATOR, SYSTEM_ADMIN)" },
        { "CREATE TYPE mood AS ENUM ('ok', 'meh')", "extra enum mood (ok, meh)" },
        { "DROP TYPE taskpriority CASCADE", "missing enum taskpriority (LOW, MEDIUM, HIGH, URGENT)" },
    };

    [Theory]
    [MemberData(nameof(Changes))]
    public Task Check_refuses_a_hand_made_change(string sql, string expected) => CheckRefusesAsync(sql, expected);

    [Theory]
    [InlineData("CREATE TABLE audit_log (id integer)", "extra table audit_log")]
    [InlineData("CREATE INDEX ix_users_username ON users (username DESC)", "extra index ix_users_username on users(username DESC)")]
    [InlineData("CREATE SEQUENCE invoice_numbers", "extra sequence invoice_numbers")]
    public Task Check_names_but_tolerates_an_object_the_migrations_did_not_create(string sql, string expected) => CheckToleratesAsync(sql, expected);

    public static readonly TheoryData<string, string> LegacyChanges = new()
    {
        { "ALTER TABLE teams ALTER COLUMN id DROP DEFAULT", "changed column teams.id: default was removed (was nextval('teams_id_seq'))" },
        { "ALTER SEQUENCE teams_id_seq OWNED BY NONE", "changed column teams.id: sequence teams_id_seq is no longer OWNED BY teams.id" },
        { "ALTER SEQUENCE teams_id_seq INCREMENT BY 5", "changed column teams.id: sequence increment 1 -> 5" },
        { "ALTER TABLE users RENAME CONSTRAINT users_team_id_fkey TO fk_users_team", "extra foreign key fk_users_team" },
        { "ALTER TABLE time_entries ALTER COLUMN total_break_duration SET DEFAULT 5", "changed column time_entries.total_break_duration: default changed from 0 to 5" },
        { "ALTER TABLE teams RENAME CONSTRAINT teams_pkey TO teams_pk", "extra primary key teams_pk on teams(id)" },
        { "ALTER TABLE companies ADD CONSTRAINT companies_max_users_check CHECK (max_users > 0)", "extra check constraint companies_max_users_check" },
    };

    [Theory]
    [MemberData(nameof(LegacyChanges))]
    public Task Init_refuses_to_adopt_a_legacy_database_with_a_hand_made_change(string sql, string expected) => InitRefusesLegacyAsync(sql, expected);

    [Fact]
    public async Task A_role_that_may_not_create_a_schema_checks_in_its_temporary_schema_and_nothing_changes()
    {
        await MigrateToHeadAsync();
        var server = await PostgresServer.GetAsync();
        var database = ((PostgresTestDatabase)Db).Name;
        var role = "reader_" + Guid.NewGuid().ToString("N")[..8];
        RunnerProcess.RegisterSecret("reader-pw"); // the output is checked for it like for any test password
        await Db.ExecuteAsync($"CREATE ROLE {role} LOGIN PASSWORD 'reader-pw'; GRANT SELECT ON ALL TABLES IN SCHEMA public TO {role}");
        var dump = await Db.DumpAsync();
        try
        {
            var result = await InProcessRunner.RunAsync(["check", "--database-url", $"postgresql://{role}:reader-pw@{server.Host}:{server.Port}/{database}"]);

            // The expected schema is built in pg_temp (TEMPORARY, which PUBLIC has), not in a schema of its own.
            ShouldSucceed(result);
            result.Stdout.ShouldContain("the database has the schema of version");
            (await Db.DumpAsync()).ShouldBe(dump);
        }
        finally
        {
            await Db.ExecuteAsync($"DROP OWNED BY {role}; DROP ROLE {role}");
        }
    }

    [Fact]
    public async Task The_check_leaves_no_scratch_schema_behind()
    {
        await MigrateToHeadAsync();
        ShouldSucceed(await RunAsync("check"));

        (await Db.CountAsync("SELECT count(*) FROM pg_namespace WHERE nspname LIKE 'timetrack_expected_%'")).ShouldBe(0);
        (await Db.CountAsync("SELECT count(*) FROM pg_class WHERE relpersistence = 't'")).ShouldBe(0, "no temporary table outlives the check");
    }
}

public sealed class SqliteDriftMatrixTests() : DriftMatrixTests(DatabaseKind.Sqlite)
{
    // SQLite's ALTER TABLE cannot change a column's type, default or nullability, a foreign key or
    // a CHECK: those changes are made by editing the stored CREATE TABLE text, as a hand-made
    // "fix" with writable_schema would.
    private static string EditTable(string table, string from, string to) =>
        $"PRAGMA writable_schema = ON; UPDATE sqlite_master SET sql = replace(sql, '{from.Replace("'", "''")}', '{to.Replace("'", "''")}') " +
        $"WHERE type = 'table' AND name = '{table}'; PRAGMA writable_schema = OFF;";

    public static readonly TheoryData<string, string> Changes = new()
    {
        { EditTable("time_entries", "\"total_break_duration\" INTEGER NOT NULL DEFAULT 0", "\"total_break_duration\" INTEGER NOT NULL"), "changed column time_entries.total_break_duration: default was removed (was 0)" },
        { EditTable("time_entries", "\"total_break_duration\" INTEGER NOT NULL DEFAULT 0", "\"total_break_duration\" INTEGER NOT NULL DEFAULT 5"), "changed column time_entries.total_break_duration: default changed from 0 to 5" },
        { EditTable("users", "\"email\" VARCHAR(120) NOT NULL", "\"email\" VARCHAR(200) NOT NULL"), "changed column users.email: type varchar(120) -> varchar(200)" },
        { EditTable("users", "\"email\" VARCHAR(120) NOT NULL", "\"email\" VARCHAR(120)"), "changed column users.email: not null -> null" },
        { EditTable("company_settings", "\"work_hours_per_day\" NUMERIC(4, 2)", "\"work_hours_per_day\" NUMERIC(5, 2)"), "changed column company_settings.work_hours_per_day: type numeric(4,2) -> numeric(5,2)" },
        { EditTable("user_preferences", " ON DELETE CASCADE)", ")"), "extra foreign key user_preferences_user_id_fkey user_preferences(user_id) -> users(id) (on delete NoAction)" },
        { EditTable("user_preferences", " ON DELETE CASCADE)", ")"), "missing foreign key user_preferences_user_id_fkey user_preferences(user_id) -> users(id) (on delete Cascade)" },
        { "DROP INDEX users_email_key", "missing unique constraint users_email_key on users(email)" },
        { EditTable("tasks", "'HIGH', 'URGENT')", "'HIGH')"), "changed enum taskpriority: (LOW, MEDIUM, HIGH, URGENT) -> (LOW, MEDIUM, HIGH)" },
        { "ALTER TABLE users ADD COLUMN hack TEXT", "extra column users.hack (text null)" },
        { "ALTER TABLE users DROP COLUMN two_factor_secret", "missing column users.two_factor_secret (varchar(32) null)" },
        { "ALTER TABLE users RENAME COLUMN last_login_at TO last_seen_at", "missing column users.last_login_at" },
        { "DROP TABLE user_preferences", "missing table user_preferences" },
        { "CREATE UNIQUE INDEX users_password_hash_key ON users (password_hash)", "extra unique constraint users_password_hash_key on users(password_hash)" },
        { "DROP INDEX ix_time_entries_user_arrival", "missing index ix_time_entries_user_arrival on time_entries(user_id, arrival_time)" },
        {
            "DROP INDEX ix_time_entries_user_arrival; CREATE UNIQUE INDEX ix_time_entries_user_arrival ON time_entries (user_id, arrival_time)",
            "missing index ix_time_entries_user_arrival on time_entries(user_id, arrival_time)"
        },
        {
            "DROP INDEX ix_time_entries_user_arrival; CREATE INDEX ix_time_entries_user_arrival ON time_entries (user_id, arrival_time DESC)",
            "extra index ix_time_entries_user_arrival on time_entries(user_id, arrival_time DESC)"
        },
        {
            "DROP INDEX ix_time_entries_user_arrival; CREATE INDEX ix_time_entries_user_arrival ON time_entries (user_id, date(arrival_time))",
            "extra index ix_time_entries_user_arrival on time_entries(user_id, date(arrival_time))"
        },
    };

    [Theory]
    [MemberData(nameof(Changes))]
    public Task Check_refuses_a_hand_made_change(string sql, string expected) => CheckRefusesAsync(sql, expected);

    [Theory]
    [InlineData("CREATE TABLE audit_log (id INTEGER)", "extra table audit_log")]
    [InlineData("CREATE INDEX ix_users_username ON users (username DESC)", "extra index ix_users_username on users(username DESC)")]
    public Task Check_names_but_tolerates_an_object_the_migrations_did_not_create(string sql, string expected) => CheckToleratesAsync(sql, expected);

    public static readonly TheoryData<string, string> LegacyChanges = new()
    {
        { "ALTER TABLE users ADD COLUMN hack TEXT", "extra column users.hack (text null)" },
        { "DROP INDEX IF EXISTS ix_time_entries_user_arrival; ALTER TABLE users DROP COLUMN two_factor_secret", "missing column users.two_factor_secret" },
    };

    [Theory]
    [MemberData(nameof(LegacyChanges))]
    public Task Init_refuses_to_adopt_a_legacy_database_with_a_hand_made_change(string sql, string expected) => InitRefusesLegacyAsync(sql, expected);
}
