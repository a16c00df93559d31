using Npgsql;
using TimeTrack.Migrations.Runner.Databases;
using TimeTrack.Migrations.Tests.Infrastructure;
using TimeTrack.Migrations.Tests.Runner;

namespace TimeTrack.Migrations.Tests.Topology;

/// <summary>
/// The runner through a real PgBouncer (its usual configuration: ignore_startup_parameters =
/// extra_float_digits) in front of the test cluster: session mode works as direct; transaction
/// and statement mode are refused before anything is written (the session advisory lock would
/// protect nothing there).
/// </summary>
public sealed class PgBouncerTests : IAsyncLifetime
{
    private PostgresTestDatabase _db = null!;

    public async Task InitializeAsync() => _db = await PostgresTestDatabase.CreateAsync("bouncer");

    public async Task DisposeAsync() => await _db.DisposeAsync();

    /// <summary>
    /// One run through a pool of three server connections: the runner's sessions (lock, probe,
    /// steps, pg_dump) all go back to the pool, and three clients opened together afterwards get
    /// exactly those, with nothing of the run left on them. (Was two tests, each with its own
    /// database, pooler and run: merged, one init, rollback with pg_dump and up fewer.)
    /// </summary>
    [Fact]
    public async Task In_session_mode_init_status_rollback_up_and_restore_work_as_direct_and_nothing_leaks_to_the_next_clients()
    {
        await using var bouncer = await PgBouncer.StartAsync("session", poolSize: 3);
        var url = bouncer.UrlFor(_db.Name);

        var init = await InProcessRunner.RunAsync(["init", "--database-url", url, "--lock-timeout", "30"]);
        init.ExitCode.ShouldBe(0, init.ToString());
        (await _db.AppliedVersionsAsync()).ShouldBe(RunnerTestBase.Versions);

        var status = await InProcessRunner.RunAsync(["status", "--json", "--database-url", url]);
        status.ExitCode.ShouldBe(0, status.ToString());
        status.Stdout.ShouldContain("\"upToDate\": true");
        status.Stdout.ShouldContain("\"readOnlyStandby\": false");

        // pg_dump and pg_restore through the pool as well.
        var backups = Directory.CreateTempSubdirectory("timetrack-bouncer-backup-").FullName;
        try
        {
            var rollback = await InProcessRunner.RunAsync(["rollback", "--steps", "1", "--backup", backups, "--database-url", url]);
            rollback.ExitCode.ShouldBe(0, rollback.ToString());
            (await _db.AppliedVersionsAsync()).ShouldBe(RunnerTestBase.Versions[..^1]);
            var backup = Directory.GetFiles(backups).ShouldHaveSingleItem();

            var up = await InProcessRunner.RunAsync(["up", "--database-url", url]);
            up.ExitCode.ShouldBe(0, up.ToString());
            (await _db.AppliedVersionsAsync()).ShouldBe(RunnerTestBase.Versions);

            await using var restored = await PostgresTestDatabase.CreateAsync("bouncer_restored");
            var restore = await InProcessRunner.RunAsync(["restore", backup, "--database-url", bouncer.UrlFor(restored.Name)]);
            restore.ExitCode.ShouldBe(0, restore.ToString());
            (await restored.AppliedVersionsAsync()).ShouldBe(RunnerTestBase.Versions);
        }
        finally
        {
            Directory.Delete(backups, recursive: true);
        }

        await ShouldLeaveNothingOnThePoolsConnectionsAsync(bouncer);
    }

    [Fact]
    public async Task In_session_mode_ten_concurrent_inits_record_every_migration_once()
    {
        await using var bouncer = await PgBouncer.StartAsync("session", poolSize: 40);
        var url = bouncer.UrlFor(_db.Name);
        var results = await Task.WhenAll(Enumerable.Range(0, 10).Select(_ => InProcessRunner.RunAsync(["init", "--database-url", url])));
        foreach (var result in results)
        {
            result.ExitCode.ShouldBe(0, result.ToString());
        }

        // The version table's primary key would refuse a second row: count the rows themselves.
        (await _db.AppliedVersionsAsync()).ShouldBe(RunnerTestBase.Versions);
        await using var connection = _db.OpenConnection();
        await using var command = connection.CreateCommand();
        command.CommandText = $"SELECT count(*) FROM public.\"{VersionTable.Name}\"";
        ((long)(await command.ExecuteScalarAsync())!).ShouldBe(RunnerTestBase.Versions.Length);
    }

    private async Task ShouldLeaveNothingOnThePoolsConnectionsAsync(PgBouncer bouncer)
    {
        string serverDefault;
        await using (var direct = _db.OpenConnection())
        await using (var show = direct.CreateCommand())
        {
            show.CommandText = "SHOW synchronous_commit";
            serverDefault = (string)(await show.ExecuteScalarAsync())!;
        }

        var clients = new List<NpgsqlConnection>();
        try
        {
            var pids = new HashSet<int>();
            for (var i = 0; i < 3; i++)
            {
                var client = new NpgsqlConnection(bouncer.ConnectionStringFor(_db.Name));
                clients.Add(client);
                await client.OpenAsync();
                await using var command = new NpgsqlCommand(
                    """
                    SELECT pg_backend_pid(), current_setting('lock_timeout'), current_setting('statement_timeout'),
                           current_setting('search_path'), current_setting('client_connection_check_interval'),
                           current_setting('synchronous_commit'),
                           (SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND database = (SELECT oid FROM pg_database WHERE datname = current_database()))
                    """, client);
                await using var reader = await command.ExecuteReaderAsync();
                await reader.ReadAsync();
                pids.Add(reader.GetInt32(0));
                reader.GetString(1).ShouldBe("0");
                reader.GetString(2).ShouldBe("0");
                reader.GetString(3).ShouldBe("\"$user\", public");
                reader.GetString(4).ShouldBe("0");
                reader.GetString(5).ShouldBe(serverDefault, "synchronous_commit as the server sets it");
                reader.GetInt64(6).ShouldBe(0L, "an advisory lock is still held on the pool's server connections");
            }

            pids.Count.ShouldBe(3);
        }
        finally
        {
            foreach (var client in clients)
            {
                await client.DisposeAsync();
            }
        }
    }

    [Theory]
    [InlineData("transaction")]
    [InlineData("statement")]
    public async Task In_transaction_or_statement_mode_a_writing_command_is_refused_before_anything_is_written(string mode)
    {
        await using var bouncer = await PgBouncer.StartAsync(mode);
        var url = bouncer.UrlFor(_db.Name);
        foreach (var command in new[] { "init", "up" })
        {
            var result = await InProcessRunner.RunAsync([command, "--database-url", url]);
            RunnerTestBase.ShouldFailWithOneLine(result, 2, "pooler in transaction or statement mode");
            result.Stderr.ShouldContain("session mode");
        }

        (await _db.AppliedVersionsAsync()).ShouldBeEmpty();
        (await _db.ReadSchemaAsync()).Tables.ShouldBeEmpty();

        // Reading needs no lock: status works through such a pool.
        var status = await InProcessRunner.RunAsync(["status", "--database-url", url]);
        status.ExitCode.ShouldBe(0, status.ToString());
    }
}
