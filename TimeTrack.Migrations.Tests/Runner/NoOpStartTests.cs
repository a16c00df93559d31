using TimeTrack.Migrations.Runner.Commands;
using TimeTrack.Migrations.Runner.Databases;
using TimeTrack.Migrations.Runner.FastStart;
using TimeTrack.Migrations.Runner.Running;
using TimeTrack.Migrations.Tests.Infrastructure;

namespace TimeTrack.Migrations.Tests.Runner;

public sealed class PostgresNoOpStartTests() : NoOpStartTests(DatabaseKind.Postgres);

public sealed class SqliteNoOpStartTests() : NoOpStartTests(DatabaseKind.Sqlite);

/// <summary>
/// The NativeAOT front's decision (FastStart/NoOpStart.cs), in-process against real databases of
/// each provider and the full runner itself: "nothing to do" exactly where the runner does
/// nothing, with the runner's own output; every other state is handed over. The published AOT
/// binary is run end to end by .ci/test-image.sh and bench/run.sh's smoke (.ci/run).
/// </summary>
public abstract class NoOpStartTests(DatabaseKind provider) : RunnerTestBase(provider)
{
    private static readonly MigrationManifest Manifest =
        MigrationManifest.Load(typeof(TimeTrack.Migrations.Migrations.TimeTrackMigration).Assembly)!;

    private async Task<string?> DecideAsync()
    {
        await using var connection = Db.OpenConnection(); // the front's path: its one-round-trip decision
        return await NoOpStart.DecideAsync(connection, Db.Target, Manifest, CancellationToken.None);
    }

    private NoOpStart.Resolved Resolve(params string[] args) =>
        NoOpStart.Resolve(NoOpStart.Understand([.. args, "--database-url", Db.Url])!, Environment())
        ?? throw new InvalidOperationException($"not resolved: {string.Join(' ', args)}");

    private static Terminal Environment(Dictionary<string, string?>? variables = null) =>
        new(TextWriter.Null, TextWriter.Null, variables ?? [], AppContext.BaseDirectory);

    [Fact]
    public async Task A_runner_the_front_handed_over_to_does_not_ask_the_database_again()
    {
        ShouldSucceed(await RunAsync("init"));
        var manifest = () => Manifest;
        string[] args = ["init", "--database-url", Db.Url];

        (await NoOpStart.RunAsync(args, Environment(), manifest, CancellationToken.None)).HandOver.ShouldBeNull(); // at head: nothing to do
        var handedOver = await NoOpStart.RunAsync(args, Environment(new() { [NoOpStart.HandedOverVariable] = "pending: 5" }), manifest, CancellationToken.None);
        handedOver.HandOver.ShouldBe("the front handed over (pending: 5)"); // the front's word stands: no second decision
        handedOver.Pending.ShouldBeTrue();
        var otherReason = await NoOpStart.RunAsync(args, Environment(new() { [NoOpStart.HandedOverVariable] = "5 changed since it was applied" }), manifest, CancellationToken.None);
        otherReason.Pending.ShouldBeFalse();
    }

    [Fact]
    public async Task A_start_the_decision_found_behind_goes_to_the_lock_without_reading_first_and_still_finds_head_there()
    {
        // Another replica brought the database to head between the decision and the runner.
        ShouldSucceed(await RunAsync("init"));
        string[] args = ["init", "--lock-timeout", "1", "--database-url", Db.Url];
        await using (await Db.HoldMigrationLockAsync())
        {
            var unsaid = await InProcessRunner.RunAsync(args);
            ShouldSucceed(unsaid); // the read before the lock answers; the held lock is not asked for
            unsaid.Stdout.ShouldContain("nothing to do");

            (await InProcessRunner.RunAsync(args, pending: true)).ExitCode.ShouldBe(4); // no read before it: the lock, held
        }

        var pending = await InProcessRunner.RunAsync(args, pending: true);
        ShouldSucceed(pending); // the read under the lock finds head
        pending.Stdout.ShouldContain("nothing to do");
    }

