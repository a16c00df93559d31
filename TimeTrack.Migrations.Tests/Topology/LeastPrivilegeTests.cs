using System.Globalization;
using Npgsql;
using TimeTrack.Migrations.Runner.Databases;
using TimeTrack.Migrations.Tests.Infrastructure;
using TimeTrack.Migrations.Tests.Runner;

namespace TimeTrack.Migrations.Tests.Topology;

/// <summary>
/// The whole life cycle as the roles deploy/roles.sql makes (run by the test with psql, as an
/// operator runs it): a migrating role that owns the schema's objects and is no superuser, and a
/// read-only role for status and check. And the privilege preflight: a role that lacks what a
/// step needs is refused (exit 5) naming the privilege, the object and the step, nothing written.
/// </summary>
public sealed class LeastPrivilegeTests() : RunnerTestBase(DatabaseKind.Postgres)
{
    private readonly string _suffix = Guid.NewGuid().ToString("N")[..8];
    private string Migrator => "tt_migrator_" + _suffix;
    private string Reader => "tt_reader_" + _suffix;
    private string App => "tt_app_" + _suffix;
    private readonly string _password = "pw-" + Guid.NewGuid().ToString("N")[..12];
    private PostgresServer Server => ((PostgresTestDatabase)Db).Server;
    private string DatabaseName => ((PostgresTestDatabase)Db).Name;

    public override async Task InitializeAsync()
    {
        await base.InitializeAsync();
        RunnerProcess.RegisterSecret(_password);
        await Server.ExecuteAsync($"CREATE ROLE \"{App}\" LOGIN PASSWORD '{_password}'");
    }

    public override async Task DisposeAsync()
    {
        await base.DisposeAsync(); // the database first: the roles own its objects
        foreach (var role in new[] { Migrator, Reader, App })
        {
            await Server.ExecuteAsync($"DROP ROLE IF EXISTS \"{role}\"");
        }
    }

    private string UrlAs(string role, string? query = null) =>
        $"postgresql://{role}:{_password}@{Server.Host}:{Server.Port}/{DatabaseName}{query}";

    private Task<ProcessResult> RunAsAsync(string role, params string[] args) => InProcessRunner.RunAsync([.. args, "--database-url", UrlAs(role)]);

    /// <summary>deploy/roles.sql with psql, as the superuser, on the test database.</summary>
    private async Task CreateRolesAsync(bool withApp = false)
    {
        var result = await RunnerProcess.RunProgramAsync("psql",
        [
            "-X", "-v", "ON_ERROR_STOP=1", "-h", Server.Host, "-p", Server.Port.ToString(CultureInfo.InvariantCulture), "-U", Server.User, "-d", DatabaseName,
            "-v", $"migrator={Migrator}", "-v", $"migrator_password={_password}", "-v", $"reader={Reader}", "-v", $"reader_password={_password}",
            .. withApp ? new[] { "-v", $"app={App}" } : [],
            "-f", Path.Combine(TestDatabase.RepositoryRoot, "deploy", "roles.sql"),
        ], new Dictionary<string, string?> { ["PGPASSWORD"] = Server.Password });
        result.ExitCode.ShouldBe(0, $"psql -f deploy/roles.sql failed (apt-get install postgresql-client):\n{result}");
    }

    private async Task<bool> AsSuperuserAsync(string sql)
    {
        await using var connection = (NpgsqlConnection)Db.OpenConnection();
        await using var command = new NpgsqlCommand(sql, connection);
        return (bool)(await command.ExecuteScalarAsync())!;
    }

    [Fact]
    public async Task The_script_makes_a_migrator_that_is_no_superuser_and_holds_no_predefined_role_and_a_reader_that_may_not_create()
    {
        await Server.ExecuteAsync($"CREATE ROLE \"{Migrator}\"");
        await Server.ExecuteAsync($"GRANT pg_signal_backend, pg_read_all_stats TO \"{Migrator}\""); // a role that had them: the script takes them away
        await CreateRolesAsync();
        await CreateRolesAsync(); // again: it can be run again

        foreach (var role in new[] { Migrator, Reader })
        {
            (await AsSuperuserAsync($"SELECT rolcanlogin AND NOT (rolsuper OR rolcreatedb OR rolcreaterole OR rolreplication OR rolbypassrls) FROM pg_roles WHERE rolname = '{role}'"))
                .ShouldBeTrue(role);
            (await AsSuperuserAsync($"SELECT NOT EXISTS (SELECT FROM pg_auth_members m JOIN pg_roles r ON r.oid = m.member WHERE r.rolname = '{role}')")).ShouldBeTrue(role);
            (await AsSuperuserAsync($"SELECT has_database_privilege('{role}', current_database(), 'CREATE')")).ShouldBeFalse(role);
            (await AsSuperuserAsync($"SELECT has_database_privilege('{role}', current_database(), 'TEMPORARY')")).ShouldBeTrue(role);
        }

        (await AsSuperuserAsync($"SELECT has_schema_privilege('{Migrator}', 'public', 'CREATE')")).ShouldBeTrue();
        (await AsSuperuserAsync($"SELECT has_schema_privilege('{Reader}', 'public', 'CREATE')")).ShouldBeFalse();
    }

