using TimeTrack.Migrations.Runner.Databases;
using TimeTrack.Migrations.Tests.Infrastructure;

namespace TimeTrack.Migrations.Tests.Runner;

/// <summary>
/// Issue 22: a restore is all or nothing and refuses what is no backup (exit 2, nothing opened or
/// created); backups are told apart by the database's identity, not by its name; backup files are
/// the owner's alone whatever the umask.
/// </summary>
public abstract class RestoreSafetyTests(DatabaseKind kind) : RunnerTestBase(kind)
{
    protected string BackupDir { get; } = Directory.CreateTempSubdirectory("timetrack-backups-").FullName;

    public override async Task DisposeAsync()
    {
        await base.DisposeAsync();
        Directory.Delete(BackupDir, recursive: true);
    }

    protected string Extension => Provider == DatabaseKind.Postgres ? ".dump" : ".db";

    protected Task InsertCompaniesAsync(int from, int to) => Db.ExecuteAsync(Provider == DatabaseKind.Postgres
        ? $"INSERT INTO companies (name, slug) SELECT 'c' || g, 'c' || g FROM generate_series({from}, {to}) g"
        : $"WITH RECURSIVE g(n) AS (SELECT {from} UNION ALL SELECT n + 1 FROM g WHERE n < {to}) INSERT INTO companies (name, slug) SELECT 'c' || n, 'c' || n FROM g");

    /// <summary>A backup at <c>Versions[1]</c> holding 500 companies; the database is then at head with 503.</summary>
    protected async Task<string> BackupWithRowsAsync(string? beforeBackupSql = null)
    {
        ShouldSucceed(await RunAsync("up", "--to", Versions[1].ToString()));
        await InsertCompaniesAsync(1, 500);
        if (beforeBackupSql is not null)
        {
            await Db.ExecuteAsync(beforeBackupSql);
        }

        ShouldSucceed(await RunAsync("up", "--backup", BackupDir));
        await InsertCompaniesAsync(501, 503);
        return Directory.GetFiles(BackupDir).ShouldHaveSingleItem();
    }

    /// <summary>Row counts of companies and the version table, and everything else (<see cref="TestDatabase.FingerprintAsync"/>).</summary>
    protected async Task<(long Companies, long Versions, string Everything)> StateAsync() =>
        (await Db.CountAsync("companies"), await Db.CountAsync("SELECT count(*) FROM \"VersionInfo\""), await Db.FingerprintAsync());

    [Fact]
    public async Task A_forced_restore_of_a_truncated_backup_changes_nothing()
    {
        var backup = await BackupWithRowsAsync();
        var bytes = await File.ReadAllBytesAsync(backup);
        // pg_dump's table of contents comes first: cut from the end, the file still lists but does not restore.
        var truncated = Path.Combine(BackupDir, "truncated" + Extension);
        await File.WriteAllBytesAsync(truncated, bytes[..(Provider == DatabaseKind.Postgres ? bytes.Length - 200 : bytes.Length / 2)]);
        var before = await StateAsync();
        before.Companies.ShouldBe(503);

        var result = await RunAsync("restore", truncated, "--force");

        result.ExitCode.ShouldBe(Provider == DatabaseKind.Postgres ? 1 : 2, result.ToString());
        result.Stderr.ShouldContain("nothing was changed", Case.Sensitive, result.ToString());
        result.Output.ShouldNotContain("   at ");
        (await StateAsync()).ShouldBe(before);

        ShouldSucceed(await RunAsync("restore", backup, "--force"));
        (await Db.CountAsync("companies")).ShouldBe(500);
        (await Db.AppliedVersionsAsync()).ShouldBe(Versions[..2]);
    }