    [Fact]
    public async Task At_head_it_decides_nothing_to_do_and_prints_exactly_what_the_runner_prints()
    {
        ShouldSucceed(await RunAsync("init"));
        (await DecideAsync()).ShouldBeNull();
        var before = await Db.FingerprintAsync();

        var backups = Directory.CreateTempSubdirectory("noop-start-backups").FullName;
        string[][] invocations =
        [
            ["init"], ["up"], ["apply"], ["init", "--json"], ["up", "--json"], ["init", "--to", "head", "--wait", "60"],
            ["init", "--json", "--backup", backups, "--backup-keep", "3"], ["up", "--backup", backups, "--backup-optional"],
        ];
        foreach (var args in invocations)
        {
            var runner = await RunAsync(args);
            ShouldSucceed(runner);
            var (stdout, stderr) = NoOpStart.Print(Resolve(args), Manifest.Migrations[^1].Version);
            stdout.ShouldBe(runner.Stdout, string.Join(' ', args));
            stderr.ShouldBe(runner.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries), string.Join(' ', args));
        }

        NoOpStart.Print(Resolve("init"), Manifest.Migrations[^1].Version).Stdout.ShouldContain("nothing to do");
        (await Db.FingerprintAsync()).ShouldBe(before);
        Directory.GetFileSystemEntries(backups).ShouldBeEmpty(); // no backup on a no-op start
        Directory.Delete(backups);
    }

    [Fact]
    public async Task A_database_below_head_is_handed_over()
    {
        ShouldSucceed(await RunAsync("init", "--to", Versions[2].ToString(System.Globalization.CultureInfo.InvariantCulture)));
        (await DecideAsync()).ShouldStartWith("pending: ");
        var outcome = await NoOpStart.RunAsync(["init", "--database-url", Db.Url], Environment(), () => Manifest, CancellationToken.None);
        outcome.HandOver.ShouldNotBeNull();
        outcome.Pending.ShouldBeTrue(); // the runner is told: no read before its lock
    }

    [Fact]
    public async Task A_changed_migration_is_handed_over_and_the_runner_refuses_it()
    {
        ShouldSucceed(await RunAsync("init"));
        await Db.ExecuteAsync($"UPDATE \"VersionInfo\" SET \"Checksum\" = 'edited' WHERE \"Version\" = {Versions[1]}");
        (await DecideAsync()).ShouldBe($"{Versions[1]} changed since it was applied");
        (await RunAsync("init")).ExitCode.ShouldBe(5);
    }

    [Fact]
    public async Task An_unknown_version_is_handed_over()
    {
        ShouldSucceed(await RunAsync("init"));
        await Db.ExecuteAsync("INSERT INTO \"VersionInfo\" (\"Version\", \"Description\", \"Checksum\") VALUES (299901010000, 'from a newer image', 'x')");
        (await DecideAsync()).ShouldBe("unknown to this build: 299901010000");
    }

    [Fact]
    public async Task An_incomplete_history_is_handed_over_and_the_runner_completes_it()
    {
        ShouldSucceed(await RunAsync("init"));
        await Db.ExecuteAsync("UPDATE \"VersionInfo\" SET \"Checksum\" = NULL");
        (await DecideAsync()).ShouldBe($"{Versions[0]} has no recorded checksum");

        await Db.ExecuteAsync("ALTER TABLE \"VersionInfo\" DROP COLUMN \"DownNotCaptured\"");
        (await DecideAsync()).ShouldBe("the version table lacks DownNotCaptured");

        var runner = await RunAsync("init");
        ShouldSucceed(runner);
        runner.Stderr.ShouldContain("gained the columns");
        (await DecideAsync()).ShouldBeNull(); // completed: the next start is the front's
    }

    [Fact]
    public async Task An_empty_database_is_the_runners_own_to_deploy()
    {
        await Should.ThrowAsync<System.Data.Common.DbException>(DecideAsync); // no version table: the front hands over
    }

    [Fact]
    public async Task The_complete_layout_is_the_table_the_runner_creates()
    {
        ShouldSucceed(await RunAsync("init"));
        await using var connection = Db.OpenConnection();
        var (columns, _) = await NoOpStart.ReadAsync(connection, Db.Target, CancellationToken.None);
        columns.ShouldBe(NoOpStart.CompleteLayout);
        NoOpStart.VersionTableName(Provider).ShouldBe(Db.Target.Provider.QualifiedTableName(VersionTable.Name));
    }
}

/// <summary>The front's argument whitelist and its reading of the environment (no database).</summary>
public sealed class NoOpStartArgumentTests
{
    private static Terminal Environment(Dictionary<string, string?>? variables = null) =>
        new(TextWriter.Null, TextWriter.Null, variables ?? [], AppContext.BaseDirectory);