    [Fact]
    public async Task Init_up_rollback_status_and_check_work_as_the_two_roles_on_an_empty_database()
    {
        await CreateRolesAsync();

        // The reader first: status of an empty database, and init refused before anything is written.
        ShouldSucceed(await RunAsAsync(Reader, "status"));
        var refused = await RunAsAsync(Reader, "init");
        refused.ExitCode.ShouldBe(5, refused.ToString());
        refused.Stderr.Split('\n').Where(l => l.StartsWith("error:", StringComparison.Ordinal)).ShouldHaveSingleItem()
            .ShouldStartWith($"error: role {Reader} lacks CREATE on schema public, needed by the version table. Nothing was written");
        (await Db.CountAsync($"SELECT count(*) FROM pg_class WHERE relname = '{VersionTable.Name}'")).ShouldBe(0, "not even the version table");

        ShouldSucceed(await RunAsAsync(Migrator, "init", "--to", Versions[2].ToString(CultureInfo.InvariantCulture)));
        ShouldSucceed(await RunAsAsync(Migrator, "up"));
        ShouldSucceed(await RunAsAsync(Migrator, "rollback", "--steps", "2"));
        ShouldSucceed(await RunAsAsync(Migrator, "up"));
        (await Db.AppliedVersionsAsync()).ShouldBe(Versions);
        (await AsSuperuserAsync($"SELECT bool_and(pg_get_userbyid(relowner) = '{Migrator}') FROM pg_class WHERE relnamespace = 'public'::regnamespace")).ShouldBeTrue();

        var status = await RunAsAsync(Reader, "status", "--json");
        ShouldSucceed(status);
        status.Stdout.ShouldContain(Versions[^1].ToString(CultureInfo.InvariantCulture));
        var check = await RunAsAsync(Reader, "check");
        ShouldSucceed(check);
        check.Stdout.ShouldContain("the database has the schema of version");

        // The check still finds drift as the reader (it built the expected schema in pg_temp).
        await Db.ExecuteAsync("ALTER TABLE tasks ADD COLUMN hand_made int NOT NULL DEFAULT 0");
        (await RunAsAsync(Reader, "check")).ExitCode.ShouldBe(5);
        (await AsSuperuserAsync("SELECT NOT EXISTS (SELECT FROM pg_namespace WHERE nspname LIKE 'timetrack_expected%')")).ShouldBeTrue();
    }

    [Fact]
    public async Task Check_as_a_role_without_temporary_is_refused_with_exit_5_naming_the_privilege_and_model_only()
    {
        await CreateRolesAsync();
        ShouldSucceed(await RunAsAsync(Migrator, "up"));
        await Server.ExecuteAsync($"REVOKE TEMPORARY ON DATABASE \"{DatabaseName}\" FROM PUBLIC, \"{Reader}\"");

        ShouldFailWithOneLine(await RunAsAsync(Reader, "check"), 5,
            $"role {Reader} lacks TEMPORARY on database {DatabaseName}");
        (await RunAsAsync(Reader, "check")).Stderr.ShouldContain("'check --model-only' needs no privilege");
    }

    [Fact]
    public async Task A_step_altering_a_table_the_role_does_not_own_is_refused_before_anything_is_written()
    {
        await CreateRolesAsync();
        await Db.MigrateToAsync(Versions[3]); // as the superuser: it owns the tables
        await Db.ExecuteAsync($"GRANT SELECT, INSERT, DELETE ON ALL TABLES IN SCHEMA public TO \"{Migrator}\"");
        var before = await Db.FingerprintAsync();

        var result = await RunAsAsync(Migrator, "up");

        ShouldFailWithOneLine(result, 5,
            $"role {Migrator} lacks ownership of table public.tasks (owned by {Server.User}), needed by {Versions[4]} (Add task priority)");
        result.Output.ShouldNotContain("42501");
        (await Db.FingerprintAsync()).ShouldBe(before);
    }

