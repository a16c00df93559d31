using TimeTrack.Migrations.Runner.Databases;
using TimeTrack.Migrations.Tests.Infrastructure;

namespace TimeTrack.Migrations.Tests.Runner;

/// <summary>
/// --backup before a change, and restore: a legacy database backed up by init before a migration
/// that fails restores to exactly the database it was (pg_dump / sqlite3 .dump equal); nothing is
/// backed up when nothing changes; retention; restore refuses a database that is not empty.
/// </summary>
public abstract class BackupTests(DatabaseKind kind) : RunnerTestBase(kind)
{
    /// <summary>
    /// The shipped history plus a sixth migration that fails on real rows (as a newer image would
    /// carry it): on the empty tables of the expected-schema build, which adoption runs, it passes.
    /// </summary>
    private static readonly Lazy<string> WithFailingSixth = new(() => RecordedHistoryTests.Compile(RecordedHistoryTests.NewerBuild($$"""
        [Migration({{RecordedHistoryTests.Sixth}}, "Fails half-way")]
        public sealed class V{{RecordedHistoryTests.Sixth}} : TimeTrackMigration
        {
            public override void Up()
            {
                Alter.Table("projects").AddColumn("colour").AsCustom(Sql.Varchar(7)).Nullable();
                Execute.Sql("UPDATE users SET email = NULL");
            }

            public override void Down() => Delete.Column("colour").FromTable("projects");
        }
        """)));

    protected string BackupDir { get; } = Directory.CreateTempSubdirectory("timetrack-backups-").FullName;

    public override async Task DisposeAsync()
    {
        await base.DisposeAsync();
        Directory.Delete(BackupDir, recursive: true);
    }

    protected string[] Backups() => [.. Directory.GetFiles(BackupDir).Select(Path.GetFileName).Order(StringComparer.Ordinal).Cast<string>()];