    [Fact]
    public void A_checksum_the_manifest_accepts_is_nothing_to_do()
    {
        var manifest = MigrationManifest.Parse("""
            1 postgres new accepted=old,older  # One
            1 sqlite   s
            2 postgres two  # Two
            """);
        NoOpStart.WhyNotNoOp(NoOpStart.CompleteLayout, [new(1, "older"), new(2, "two")], manifest, "postgres").ShouldBeNull();
        NoOpStart.WhyNotNoOp(NoOpStart.CompleteLayout, [new(1, "s"), new(2, "two")], manifest, "postgres").ShouldBe("1 changed since it was applied");
        NoOpStart.WhyNotNoOp(NoOpStart.CompleteLayout, [new(2, "two")], manifest, "postgres").ShouldBe("pending: 1");
        NoOpStart.WhyNotNoOp(NoOpStart.CompleteLayout, [], new MigrationManifest([]), "postgres").ShouldBe("the manifest lists no migration");
    }

    /// <summary>The one rule the front (against its manifest) and the runner's read before its lock (against its catalog) both ask.</summary>
    [Fact]
    public void At_head_means_every_known_version_once_no_other_and_each_checksum_accepted()
    {
        static bool Accepts(NoOpStart.VersionRow row) => row.Checksum == $"c{row.Version}";
        NoOpStart.WhyNotAtHead([new(1, "c1"), new(2, "c2")], [1, 2], Accepts).ShouldBeNull();
        NoOpStart.WhyNotAtHead([new(1, "c1"), new(1, "c1"), new(2, "c2")], [1, 2], Accepts).ShouldBe("a version is recorded more than once");
        NoOpStart.WhyNotAtHead([new(1, "c1")], [1, 2], Accepts).ShouldBe("pending: 2");
        NoOpStart.WhyNotAtHead([new(1, "c1"), new(2, "c2"), new(3, "c3")], [1, 2], Accepts).ShouldBe("unknown to this build: 3");
        NoOpStart.WhyNotAtHead([new(1, null), new(2, "c2")], [1, 2], Accepts).ShouldBe("1 has no recorded checksum");
        NoOpStart.WhyNotAtHead([new(1, "c1"), new(2, "edited")], [1, 2], Accepts).ShouldBe("2 changed since it was applied");
    }

    [Fact]
    public void A_signal_before_anything_was_written_prints_what_the_runner_prints()
    {
        var stdout = new StringWriter();
        // In-process no signal arrived, so both say "cancelled: ..." where a real SIGTERM says "interrupted by SIGTERM: ..." (process tests).
        var runner = TimeTrack.Migrations.Runner.Output.Interruption.Error("nothing was changed");
        TimeTrack.Migrations.Runner.Commands.Handler.WriteJsonError(stdout, runner.Code, runner.Message);
        var (json, line) = NoOpStart.PrintInterruption(TimeTrack.Migrations.Runner.Output.LogFormat.Text, json: true);
        json.ShouldBe(stdout.ToString().ReplaceLineEndings("\n"));
        line.ShouldBe($"error: {runner.Message}\n");
        runner.Message.ShouldEndWith(": nothing was changed");
        NoOpStart.PrintInterruption(TimeTrack.Migrations.Runner.Output.LogFormat.Text, json: false).Stdout.ShouldBeEmpty();
    }

    [Theory]
    [InlineData("init")]
    [InlineData("up")]
    [InlineData("apply --json")]
    [InlineData("init --database-url postgresql://h/d --to HEAD --wait 60 --lock-timeout=5")]
    [InlineData("start")]
    [InlineData("start --")]
    [InlineData("start --json -- gunicorn --bind 0.0.0.0:8080 app:app")]
    [InlineData("start -- init --to head --wait 60")]
    [InlineData("start -- apply --json")]
    [InlineData("init --allow-downgrade --force --allow-changed --log-format json --ddl-retries 3")]
    [InlineData("up --allow-unknown --allow-out-of-order --statement-timeout 0")]
    [InlineData("init --to head --wait 60 --backup /backups --backup-keep 7 --backup-optional")]
    [InlineData("start --progress-interval 30")]
    public void Understands_the_no_op_starts(string args) =>
        NoOpStart.Understand(args.Split(' ')).ShouldNotBeNull();