    [Fact]
    public async Task A_version_table_of_an_older_runner_owned_by_another_role_is_refused_before_anything_is_written()
    {
        await CreateRolesAsync();
        await Db.MigrateToAsync(Versions[3]); // as the superuser: it owns the tables and the version table
        // What an older runner left: FluentMigrator's three columns only; adding the others needs the table's owner.
        await Db.ExecuteAsync("ALTER TABLE \"VersionInfo\" DROP COLUMN \"Checksum\", DROP COLUMN \"RunnerVersion\", DROP COLUMN \"ImageRevision\", " +
            "DROP COLUMN \"AppliedByHost\", DROP COLUMN \"AppliedByUser\", DROP COLUMN \"DurationMs\", DROP COLUMN \"DownSql\", " +
            "DROP COLUMN \"DownInTransaction\", DROP COLUMN \"DownNotCaptured\"");
        await Db.ExecuteAsync($"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO \"{Migrator}\"; ALTER TABLE tasks OWNER TO \"{Migrator}\"");
        var before = await Db.FingerprintAsync();

        var result = await RunAsAsync(Migrator, "up");

        ShouldFailWithOneLine(result, 5,
            $"error: role '{Migrator}' may not add the columns of the recorded history to the version table VersionInfo, which an older runner made and another role owns " +
            $"(42501: must be owner of table VersionInfo). Nothing was written: give the table to this role (deploy/roles.sql does, or its owner runs ALTER TABLE \"VersionInfo\" OWNER TO {Migrator}), or run once as its owner");
        (await Db.FingerprintAsync()).ShouldBe(before);

        // Nothing to apply, the same: the upgrade comes after every command, under the lock.
        ShouldFailWithOneLine(await RunAsAsync(Migrator, "up", "--to", Versions[3].ToString(CultureInfo.InvariantCulture)), 5, "may not add the columns of the recorded history");

        // Given the table, the upgrade and the step run.
        await Db.ExecuteAsync($"ALTER TABLE \"VersionInfo\" OWNER TO \"{Migrator}\"");
        var up = await RunAsAsync(Migrator, "up");
        ShouldSucceed(up);
        up.Stderr.ShouldContain("the version table gained the columns of the recorded history");
    }

    /// <summary>A newer build's step of raw SQL on objects it does not create: an enum, two indexes by their own names in one DROP, a view, a table emptied, a column's comment.</summary>
    private static readonly string RawSqlSixth = $$"""
        [Migration({{RecordedHistoryTests.Sixth}}, "Raw SQL on existing objects")]
        public sealed class V{{RecordedHistoryTests.Sixth}} : TimeTrackMigration
        {
            public override void Up()
            {
                Execute.Sql("ALTER TYPE mood ADD VALUE IF NOT EXISTS 'calm'");
                Execute.Sql("DROP INDEX notes_body, tags_name");
                Execute.Sql("ALTER VIEW glad_notes RENAME TO happy_notes");
                Execute.Sql("TRUNCATE notes");
                Execute.Sql("COMMENT ON COLUMN public.notes.body IS 'what was noted'");
            }

            public override void Down()
            {
                Execute.Sql("ALTER VIEW happy_notes RENAME TO glad_notes");
                Execute.Sql("CREATE INDEX notes_body ON notes (body)");
                Execute.Sql("CREATE INDEX tags_name ON tags (name)");
            }
        }
        """;