    /// <summary>A failure after the runner started work: its exit code, its error line (the last), no stack trace.</summary>
    protected static void ShouldFailWith(ProcessResult result, int exitCode, string expectedText)
    {
        result.ExitCode.ShouldBe(exitCode, result.ToString());
        var errors = result.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries).Where(l => l.StartsWith("error: ", StringComparison.Ordinal)).ToList();
        errors.ShouldHaveSingleItem(result.ToString()).ShouldContain(expectedText, Case.Sensitive, result.ToString());
        result.Output.ShouldNotContain("   at ", Case.Sensitive, "a stack trace was printed");
    }

    /// <summary>The text form of a whole database: pg_dump's SQL, or the sqlite3 shell's .dump.</summary>
    private static async Task<string> DumpAsync(TestDatabase db)
    {
        if (db is not SqliteTestDatabase sqlite)
        {
            return await db.DumpAsync();
        }

        var result = await RunnerProcess.RunProgramAsync("sqlite3", [sqlite.Path, ".dump"]);
        result.ExitCode.ShouldBe(0, $"sqlite3 .dump failed (apt-get install sqlite3):\n{result}");
        return result.Stdout;
    }

    [Fact]
    public async Task A_legacy_database_backed_up_by_init_before_a_failing_migration_restores_to_the_database_it_was()
    {
        await Db.RestoreLegacyFixtureAsync();
        var before = await DumpAsync(Db);

        var init = await RunAsync(["init", "--backup", BackupDir, "--migrations-assembly", WithFailingSixth.Value], null);

        init.ExitCode.ShouldBe(1, init.ToString());
        init.Stderr.ShouldContain("migration " + RecordedHistoryTests.Sixth);
        var backup = Backups().ShouldHaveSingleItem();
        backup.ShouldMatch($@"^[A-Za-z0-9_.-]+-v0-\d{{8}}T\d{{9}}Z\{(Provider == DatabaseKind.Postgres ? ".dump" : ".db")}$");
        init.Stderr.ShouldContain($"backup written: {Path.Combine(BackupDir, backup)} (");
        (await Db.AppliedVersionsAsync()).ShouldBe(Versions, "the migrations before the failing one were applied");

        await using var restored = await TestDatabase.CreateAsync(Provider, "restored");
        var restore = await InProcessRunner.RunAsync(["restore", Path.Combine(BackupDir, backup), "--database-url", restored.Url]);

        ShouldSucceed(restore);
        restore.Stderr.ShouldContain("restored " + Path.Combine(BackupDir, backup));
        restore.Stdout.ShouldContain("tables but no migration history", Case.Sensitive, "restore ends with the status of the restored database");
        (await DumpAsync(restored)).ShouldBe(before);
    }

    [Fact]
    public async Task Nothing_to_do_writes_no_backup()
    {
        ShouldSucceed(await RunAsync("up"));

        var init = await RunAsync("init", "--backup", BackupDir, "--backup-keep", "1");
        var up = await RunAsync("up", "--backup", BackupDir, "--json");
        var stamp = await RunAsync("stamp", "head", "--backup", BackupDir);

        ShouldSucceed(init);
        ShouldSucceed(up);
        ShouldSucceed(stamp);
        up.Stdout.ShouldContain("\"backup\": null");
        (init.Stderr + up.Stderr + stamp.Stderr).ShouldNotContain("backup");
        Backups().ShouldBeEmpty();
    }

    [Fact]
    public async Task A_refused_change_writes_no_backup_and_stamp_backs_up_before_it_writes()
    {
        ShouldSucceed(await RunScenarioAsync("irreversible", "up"));
        var refused = await RunScenarioAsync("irreversible", "rollback", "--backup", BackupDir);
        refused.ExitCode.ShouldBe(5, refused.ToString());
        Backups().ShouldBeEmpty("an irreversible Down is refused before the backup, as before any change");

        var stamp = await RunScenarioAsync("normal", "stamp", "200", "--backup", BackupDir, "--json");

        ShouldSucceed(stamp);
        var backup = Backups().ShouldHaveSingleItem();
        backup.ShouldContain("-v300-");
        stamp.Stdout.ShouldContain($"\"path\": \"{Path.Combine(BackupDir, backup)}\"");
        (await Db.AppliedVersionsAsync()).ShouldBe([100L, 200L]);
    }

    [Fact]
    public async Task Each_change_is_backed_up_at_the_version_before_and_only_the_newest_are_kept()
    {
        var other = $"otherdb-v{Versions[0]}-20200101T000000000Z{(Provider == DatabaseKind.Postgres ? ".dump" : ".db")}";
        await File.WriteAllTextAsync(Path.Combine(BackupDir, other), "another database's backup");

        ShouldSucceed(await RunAsync("up", "--to", Versions[1].ToString(), "--backup", BackupDir, "--backup-keep", "2"));
        ShouldSucceed(await RunAsync("up", "--to", Versions[3].ToString(), "--backup", BackupDir, "--backup-keep", "2"));
        var rollback = await RunAsync("rollback", "--backup", BackupDir, "--backup-keep", "2", "--json");

        ShouldSucceed(rollback);
        var mine = Backups().Where(b => b != other).ToList();
        mine.Count.ShouldBe(2, string.Join(", ", Backups()));
        mine.ShouldContain(b => b.Contains($"-v{Versions[1]}-"));
        mine.ShouldContain(b => b.Contains($"-v{Versions[3]}-"));
        Backups().ShouldContain(other, "retention touches only this database's backups");
        rollback.Stderr.ShouldContain("removed old backup");
        var newest = mine.Single(b => b.Contains($"-v{Versions[3]}-"));
        rollback.Stdout.ShouldContain($"\"path\": \"{Path.Combine(BackupDir, newest)}\"");
        rollback.Stdout.ShouldContain($"\"version\": {Versions[3]}");

        var status = await RunAsync("status", "--backup", BackupDir);
        ShouldSucceed(status);
        status.Stdout.ShouldContain($"last backup:  {Path.Combine(BackupDir, newest)} (");
        status.Stdout.ShouldContain($"at version {Versions[3]})");
        (await RunAsync("status", "--backup", BackupDir, "--json")).Stdout.ShouldContain("\"lastBackup\": {");
    }

    [Fact]
    public async Task Restore_refuses_a_database_that_is_not_empty_unless_forced()
    {
        ShouldSucceed(await RunAsync("up", "--to", Versions[1].ToString()));
        ShouldSucceed(await RunAsync("up", "--backup", BackupDir));
        var backup = Path.Combine(BackupDir, Backups().ShouldHaveSingleItem());
        var atHead = await Db.FingerprintAsync();

        var refused = await RunAsync("restore", backup);

        ShouldFailWithOneLine(refused, 5, "the database is not empty");
        (await Db.FingerprintAsync()).ShouldBe(atHead);

        // A file that is not a backup: refused before anything is dropped, even with --force.
        var notABackup = Path.Combine(BackupDir, "not-a-backup.dump");
        await File.WriteAllTextAsync(notABackup, "not a backup\n");
        var broken = await RunAsync("restore", notABackup, "--force");
        ShouldFailWithOneLine(broken, 2, $"the backup file {notABackup} is not ");
        (await Db.FingerprintAsync()).ShouldBe(atHead);

        var forced = await RunAsync("restore", backup, "--force");

        ShouldSucceed(forced);
        forced.Stderr.ShouldContain("FORCED: replacing the contents");
        (await Db.AppliedVersionsAsync()).ShouldBe(Versions[..2]);
        (await Db.ReadSchemaAsync()).Table("company_settings").ShouldBeNull();
        ShouldSucceed(await RunAsync("up"));
    }

    [Fact]
    public async Task Bad_backup_input_is_one_line_and_exit_2()
    {
        ShouldFailWithOneLine(await RunAsync("up", "--backup", Path.Combine(BackupDir, "missing")), 2, "does not exist (is the backup volume mounted?)");
        ShouldFailWithOneLine(await RunAsync("up", "--backup", BackupDir, "--backup-keep", "0"), 2, "--backup-keep must be 1 or more");
        ShouldFailWithOneLine(await RunAsync("restore", Path.Combine(BackupDir, "nothing.dump")), 2, "does not exist");
        (await Db.AppliedVersionsAsync()).ShouldBeEmpty();
    }
}

