using Npgsql;
using TimeTrack.Migrations.Runner.Databases;
using TimeTrack.Migrations.Tests.Infrastructure;
using TimeTrack.Migrations.Tests.Runner;

namespace TimeTrack.Migrations.Tests.Topology;

/// <summary>
/// --role (TIMETRACK_DATABASE_ROLE): a login role that may not create anything itself migrates as
/// an owner role (NOLOGIN) it is a member of, as on a managed database. What the migrations,
/// pg_dump and the restore create is the owner role's.
/// </summary>
public sealed class RoleTests : IAsyncLifetime
{
    private readonly string _suffix = Guid.NewGuid().ToString("N")[..8];
    private readonly List<PostgresTestDatabase> _databases = [];
    private PostgresServer _server = null!;

    private string Login => "tt_login_" + _suffix;
    private string Owner => "tt_owner_" + _suffix;
    private const string LoginPassword = "login-secret-1";

    public async Task InitializeAsync()
    {
        _server = await PostgresServer.GetAsync();
        // NOINHERIT: the login has the owner's privileges only after SET ROLE (with INHERIT it could create, as itself, without it).
        await _server.ExecuteAsync($"CREATE ROLE {Owner} NOLOGIN; CREATE ROLE {Login} LOGIN NOINHERIT PASSWORD '{LoginPassword}'; GRANT {Owner} TO {Login}");
    }

    public async Task DisposeAsync()
    {
        foreach (var database in _databases)
        {
            await database.DisposeAsync();
        }

        await _server.ExecuteAsync($"DROP ROLE IF EXISTS {Login}; DROP ROLE IF EXISTS {Owner}");
    }

    /// <summary>A database owned by the owner role, its public schema too: the login alone may create nothing in it.</summary>
    private async Task<PostgresTestDatabase> OwnedDatabaseAsync(string prefix)
    {
        var db = await PostgresTestDatabase.CreateAsync(prefix);
        _databases.Add(db);
        await _server.ExecuteAsync($"ALTER DATABASE \"{db.Name}\" OWNER TO {Owner}");
        await using var connection = new NpgsqlConnection(_server.HelperConnectionStringFor(db.Name));
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand($"ALTER SCHEMA public OWNER TO {Owner}; REVOKE CREATE ON SCHEMA public FROM PUBLIC", connection);
        await command.ExecuteNonQueryAsync();
        return db;
    }

    private string LoginUrl(string database) => $"postgresql://{Login}:{LoginPassword}@{_server.Host}:{_server.Port}/{database}";

    /// <summary>The owners of the tables, sequences and indexes in public (none may be the login's).</summary>
    private Task<IReadOnlyList<string>> OwnersAsync(string database) => DistinctAsync(database,
        "SELECT DISTINCT pg_get_userbyid(c.relowner)::text FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'public' AND c.relkind IN ('r', 'S', 'i')");

    /// <summary>The first column of a query's rows, read as the superuser.</summary>
    private async Task<IReadOnlyList<string>> DistinctAsync(string database, string query)
    {
        await using var connection = new NpgsqlConnection(_server.HelperConnectionStringFor(database));
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(query, connection);
        var values = new List<string>();
        await using var reader = await command.ExecuteReaderAsync();
        while (await reader.ReadAsync())
        {
            values.Add(reader.GetString(0));
        }

        return values;
    }