    [Fact]
    public async Task Files_that_are_no_backup_are_exit_2_named_and_nothing_is_opened_created_or_changed()
    {
        ShouldSucceed(await RunAsync("up", "--to", Versions[0].ToString()));
        var before = await StateAsync();
        var text = Path.Combine(BackupDir, "notes" + Extension);
        await File.WriteAllTextAsync(text, "not a backup, but long enough to hold any header\n");
        var empty = Path.Combine(BackupDir, "empty" + Extension);
        await File.WriteAllTextAsync(empty, "");
        var fifo = Path.Combine(BackupDir, "fifo" + Extension);
        ShouldSucceed(await RunnerProcess.RunProgramAsync("mkfifo", [fifo]));
        (string File, string Says)[] cases =
        [
            ("/dev/urandom", "is a device, not a backup file"),
            ("/dev/zero", "is a device"),
            ("/dev/null", "is a device"),
            (BackupDir, "is a directory, not a backup file"),
            (fifo, "is a named pipe (FIFO)"),
            (empty, "is empty"),
            (text, Provider == DatabaseKind.Postgres ? "is not a pg_dump custom-format archive" : "is not an SQLite database"),
        ];

        foreach (var (file, says) in cases)
        {
            ShouldFailWithOneLine(await RunAsync("restore", file, "--force"), 2, $"{file} {says}");
        }

        (await StateAsync()).ShouldBe(before);
        var fresh = Path.Combine(BackupDir, "fresh.db");
        var url = Provider == DatabaseKind.Postgres ? Db.Url : "sqlite:///" + fresh;
        ShouldFailWithOneLine(await InProcessRunner.RunAsync(["restore", "/dev/zero", "--database-url", url]), 2, "is a device");
        File.Exists(fresh).ShouldBeFalse("a refused restore creates no database file");
    }

    /// <summary>Another database whose name reads as ours in a file name (SQLite: timetrack.db elsewhere; PostgreSQL: "x y" for "x_y").</summary>
    protected abstract Task<(string Url, IAsyncDisposable Cleanup)> SameNamedDatabaseAsync();

    [Fact]
    public async Task Backups_of_another_database_of_the_same_name_are_neither_pruned_nor_shown()
    {
        var (otherUrl, cleanup) = await SameNamedDatabaseAsync();
        await using var _ = cleanup;
        var name = Provider == DatabaseKind.Postgres ? ((PostgresTestDatabase)Db).Name : "timetrack";
        var older = Path.Combine(BackupDir, $"{name}-v{Versions[0]}-20200101T000000000Z{Extension}");
        await File.WriteAllTextAsync(older, "named as before backups carried an identity");

        var first = await RunAsync("status", "--backup", BackupDir);
        ShouldSucceed(first);
        first.Stdout.ShouldContain($"last backup:  {older} (");
        first.Stdout.ShouldContain("may be another database's of the same name");

        ShouldSucceed(await InProcessRunner.RunAsync(["up", "--to", Versions[0].ToString(), "--backup", BackupDir, "--backup-keep", "1", "--database-url", otherUrl]));
        var others = Directory.GetFiles(BackupDir).Where(f => f != older).ShouldHaveSingleItem();
        ShouldSucceed(await RunAsync("up", "--to", Versions[1].ToString(), "--backup", BackupDir, "--backup-keep", "1"));
        ShouldSucceed(await RunAsync("up", "--backup", BackupDir, "--backup-keep", "1"));

        File.Exists(others).ShouldBeTrue("another database's backup was pruned");
        File.Exists(older).ShouldBeTrue("a backup named the older way may be another's: never pruned");
        var mine = Directory.GetFiles(BackupDir).Where(f => f != older && f != others).ShouldHaveSingleItem();
        mine.ShouldContain($"-v{Versions[1]}-");
        static string Whose(string file) => Path.GetFileName(file)[..Path.GetFileName(file).LastIndexOf("-v", StringComparison.Ordinal)];
        Whose(mine).ShouldStartWith(name + "-");
        Whose(mine).ShouldNotBe(Whose(others), "the same name, another database: another identity in the name");
        var status = await InProcessRunner.RunAsync(["status", "--backup", BackupDir, "--database-url", otherUrl]);
        ShouldSucceed(status);
        status.Stdout.ShouldContain($"last backup:  {others} (");
        (await RunAsync("status", "--backup", BackupDir)).Stdout.ShouldContain($"last backup:  {mine} (");
    }

    [Fact]
    [System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
    public async Task Backup_files_are_the_owners_alone_whatever_the_umask()
    {
        var result = await RunnerProcess.RunProgramAsync("/bin/sh",
            ["-c", "umask 022; exec \"$0\" \"$@\"", RunnerProcess.Executable, "up", "--to", Versions[0].ToString(), "--backup", BackupDir, "--database-url", Db.Url]);

        ShouldSucceed(result);
        File.GetUnixFileMode(Directory.GetFiles(BackupDir).ShouldHaveSingleItem()).ShouldBe(UnixFileMode.UserRead | UnixFileMode.UserWrite);
    }
}

public sealed class PostgresRestoreSafetyTests() : RestoreSafetyTests(DatabaseKind.Postgres)
{
    protected override async Task<(string Url, IAsyncDisposable Cleanup)> SameNamedDatabaseAsync()
    {
        var db = (PostgresTestDatabase)Db;
        var name = db.Name.Replace('_', ' ');
        await db.Server.CreateDatabaseNamedAsync(name);
        return (db.Server.UrlFor(Uri.EscapeDataString(name)), new Dropper(() => db.Server.DropDatabaseAsync(name)));
    }

