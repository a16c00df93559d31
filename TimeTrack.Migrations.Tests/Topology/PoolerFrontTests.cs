using Npgsql;
using TimeTrack.Migrations.Runner.Commands;
using TimeTrack.Migrations.Runner.Databases;
using TimeTrack.Migrations.Runner.FastStart;
using TimeTrack.Migrations.Runner.Running;
using TimeTrack.Migrations.Tests.Infrastructure;
using TimeTrack.Migrations.Tests.Runner;

namespace TimeTrack.Migrations.Tests.Topology;

/// <summary>
/// What the NativeAOT front (and the full runner, first) decides: Core's NoOpStart.RunAsync as both
/// Program.cs files call it, printing into the void; null when it answers "nothing to do" itself,
/// else why it hands over to the full runner.
/// </summary>
internal static class FrontDecision
{
    private static readonly MigrationManifest Manifest = MigrationManifest.Load(typeof(TimeTrack.Migrations.Migrations.TimeTrackMigration).Assembly)!;

    public static async Task<string?> DecideAsync(string[] args, Dictionary<string, string?>? environment = null) =>
        (await NoOpStart.RunAsync(args, new Terminal(TextWriter.Null, TextWriter.Null, environment ?? [], AppContext.BaseDirectory), () => Manifest,
            CancellationToken.None, connectTimeoutSeconds: 60)).HandOver;
}

/// <summary>
/// Through a real PgBouncer: DATABASE_DIRECT_URL beside a transaction-pooled DATABASE_URL, a
/// CREATE INDEX CONCURRENTLY step through session pooling, and the front's no-op in both modes
/// and through a multi-host URL.
/// </summary>
public sealed class PoolerFrontTests : IAsyncLifetime
{
    private PostgresTestDatabase _db = null!;

    public async Task InitializeAsync() => _db = await PostgresTestDatabase.CreateAsync("pooler_front");

    public async Task DisposeAsync() => await _db.DisposeAsync();

    [Fact]
    public async Task With_DATABASE_URL_through_transaction_pooling_DATABASE_DIRECT_URL_lets_init_succeed_and_without_it_the_refusal_names_it()
    {
        await using var bouncer = await PgBouncer.StartAsync("transaction");
        var pooled = new Dictionary<string, string?> { ["DATABASE_URL"] = bouncer.UrlFor(_db.Name) };

        var refused = await InProcessRunner.RunAsync(["init"], pooled);
        RunnerTestBase.ShouldFailWithOneLine(refused, 2, "Set DATABASE_DIRECT_URL to a direct URL");
        (await _db.AppliedVersionsAsync()).ShouldBeEmpty();

        var init = await InProcessRunner.RunAsync(["init", "--json"], new Dictionary<string, string?>(pooled) { ["DATABASE_DIRECT_URL"] = _db.Url });
        init.ExitCode.ShouldBe(0, init.ToString());
        init.Stdout.ShouldContain($":{_db.Server.Port}/{_db.Name}", Case.Sensitive, "the result names the direct URL it used");
        (await _db.AppliedVersionsAsync()).ShouldBe(RunnerTestBase.Versions);

        // The option still wins over both.
        var status = await InProcessRunner.RunAsync(["status", "--database-url", "sqlite:///never.db"], new Dictionary<string, string?>(pooled) { ["DATABASE_DIRECT_URL"] = _db.Url });
        status.Stdout.ShouldNotContain(_db.Name);
    }