    [Fact]
    public async Task Raw_sql_altering_a_type_an_index_or_a_view_of_another_role_truncating_its_table_or_commenting_on_it_is_refused_before_anything_is_written()
    {
        await CreateRolesAsync();
        await Db.MigrateToAsync(Versions[^1]);
        await Db.ExecuteAsync("""
            CREATE TYPE mood AS ENUM ('happy');
            CREATE TABLE notes (id integer PRIMARY KEY, body text, feeling mood);
            CREATE INDEX notes_body ON notes (body);
            CREATE TABLE tags (name text);
            CREATE INDEX tags_name ON tags (name);
            CREATE VIEW glad_notes AS SELECT id FROM notes WHERE feeling = 'happy';
            """);
        await Db.ExecuteAsync($"GRANT SELECT, INSERT, DELETE ON ALL TABLES IN SCHEMA public TO \"{Migrator}\"");
        var newer = RecordedHistoryTests.Compile(RecordedHistoryTests.NewerBuild(RawSqlSixth));
        try
        {
            var before = await Db.FingerprintAsync();

            var refused = await RunAsAsync(Migrator, "up", "--migrations-assembly", newer);

            var step = $"needed by {RecordedHistoryTests.Sixth} (Raw SQL on existing objects)";
            ShouldFailWithOneLine(refused, 5,
                $"role {Migrator} lacks ownership of type public.mood (owned by {Server.User}), {step}; " +
                $"role {Migrator} lacks ownership of index public.notes_body (owned by {Server.User}), {step}; " +
                $"role {Migrator} lacks ownership of index public.tags_name (owned by {Server.User}), {step}; " +
                $"role {Migrator} lacks ownership of view public.glad_notes (owned by {Server.User}), {step}; " +
                $"role {Migrator} lacks TRUNCATE on table public.notes, {step}; " +
                $"role {Migrator} lacks ownership of table public.notes (owned by {Server.User}), {step}. Nothing was written");
            refused.Output.ShouldNotContain("42501");
            (await Db.FingerprintAsync()).ShouldBe(before);

            // Owned by the migrator (the index goes with its table), the same step passes the preflight and runs.
            await Db.ExecuteAsync($"ALTER TYPE mood OWNER TO \"{Migrator}\"; ALTER TABLE notes OWNER TO \"{Migrator}\"; ALTER TABLE tags OWNER TO \"{Migrator}\"; ALTER VIEW glad_notes OWNER TO \"{Migrator}\"");
            ShouldSucceed(await RunAsAsync(Migrator, "up", "--migrations-assembly", newer));
            (await AsSuperuserAsync("SELECT to_regclass('public.notes_body') IS NULL AND to_regclass('public.tags_name') IS NULL AND to_regclass('public.happy_notes') IS NOT NULL AND col_description('public.notes'::regclass, 2) = 'what was noted'")).ShouldBeTrue();
        }
        finally
        {
            File.Delete(newer);
        }
    }

    [Fact]
    public async Task Init_adopts_a_legacy_database_owned_by_the_application_role_once_the_script_gave_the_migrator_its_objects()
    {
        await Db.RestoreLegacyFixtureAsync();
        // As in production: the application's role owns what it created before migrations were managed.
        await Db.ExecuteAsync($"""
            DO $$ DECLARE r record; BEGIN
              FOR r IN SELECT c.relname FROM pg_class c WHERE c.relnamespace = 'public'::regnamespace AND c.relkind = 'r' LOOP
                EXECUTE format('ALTER TABLE public.%I OWNER TO "{App}"', r.relname);
              END LOOP;
              FOR r IN SELECT t.typname FROM pg_type t WHERE t.typnamespace = 'public'::regnamespace AND t.typtype = 'e' LOOP
                EXECUTE format('ALTER TYPE public.%I OWNER TO "{App}"', r.typname);
              END LOOP;
            END $$
            """);
        await CreateRolesAsync(withApp: true);

        var result = await RunAsAsync(Migrator, "init");

        ShouldSucceed(result);
        result.Stdout.ShouldContain("adopted: the database is at");
        (await Db.AppliedVersionsAsync()).ShouldBe(Versions);
        ShouldSucceed(await RunAsAsync(Reader, "check"));

        // The application keeps reading and writing, the tables the migrations added included.
        await using var app = new NpgsqlConnection(new NpgsqlConnectionStringBuilder
            { Host = Server.Host, Port = Server.Port, Username = App, Password = _password, Database = DatabaseName, Pooling = false }.ConnectionString);
        await app.OpenAsync();
        await using var command = new NpgsqlCommand("SELECT (SELECT count(*) FROM time_entries) + (SELECT count(*) FROM company_settings)", app);
        ((long)(await command.ExecuteScalarAsync())!).ShouldBeGreaterThan(0);
    }