    [Fact]
    public async Task Init_rollback_up_backup_and_restore_with_a_role_leave_every_object_owned_by_it()
    {
        var db = await OwnedDatabaseAsync("role");
        var url = LoginUrl(db.Name);

        // Without the role the login may not create the version table.
        var refused = await InProcessRunner.RunAsync(["init", "--database-url", url]);
        refused.ExitCode.ShouldNotBe(0, refused.ToString());
        (await db.AppliedVersionsAsync()).ShouldBeEmpty();

        var init = await InProcessRunner.RunAsync(["init", "--role", Owner, "--database-url", url]);
        init.ExitCode.ShouldBe(0, init.ToString());
        (await db.AppliedVersionsAsync()).ShouldBe(RunnerTestBase.Versions);
        (await OwnersAsync(db.Name)).ShouldBe([Owner]);
        // The recorded history names both: the role the steps ran as, and the login that ran them.
        (await DistinctAsync(db.Name, "SELECT DISTINCT \"AppliedByUser\" FROM \"VersionInfo\"")).ShouldBe([$"{Owner} (login {Login})"]);

        var backups = Directory.CreateTempSubdirectory("timetrack-role-backup-").FullName;
        try
        {
            // The setting, as a deployment gives it.
            var environment = new Dictionary<string, string?> { ["TIMETRACK_DATABASE_ROLE"] = Owner };
            var rollback = await InProcessRunner.RunAsync(["rollback", "--steps", "1", "--backup", backups, "--database-url", url], environment);
            rollback.ExitCode.ShouldBe(0, rollback.ToString());
            var backup = Directory.GetFiles(backups).ShouldHaveSingleItem();

            var up = await InProcessRunner.RunAsync(["up", "--database-url", url], environment);
            up.ExitCode.ShouldBe(0, up.ToString());
            (await db.AppliedVersionsAsync()).ShouldBe(RunnerTestBase.Versions);
            (await OwnersAsync(db.Name)).ShouldBe([Owner]);

            var status = await InProcessRunner.RunAsync(["status", "--json", "--database-url", url], environment);
            status.ExitCode.ShouldBe(0, status.ToString());
            status.Stdout.ShouldContain("\"upToDate\": true");

            var check = await InProcessRunner.RunAsync(["check", "--database-url", url], environment);
            check.ExitCode.ShouldBe(0, check.ToString());

            var restored = await OwnedDatabaseAsync("role_restored");
            var restore = await InProcessRunner.RunAsync(["restore", backup, "--role", Owner, "--database-url", LoginUrl(restored.Name)]);
            restore.ExitCode.ShouldBe(0, restore.ToString());
            (await restored.AppliedVersionsAsync()).ShouldBe(RunnerTestBase.Versions, "the backup was taken at head, before the rollback");
            (await OwnersAsync(restored.Name)).ShouldBe([Owner]);
        }
        finally
        {
            Directory.Delete(backups, recursive: true);
        }
    }

    [Fact]
    public async Task The_front_reads_the_version_table_as_the_role_when_the_login_may_not()
    {
        var db = await OwnedDatabaseAsync("role_front");
        var url = LoginUrl(db.Name);
        var init = await InProcessRunner.RunAsync(["init", "--role", Owner, "--database-url", url]);
        init.ExitCode.ShouldBe(0, init.ToString());

        // The login has no SELECT on the owner's version table: without the role the front's read fails, and it hands over.
        (await FrontDecision.DecideAsync(["up", "--database-url", url])).ShouldStartWith("reading the version table failed");
        (await FrontDecision.DecideAsync(["up", "--role", Owner, "--database-url", url])).ShouldBeNull();
        (await FrontDecision.DecideAsync(["start", "--database-url", url], new() { ["TIMETRACK_DATABASE_ROLE"] = Owner })).ShouldBeNull();

        // Through transaction pooling too, and the role does not stay on the server connection (SET LOCAL in its own transaction).
        await using var bouncer = await PgBouncer.StartAsync("transaction", poolSize: 1);
        (await FrontDecision.DecideAsync(["up", "--role", Owner, "--database-url", bouncer.UrlFor(db.Name)])).ShouldBeNull();
        await using var client = new NpgsqlConnection(bouncer.ConnectionStringFor(db.Name));
        await client.OpenAsync();
        await using var command = new NpgsqlCommand("SELECT current_setting('role')", client);
        ((string)(await command.ExecuteScalarAsync())!).ShouldBe("none");
    }

    [Fact]
    public async Task A_role_that_does_not_exist_or_that_the_login_is_not_a_member_of_is_exit_3_and_nothing_is_written()
    {
        var db = await OwnedDatabaseAsync("role_bad");
        var url = LoginUrl(db.Name);

        var missing = await InProcessRunner.RunAsync(["init", "--role", "no_such_role_" + _suffix, "--database-url", url]);
        RunnerTestBase.ShouldFailWithOneLine(missing, 3, "cannot SET ROLE");
        missing.Stderr.ShouldContain("does not exist");

        var stranger = "tt_stranger_" + _suffix;
        await _server.ExecuteAsync($"CREATE ROLE {stranger} NOLOGIN");
        try
        {
            var notMember = await InProcessRunner.RunAsync(["up", "--role", stranger, "--database-url", url]);
            RunnerTestBase.ShouldFailWithOneLine(notMember, 3, $"the login {Login} is not a member of it");
            notMember.Output.ShouldNotContain(LoginPassword);
        }
        finally
        {
            await _server.ExecuteAsync($"DROP ROLE {stranger}");
        }

        (await db.AppliedVersionsAsync()).ShouldBeEmpty();
        (await db.ReadSchemaAsync()).Tables.ShouldBeEmpty();
    }