    [Fact]
    public async Task Through_session_pooling_a_CREATE_INDEX_CONCURRENTLY_step_builds_a_valid_index_while_a_pool_client_writes()
    {
        const long Index = 202407150900; // M202407150900_IndexTimeEntriesByUserAndDay: CREATE INDEX CONCURRENTLY, outside a transaction
        var before = RunnerTestBase.Versions.TakeWhile(v => v < Index).Last();
        await using var bouncer = await PgBouncer.StartAsync("session", poolSize: 5);
        var url = bouncer.UrlFor(_db.Name);
        var first = await InProcessRunner.RunAsync(["up", "--to", before.ToString(System.Globalization.CultureInfo.InvariantCulture), "--database-url", url]);
        first.ExitCode.ShouldBe(0, first.ToString());

        // Another client of the same pool in an open transaction that does not touch time_entries: the build waits for
        // it (it waits out every older snapshot) and goes on once it commits; the runner's own idle lock session holds none.
        await using var other = new NpgsqlConnection(bouncer.ConnectionStringFor(_db.Name));
        await other.OpenAsync();
        await using var transaction = await other.BeginTransactionAsync();
        await using (var touch = new NpgsqlCommand("SELECT count(*) FROM users", other, transaction))
        {
            await touch.ExecuteScalarAsync();
        }

        var run = InProcessRunner.RunAsync(["up", "--database-url", url, "--progress-interval", "1"]);
        await using (var direct = new NpgsqlConnection(_db.Server.HelperConnectionStringFor(_db.Name)))
        {
            await direct.OpenAsync();
            for (var waited = 0; ; waited++)
            {
                await using var building = new NpgsqlCommand("SELECT count(*) FROM pg_stat_activity WHERE query LIKE 'CREATE INDEX CONCURRENTLY%' AND datname = current_database()", direct);
                if ((long)(await building.ExecuteScalarAsync())! > 0 || run.IsCompleted || waited > 600)
                {
                    break;
                }

                await Task.Delay(100);
            }
        }

        await transaction.CommitAsync();
        var up = await run;
        up.ExitCode.ShouldBe(0, up.ToString());
        (await _db.AppliedVersionsAsync()).ShouldBe(RunnerTestBase.Versions);
        await using var check = new NpgsqlConnection(_db.Server.HelperConnectionStringFor(_db.Name));
        await check.OpenAsync();
        await using var valid = new NpgsqlCommand("SELECT indisvalid FROM pg_index WHERE indexrelid = 'ix_time_entries_user_arrival'::regclass", check);
        ((bool)(await valid.ExecuteScalarAsync())!).ShouldBeTrue("the concurrently built index is valid");
    }

    [Theory]
    [InlineData("session")]
    [InlineData("transaction")]
    public async Task The_front_answers_the_no_op_through_PgBouncer_in_session_and_transaction_mode(string mode)
    {
        (await InProcessRunner.RunAsync(["init", "--database-url", _db.Url])).ExitCode.ShouldBe(0);
        await using var bouncer = await PgBouncer.StartAsync(mode);
        var url = bouncer.UrlFor(_db.Name);
        foreach (var command in new[] { "init", "up", "start" })
        {
            (await FrontDecision.DecideAsync([command, "--database-url", url])).ShouldBeNull($"{command} through {mode} pooling");
        }

        // Something to do: handed over (the full runner then refuses transaction pooling, exit 2).
        var rollback = await InProcessRunner.RunAsync(["rollback", "--steps", "1", "--database-url", _db.Url]);
        rollback.ExitCode.ShouldBe(0, rollback.ToString());
        (await FrontDecision.DecideAsync(["up", "--database-url", url])).ShouldStartWith("pending: ");
        var up = await InProcessRunner.RunAsync(["up", "--database-url", url]);
        up.ExitCode.ShouldBe(mode == "session" ? 0 : 2, up.ToString());
    }

    [Fact]
    public async Task The_front_answers_the_no_op_through_a_multi_host_url_and_hands_a_standby_over()
    {
        const string Database = "front_multi_host";
        var pair = await StandbyPair.Shared();
        await pair.CreateReplicatedDatabaseAsync(Database);
        var init = await InProcessRunner.RunAsync(["init", "--database-url", pair.MultiHostUrlFor(Database, "primary")]);
        init.ExitCode.ShouldBe(0, init.ToString());

        // The standby replays the primary's version table; the standby itself is the runner's to refuse.
        (await FrontDecision.DecideAsync(["up", "--database-url", pair.MultiHostUrlFor(Database, "primary")])).ShouldBeNull();
        (await FrontDecision.DecideAsync(["up", "--database-url", pair.MultiHostUrlFor(Database, "read-write")])).ShouldBeNull();
        (await FrontDecision.DecideAsync(["up", "--database-url", pair.StandbyUrlFor(Database)])).ShouldBe("the server is a read-only standby");
    }
}