    [Fact]
    public async Task A_lock_timeout_as_the_migrator_names_the_blocker_of_another_role_and_says_its_query_is_hidden()
    {
        await CreateRolesAsync();
        ShouldSucceed(await RunAsAsync(Migrator, "up", "--to", Versions[3].ToString(CultureInfo.InvariantCulture)));
        var application = "tt_report_" + _suffix;

        // Another role's long transaction (the superuser's: the migrator may not see its query).
        await using var blocker = new NpgsqlConnection(Server.ConnectionStringFor(DatabaseName) + $";Application Name={application}");
        await blocker.OpenAsync();
        await using var transaction = await blocker.BeginTransactionAsync();
        await using (var read = new NpgsqlCommand("SELECT id FROM tasks LIMIT 1", blocker, transaction))
        {
            await read.ExecuteScalarAsync();
        }

        var result = await RunAsAsync(Migrator, "up", "--ddl-lock-timeout", "2", "--ddl-retries", "0");
        await transaction.RollbackAsync();

        result.ExitCode.ShouldBe(1, result.ToString());
        var error = result.Stderr.Split('\n').Where(l => l.StartsWith("error:", StringComparison.Ordinal)).ShouldHaveSingleItem();
        error.ShouldContain($"application '{application}'", Case.Sensitive, result.ToString());
        error.ShouldContain($"user {Server.User}");
        error.ShouldContain("its state and query hidden from this role");
        result.Output.ShouldNotContain("SELECT id FROM tasks");
        (await Db.AppliedVersionsAsync()).ShouldBe(Versions[..4]);
    }

    [Fact]
    public async Task Sigterm_as_the_migrator_cancels_its_own_blocked_statement_without_pg_signal_backend()
    {
        await CreateRolesAsync();
        ShouldSucceed(await RunAsAsync(Migrator, "up"));
        var before = await Db.FingerprintAsync();
        var application = "tt_signal_" + _suffix;

        await using var blocker = (NpgsqlConnection)Db.OpenConnection();
        await using (var transaction = await blocker.BeginTransactionAsync())
        {
            await using (var lockTasks = new NpgsqlCommand("LOCK tasks IN ACCESS EXCLUSIVE MODE", blocker, transaction))
            {
                await lockTasks.ExecuteNonQueryAsync();
            }

            await using var runner = SignalTests.SignalledRunner.Start(["rollback", "--steps", "1", "--database-url", UrlAs(Migrator, $"?application_name={application}")]);
            await runner.WaitForLineAsync($"rolling back {Versions[^1]}");
            await WaitForAsync($"SELECT count(*) = 1 FROM pg_stat_activity WHERE application_name = '{application}' AND wait_event_type = 'Lock'");

            runner.Signal(15);
            var result = await runner.ExitAsync();

            result.ExitCode.ShouldBe(143, result.ToString());
            result.Stderr.ShouldContain($"interrupted by SIGTERM: rolling back {Versions[^1]} (Add task priority) was cancelled and its transaction rolled back");
            (await AsSuperuserAsync($"SELECT NOT EXISTS (SELECT FROM pg_stat_activity WHERE application_name = '{application}' AND state <> 'idle')")).ShouldBeTrue();
            await transaction.RollbackAsync();
        }

        (await Db.FingerprintAsync()).ShouldBe(before);
    }

    [Fact]
    public async Task Backup_and_restore_work_as_the_migrator()
    {
        await CreateRolesAsync();
        ShouldSucceed(await RunAsAsync(Migrator, "up", "--to", Versions[1].ToString(CultureInfo.InvariantCulture)));
        var atVersion1 = await Db.FingerprintAsync();
        var backups = Directory.CreateTempSubdirectory("tt-privilege-backups-").FullName;
        try
        {
            ShouldSucceed(await RunAsAsync(Migrator, "up", "--backup", backups));
            var backup = Directory.GetFiles(backups).ShouldHaveSingleItem();

            var restored = await RunAsAsync(Migrator, "restore", backup, "--force");

            ShouldSucceed(restored);
            (await Db.FingerprintAsync()).ShouldBe(atVersion1);
            (await AsSuperuserAsync($"SELECT bool_and(pg_get_userbyid(relowner) = '{Migrator}') FROM pg_class WHERE relnamespace = 'public'::regnamespace")).ShouldBeTrue();
        }
        finally
        {
            Directory.Delete(backups, recursive: true);
        }
    }

    private async Task WaitForAsync(string condition)
    {
        for (var deadline = DateTime.UtcNow.AddSeconds(30); DateTime.UtcNow < deadline; await Task.Delay(100))
        {
            if (await AsSuperuserAsync(condition))
            {
                return;
            }
        }

        throw new TimeoutException($"not true within 30 s: {condition}");
    }
}