public sealed class PostgresBackupTests() : BackupTests(DatabaseKind.Postgres)
{
    /// <summary>A pg_dump that says it is an older release than the server (there is only PostgreSQL 15 here).</summary>
    private string FakePgDump(string script)
    {
        var path = Path.Combine(BackupDir, "..", $"fake-pg_dump-{Guid.NewGuid():N}");
        File.WriteAllText(path, "#!/bin/sh\n" + script + "\n");
        if (!OperatingSystem.IsWindows())
        {
            File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserExecute | UnixFileMode.UserWrite);
        }

        return path;
    }

    [Fact]
    public async Task A_pg_dump_older_than_the_server_is_refused_and_nothing_is_applied_unless_the_backup_is_optional()
    {
        var old = FakePgDump("echo 'pg_dump (PostgreSQL) 12.0'");
        var environment = new Dictionary<string, string?> { ["TIMETRACK_PG_DUMP"] = old };
        try
        {
            var refused = await RunAsync(["up", "--backup", BackupDir], environment);

            ShouldFailWith(refused, 1, $"backup failed, so nothing was changed: pg_dump 12 ({old}) is older than the server (PostgreSQL 15): a backup needs pg_dump 15 or newer");
            (await Db.AppliedVersionsAsync()).ShouldBeEmpty();
            Backups().ShouldBeEmpty();

            var optional = await RunAsync(["up", "--backup", BackupDir, "--backup-optional", "--json"], environment);

            ShouldSucceed(optional);
            optional.Stderr.ShouldContain("warning: backup failed: pg_dump 12");
            optional.Stdout.ShouldContain("\"backup\": null");
            (await Db.AppliedVersionsAsync()).ShouldBe(Versions);
        }
        finally
        {
            File.Delete(old);
        }
    }

    [Fact]
    public async Task A_missing_or_failing_pg_dump_stops_the_migration_with_what_to_install()
    {
        var missing = await RunAsync(["up", "--backup", BackupDir], new Dictionary<string, string?> { ["PATH"] = "/nonexistent" });
        ShouldFailWith(missing, 1, "pg_dump not found: install the PostgreSQL client programs of version 15 or newer (Debian/Ubuntu: postgresql-client-15) or set TIMETRACK_PG_DUMP");

        var failing = FakePgDump("case \"$1\" in --version) echo 'pg_dump (PostgreSQL) 17.2' ;; *) echo 'pg_dump: error: disk full' >&2; : > \"${3#--file=}\"; exit 1 ;; esac");
        try
        {
            var result = await RunAsync(["up", "--backup", BackupDir], new Dictionary<string, string?> { ["TIMETRACK_PG_DUMP"] = failing });
            ShouldFailWith(result, 1, "pg_dump failed (exit 1): pg_dump: error: disk full");
        }
        finally
        {
            File.Delete(failing);
        }

        Directory.GetFiles(BackupDir, "*", SearchOption.AllDirectories).ShouldBeEmpty("a failed backup leaves no file, not even a partial one");
        (await Db.AppliedVersionsAsync()).ShouldBeEmpty();
    }

    [Fact]
    public async Task A_pg_dump_that_exits_0_with_an_empty_file_is_a_failed_backup()
    {
        // What pg_dump 15 did on a full tmpfs (bench/faults.sh, pg-full-disk-backup).
        var empty = FakePgDump("case \"$1\" in --version) echo 'pg_dump (PostgreSQL) 17.2' ;; *) : > \"${3#--file=}\"; exit 0 ;; esac");
        try
        {
            var result = await RunAsync(["up", "--backup", BackupDir], new Dictionary<string, string?> { ["TIMETRACK_PG_DUMP"] = empty });
            ShouldFailWith(result, 1, "backup failed, so nothing was changed: pg_dump exited 0 but wrote 0 bytes that are not a pg_dump custom-format archive");
        }
        finally
        {
            File.Delete(empty);
        }

        Directory.GetFiles(BackupDir, "*", SearchOption.AllDirectories).ShouldBeEmpty("a failed backup leaves no file, not even a partial one");
        (await Db.AppliedVersionsAsync()).ShouldBeEmpty();
    }
}

public sealed class SqliteBackupTests() : BackupTests(DatabaseKind.Sqlite);