    [Fact]
    public async Task A_role_with_a_SQLite_URL_or_an_empty_role_is_exit_2()
    {
        var sqlite = await InProcessRunner.RunAsync(["status", "--role", Owner, "--database-url", "sqlite:///role-test-never-created.db"]);
        RunnerTestBase.ShouldFailWithOneLine(sqlite, 2, "a SQLite database has no roles");
        File.Exists(Path.Combine(AppContext.BaseDirectory, "role-test-never-created.db")).ShouldBeFalse();

        var empty = await InProcessRunner.RunAsync(["status", "--database-url", "sqlite:///x.db"], new Dictionary<string, string?> { ["TIMETRACK_DATABASE_ROLE"] = " " });
        RunnerTestBase.ShouldFailWithOneLine(empty, 2, "--role is empty");
    }

    [Fact]
    public async Task Through_PgBouncer_in_session_mode_the_role_owns_what_is_created_and_does_not_stay_with_the_pool()
    {
        // The pool's login is the suite's superuser (the pooler's auth file knows it); it SETs ROLE to the owner.
        var db = await OwnedDatabaseAsync("role_bouncer");
        // Three server connections: the runner's lock session, its pooler probe (kept in Npgsql's pool) and the steps'.
        await using var bouncer = await PgBouncer.StartAsync("session", poolSize: 3);
        var url = bouncer.UrlFor(db.Name);

        var init = await InProcessRunner.RunAsync(["init", "--role", Owner, "--database-url", url]);
        init.ExitCode.ShouldBe(0, init.ToString());
        (await OwnersAsync(db.Name)).ShouldBe([Owner]);

        var backups = Directory.CreateTempSubdirectory("timetrack-role-bouncer-").FullName;
        try
        {
            var rollback = await InProcessRunner.RunAsync(["rollback", "--steps", "1", "--role", Owner, "--backup", backups, "--database-url", url]);
            rollback.ExitCode.ShouldBe(0, rollback.ToString());
        }
        finally
        {
            Directory.Delete(backups, recursive: true);
        }

        // Every server connection of the pool, as its next clients get them: the login's own role again.
        var clients = new List<NpgsqlConnection>();
        try
        {
            for (var i = 0; i < 3; i++)
            {
                var client = new NpgsqlConnection(bouncer.ConnectionStringFor(db.Name));
                clients.Add(client);
                await client.OpenAsync();
                await using var command = new NpgsqlCommand("SELECT current_user::text, current_setting('role')", client);
                await using var reader = await command.ExecuteReaderAsync();
                await reader.ReadAsync();
                reader.GetString(0).ShouldBe(_server.User);
                reader.GetString(1).ShouldBe("none");
            }
        }
        finally
        {
            foreach (var client in clients)
            {
                await client.DisposeAsync();
            }
        }
    }

    [Fact]
    public async Task Through_transaction_pooling_a_role_is_refused_even_for_status_because_it_would_stay_on_the_server_connection()
    {
        var db = await OwnedDatabaseAsync("role_txpool");
        await using var bouncer = await PgBouncer.StartAsync("transaction");
        var status = await InProcessRunner.RunAsync(["status", "--role", Owner, "--database-url", bouncer.UrlFor(db.Name)]);
        RunnerTestBase.ShouldFailWithOneLine(status, 2, "DATABASE_DIRECT_URL");

        await using var client = new NpgsqlConnection(bouncer.ConnectionStringFor(db.Name));
        await client.OpenAsync();
        await using var command = new NpgsqlCommand("SELECT current_setting('role')", client);
        ((string)(await command.ExecuteScalarAsync())!).ShouldBe("none");
    }
}