    private sealed class Dropper(Func<Task> drop) : IAsyncDisposable
    {
        public async ValueTask DisposeAsync() => await drop();
    }

    [Fact]
    public async Task A_backup_with_objects_in_another_schema_is_refused_unless_forced_and_a_forced_restore_that_fails_changes_nothing()
    {
        var backup = await BackupWithRowsAsync("CREATE SCHEMA audit; CREATE TABLE audit.log (x int)");
        await using var empty = await TestDatabase.CreateAsync(Provider, "restored");

        var refused = await InProcessRunner.RunAsync(["restore", backup, "--database-url", empty.Url]);

        ShouldFailWithOneLine(refused, 5, "creates objects in schema 'audit'");
        refused.Stderr.ShouldContain("Nothing was changed. Restore only backups you trust");
        (await empty.ReadSchemaAsync()).IsEmpty.ShouldBeTrue();

        // The schema exists here: the restore fails half-way, after the database was emptied in its transaction.
        var before = await StateAsync();
        var failed = await RunAsync("restore", backup, "--force");

        failed.ExitCode.ShouldBe(1, failed.ToString());
        failed.Stderr.ShouldContain("the restore failed and was rolled back, so nothing was changed: ");
        failed.Stderr.ShouldContain("schema \"audit\" already exists");
        (await StateAsync()).ShouldBe(before);

        await Db.ExecuteAsync("DROP SCHEMA audit CASCADE");
        ShouldSucceed(await RunAsync("restore", backup, "--force"));
        (await Db.CountAsync("companies")).ShouldBe(500);
        (await Db.CountAsync("audit.log")).ShouldBe(0);
    }

    [Fact]
    [System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
    public async Task A_runner_killed_before_it_commits_the_restore_changes_nothing()
    {
        var backup = await BackupWithRowsAsync();
        var before = await StateAsync();
        // A pg_restore that has written the whole script and then waits: psql has run all of it but the COMMIT.
        var mark = Path.Combine(BackupDir, "mark");
        var realPgRestore = (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':').Select(d => Path.Combine(d, "pg_restore")).First(File.Exists);
        var fake = Path.Combine(BackupDir, "pg_restore");
        await File.WriteAllTextAsync(fake, $$"""
            #!/bin/sh
            case " $* " in
              *" --file=- "*) '{{realPgRestore}}' "$@" || exit $?; : > '{{mark}}.done'; while [ ! -e '{{mark}}.stop' ]; do sleep 0.1; done ;;
              *) exec '{{realPgRestore}}' "$@" ;;
            esac
            """);
        File.SetUnixFileMode(fake, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        try
        {
            using var runner = RunnerProcess.Start(RunnerProcess.Executable, ["restore", backup, "--force", "--database-url", Db.Url], new Dictionary<string, string?> { ["TIMETRACK_PG_RESTORE"] = fake });
            await WaitUntilAsync(async () => File.Exists(mark + ".done") && await Db.CountAsync("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND state = 'idle in transaction'") == 1);

            runner.Kill();
            await runner.WaitForExitAsync();

            await WaitUntilAsync(async () => await Db.CountAsync("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND state LIKE '%transaction%'") == 0);
            (await StateAsync()).ShouldBe(before);
        }
        finally
        {
            await File.WriteAllTextAsync(mark + ".stop", "");
        }
    }

    private static async Task WaitUntilAsync(Func<Task<bool>> condition)
    {
        for (var deadline = DateTime.UtcNow.AddMinutes(2); !await condition(); await Task.Delay(100))
        {
            (DateTime.UtcNow < deadline).ShouldBeTrue("the restore did not reach the point this test kills it at");
        }
    }
}

public sealed class SqliteRestoreSafetyTests() : RestoreSafetyTests(DatabaseKind.Sqlite)
{
    protected override Task<(string Url, IAsyncDisposable Cleanup)> SameNamedDatabaseAsync()
    {
        var other = SqliteTestDatabase.Create();
        return Task.FromResult<(string, IAsyncDisposable)>((other.Url, other));
    }
}