    [Theory]
    [InlineData("")]
    [InlineData("status")]
    [InlineData("--help")]
    [InlineData("init --version")]
    [InlineData("init --verbose")]
    [InlineData("init -v")]
    [InlineData("init up")]
    [InlineData("init --to 202406010900")]
    [InlineData("up --to head")]
    [InlineData("up --force")]
    [InlineData("init --profile legacy")]
    [InlineData("init --json true")]
    [InlineData("init --json=true")]
    [InlineData("init --wait -1")]
    [InlineData("init --wait x")]
    [InlineData("init --wait")]
    [InlineData("init --log-format JSON")]
    [InlineData("init --migrations-assembly x.dll")]
    [InlineData("init --database-url a --database-url b")]
    [InlineData("init @options.rsp")]
    [InlineData("init --backup-keep x")]
    [InlineData("init --backup")]
    [InlineData("init --progress-interval x")]
    [InlineData("--database-url postgresql://h/d init")]
    [InlineData("init -- app")]
    [InlineData("start -- status")]
    [InlineData("start --json -- up")]
    [InlineData("start -- downgrade --to 1")]
    [InlineData("start -- create message")]
    [InlineData("start -- --help")]
    [InlineData("start -- migrate.sh status")]
    public void Hands_over_anything_else(string args) =>
        NoOpStart.Understand(args.Split(' ', StringSplitOptions.RemoveEmptyEntries)).ShouldBeNull();

    [Fact]
    public void Resolves_the_environment_as_the_runner_does_and_hands_over_what_it_does_not_connect_to()
    {
        var init = NoOpStart.Understand(["init"])!;
        var resolved = NoOpStart.Resolve(init, Environment(new()
        {
            ["DATABASE_URL"] = "postgresql://app@db.example:6543/timetrack?sslmode=require",
            ["DATABASE_PASSWORD"] = "s3cret",
            ["TIMETRACK_LOG_FORMAT"] = "Json",
        }))!;
        resolved.Target.Display.ShouldBe("postgresql://app@db.example:6543/timetrack?sslmode=require");
        resolved.Target.ConnectionString.ShouldContain("Password=s3cret");
        resolved.LogFormat.ShouldBe(TimeTrack.Migrations.Runner.Output.LogFormat.Json);
        resolved.Redactor.Redact("password 's3cret'").ShouldBe("password '***'");

        // TIMETRACK_DATABASE_URL wins over DATABASE_URL, as in GlobalOptions.
        NoOpStart.Resolve(init, Environment(new() { ["TIMETRACK_DATABASE_URL"] = "postgres://u:p@h/one", ["DATABASE_URL"] = "postgres://u:p@h/two" }))!
            .Target.Display.ShouldBe("postgres://u:***@h/one");

        Dictionary<string, string?>[] handedOver =
        [
            [],                                                                      // the embedded SQLite default
            new() { ["DATABASE_URL"] = "sqlite:///no-such.db" },                     // a SQLite file the runner creates
            new() { ["DATABASE_URL"] = "postgresql://u:p@h/d?gssencmode=require" },  // GSS
            new() { ["DATABASE_URL"] = "postgresql://u:p@h/d", ["TIMETRACK_MIGRATIONS_ASSEMBLY"] = "x.dll" },
            new() { ["DATABASE_URL"] = "postgresql://u:p@h/d", ["TIMETRACK_WAIT"] = "soon" },    // the runner says why it refuses
            new() { ["DATABASE_URL"] = "postgresql://u:p@h/d", ["TIMETRACK_DDL_RETRIES"] = "101" },
            new() { ["DATABASE_URL"] = "postgresql://u:p@h/d", ["DATABASE_URL_FILE"] = "/run/secrets/url" },
            new() { ["DATABASE_URL"] = "postgresql://u:p@h" },                       // no database: exit 2 from the runner
            new() { ["DATABASE_URL"] = "postgresql://u:p@h/d", ["TIMETRACK_BACKUP_DIR"] = "/no/such/volume" },
            new() { ["DATABASE_URL"] = "postgresql://u:p@h/d", ["TIMETRACK_BACKUP_DIR"] = "/tmp", ["TIMETRACK_BACKUP_KEEP"] = "0" },
        ];
        // An existing SQLite file is read by the front itself.
        var file = Path.Combine(Path.GetTempPath(), $"noop-start-{Guid.NewGuid():N}.db");
        File.WriteAllBytes(file, []);
        try
        {
            NoOpStart.Resolve(init, Environment(new() { ["DATABASE_URL"] = "sqlite:///" + file }))!.Target.SqlitePath.ShouldBe(file);
        }
        finally
        {
            File.Delete(file);
        }

        foreach (var variables in handedOver)
        {
            NoOpStart.Resolve(init, Environment(variables)).ShouldBeNull(string.Join(", ", variables.Select(v => $"{v.Key}={v.Value}")));
        }
    }
}
