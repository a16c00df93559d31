using System.Diagnostics;
using System.Runtime.InteropServices;
using Npgsql;
using TimeTrack.Migrations.Runner.Databases;
using TimeTrack.Migrations.Runner.Databases.Postgres;
using TimeTrack.Migrations.Runner.FastStart;
using TimeTrack.Migrations.Tests.Infrastructure;

namespace TimeTrack.Migrations.Tests.Runner;

/// <summary>
/// SIGTERM (docker stop, a cancelled CI job) and SIGINT (Ctrl-C) sent to the runner process:
/// the step in progress is cancelled and rolled back, the lock released, one line printed, and
/// the exit code is 143 or 130 — while migrating, while waiting for the lock or for the server.
/// </summary>
public abstract class SignalTests(DatabaseKind provider) : RunnerTestBase(provider)
{
    protected const int SIGINT = 2;
    protected const int SIGTERM = 15;

    [Fact]
    public async Task Sigint_twice_during_a_long_step_cancels_it_rolls_it_back_and_exits_130()
    {
        ShouldSucceed(await RunScenarioAsync("normal", "up", "--to", "200"));
        var before = await Db.FingerprintAsync();
        await using var runner = SignalledRunner.Start(
            ["up", "--database-url", Db.Url, "--migrations-assembly", RunnerProcess.ScenariosAssembly],
            new Dictionary<string, string?> { ["TIMETRACK_TEST_SCENARIO"] = "slow" });
        await runner.WaitForLineAsync("applying 300");
        await Task.Delay(500); // inside the slow statement (it runs for minutes)

        runner.Signal(SIGINT);
        runner.Signal(SIGINT); // as a Ctrl-C arrives from the terminal and through a wrapper: no harder stop
        var result = await runner.ExitAsync();

        ShouldBeInterrupted(result, 130, "interrupted by SIGINT: applying 300 (Scenario step) was cancelled and its transaction rolled back; the database is at 200");
        if (Db is SqliteTestDatabase sqlite)
        {
            // Rolled back by the runner, not left as a hot journal for the next opener to undo.
            File.Exists(sqlite.Path + "-journal").ShouldBeFalse();
        }

        (await Db.FingerprintAsync()).ShouldBe(before);
        ShouldSucceed(await RunScenarioAsync("normal", "up", "--lock-timeout", "5")); // no lock left behind
    }

    [Fact]
    public async Task A_long_step_logs_heartbeats_with_its_elapsed_time_and_a_signal_still_stops_it()
    {
        ShouldSucceed(await RunScenarioAsync("normal", "up", "--to", "200"));
        await using var runner = SignalledRunner.Start(
            ["up", "--database-url", Db.Url, "--migrations-assembly", RunnerProcess.ScenariosAssembly, "--progress-interval", "1"],
            new Dictionary<string, string?> { ["TIMETRACK_TEST_SCENARIO"] = "slow" });
        await runner.WaitForLineAsync("applying 300 (Scenario step): running for ");

        runner.Signal(SIGTERM);
        var result = await runner.ExitAsync();

        ShouldBeInterrupted(result, 143, "interrupted by SIGTERM: applying 300 (Scenario step) was cancelled and its transaction rolled back; the database is at 200");
        // Elapsed time only: neither a sleep nor SQLite reports progress.
        result.Stderr.Split('\n').ShouldContain(l => System.Text.RegularExpressions.Regex.IsMatch(l, @"^applying 300 \(Scenario step\): running for [1-9][0-9]* s$"), result.ToString());
    }

    [Fact]
    public async Task Sigterm_while_waiting_for_the_migration_lock_exits_143_and_changes_nothing()
    {
        ShouldSucceed(await RunAsync("up", "--to", Versions[1].ToString()));
        var before = await Db.FingerprintAsync();
        await using (await Db.HoldMigrationLockAsync())
        {
            await using var runner = SignalledRunner.Start(["up", "--database-url", Db.Url, "--lock-timeout", "120"]);
            await runner.WaitForLineAsync("waiting for its lock");

            runner.Signal(SIGTERM);
            ShouldBeInterrupted(await runner.ExitAsync(), 143, "interrupted by SIGTERM: nothing was changed");
        }

        (await Db.FingerprintAsync()).ShouldBe(before);
    }

    /// <summary>
    /// A signal after the migration's last check and before the exec must not be lost: the runner
    /// is held there by its stdout (a pipe filled beforehand, so its result line blocks), signalled,
    /// let go once it has announced the signal (the runtime hands a signal to the handler on a
    /// thread of its own), and must answer the signal instead of starting the application. Both
    /// ways to the exec: the runner's own no-op decision, and the full command (the decision off).
    /// </summary>
    [Theory]
    [InlineData("on")]
    [InlineData("off")]
    public async Task Sigterm_between_the_migration_and_the_exec_of_the_application_is_answered_not_lost(string fastStart)
    {
        ShouldSucceed(await RunAsync("up")); // at head: the start's result line, then the exec
        const string choreography = """
            set -eu
            mkfifo "$WORK/out"
            exec 3<>"$WORK/out"                     # both ends held here: opening does not block
            head -c 65536 /dev/zero >&3             # a full pipe: the runner's first stdout write waits
            env --default-signal=INT "$RUNNER" start --database-url "$URL" -- sh -c 'echo APPLICATION STARTED' >"$WORK/out" 2>"$WORK/err" &
            runner=$!
            # Wait until one of its threads is blocked in write(2) (/proc/PID/task/*/syscall starts "1 "):
            # the result line, the only stdout write before the exec.
            blocked() { grep -qs '^1 ' /proc/"$runner"/task/*/syscall; }
            for _ in $(seq 1 1200); do blocked && break; sleep 0.05; done
            blocked || { echo "the runner never blocked on its stdout" >&2; exit 99; }
            kill -TERM "$runner"
            # Its handler has run once it says so (on stderr, a file: never blocked); then let the write go.
            announced() { grep -qs 'received SIGTERM: stopping' "$WORK/err"; }
            for _ in $(seq 1 1200); do announced && break; sleep 0.05; done
            announced || { echo "the runner never announced the signal" >&2; exit 98; }
            head -c 65536 <&3 >/dev/null
            code=0; wait "$runner" || code=$?
            echo "exit $code"
            dd if=/dev/fd/3 iflag=nonblock status=none 2>/dev/null || true
            cat "$WORK/err" >&2
            """;
        var work = Directory.CreateTempSubdirectory("signal-before-exec").FullName;
        try
        {
            var result = await RunnerProcess.RunProgramAsync("bash", ["-c", choreography], new Dictionary<string, string?>
            {
                ["PATH"] = Environment.GetEnvironmentVariable("PATH"), ["WORK"] = work, ["RUNNER"] = RunnerProcess.Executable, ["URL"] = Db.Url,
                [NoOpStart.Variable] = fastStart,
            });

            result.Stdout.ShouldContain("exit 143", Case.Sensitive, result.ToString()); // SIGTERM's answer, not the application's 0
            result.Stderr.ShouldContain("warning: received SIGTERM: stopping");
            result.Stderr.ShouldContain("migration interrupted by a signal (exit 143): not starting the application");
            result.Stdout.ShouldNotContain("APPLICATION STARTED");
            result.Stdout.ShouldContain("nothing to do"); // the result line the runner was held on
        }
        finally
        {
            Directory.Delete(work, recursive: true);
        }
    }

    /// <summary>An interruption is one error line (the "applying ..." progress lines aside), no stack trace.</summary>
    protected static void ShouldBeInterrupted(ProcessResult result, int exitCode, string message)
    {
        result.ExitCode.ShouldBe(exitCode, result.ToString());
        var errors = result.Stderr.Split('\n').Where(l => l.StartsWith("error:", StringComparison.Ordinal)).ToList();
        errors.ShouldBe([$"error: {message}"], result.ToString());
        result.Output.ShouldNotContain("   at ", Case.Sensitive, "a stack trace was printed");
        result.Output.ShouldNotContain("Exception", Case.Sensitive, result.ToString());
    }

    /// <summary>The runner as a process that the test signals, its stderr collected line by line as it comes.</summary>
    internal sealed class SignalledRunner : IAsyncDisposable
    {
        private readonly Process _process;
        private readonly List<string> _stderr = [];
        private readonly Task<string> _stdout;
        private readonly Task _stderrPump;

        private SignalledRunner(Process process)
        {
            _process = process;
            _stdout = process.StandardOutput.ReadToEndAsync();
            _stderrPump = Task.Run(async () =>
            {
                while (await process.StandardError.ReadLineAsync() is { } line)
                {
                    lock (_stderr)
                    {
                        _stderr.Add(line);
                    }
                }
            });
        }

        public int Id => _process.Id;

        /// <summary>
        /// Starts the runner with SIGINT at its default disposition, through env(1), which execs it (the
        /// same pid). A shell starting a command in the background without job control (`.ci/run &`,
        /// nohup) sets SIGINT to ignored, every child inherits that across exec, and the runtime then
        /// rightly leaves Ctrl-C to the foreground job: the SIGINT tests would test the launcher.
        /// </summary>
        public static SignalledRunner Start(string[] args, IDictionary<string, string?>? environment = null, string? program = null) =>
            new(RunnerProcess.Start("env", ["--default-signal=INT", program ?? RunnerProcess.Executable, .. args], environment));

        public async Task WaitForLineAsync(string text)
        {
            var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(60);
            while (DateTime.UtcNow < deadline)
            {
                lock (_stderr)
                {
                    if (_stderr.Any(l => l.Contains(text, StringComparison.Ordinal)))
                    {
                        return;
                    }
                }

                if (_process.HasExited)
                {
                    await _stderrPump;
                    throw new InvalidOperationException($"the runner ended before printing '{text}':\n{await _stdout}\n{string.Join('\n', _stderr)}");
                }

                await Task.Delay(50);
            }

            throw new TimeoutException($"the runner did not print '{text}' in 60 s");
        }

        public void Signal(int signal)
        {
            if (kill(_process.Id, signal) != 0)
            {
                throw new InvalidOperationException($"kill({_process.Id}, {signal}) failed: errno {Marshal.GetLastPInvokeError()}");
            }
        }

        /// <summary>Waits for the exit (generously: the runner stops within a second or two).</summary>
        public async Task<ProcessResult> ExitAsync()
        {
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
            try
            {
                await _process.WaitForExitAsync(timeout.Token);
            }
            catch (OperationCanceledException)
            {
                lock (_stderr)
                {
                    throw new TimeoutException($"the runner did not exit within 30 s:\n{string.Join('\n', _stderr)}");
                }
            }

            // The output ends when every process holding it has ended: none may outlive the one signalled.
            try
            {
                await _stderrPump.WaitAsync(TimeSpan.FromSeconds(10));
            }
            catch (TimeoutException)
            {
                throw new TimeoutException($"exit {_process.ExitCode}, but a child process (an orphaned runner?) still writes to its output 10 s later");
            }

            var result = new ProcessResult(_process.ExitCode, await _stdout, string.Join('\n', _stderr) + "\n");
            RunnerProcess.AssertNoSecrets(result);
            return result;
        }

        public async ValueTask DisposeAsync()
        {
            if (!_process.HasExited)
            {
                _process.Kill();
                await _process.WaitForExitAsync();
            }

            _process.Dispose();
        }

        [DllImport("libc", SetLastError = true)]
        private static extern int kill(int pid, int sig);
    }
}

public sealed class PostgresSignalTests() : SignalTests(DatabaseKind.Postgres)
{
    /// <summary>The issue's case: an ALTER TABLE queued behind another session's lock must not stay queued.</summary>
    [Fact]
    public async Task Sigterm_during_a_blocked_rollback_cancels_the_statement_releases_the_lock_and_exits_143()
    {
        ShouldSucceed(await RunAsync("up"));
        var before = await Db.FingerprintAsync();
        var applicationName = "tt_signal_" + Guid.NewGuid().ToString("N")[..8];

        await using var blocker = (NpgsqlConnection)Db.OpenConnection();
        await using (var transaction = await blocker.BeginTransactionAsync())
        {
            await using (var lockTasks = new NpgsqlCommand("LOCK tasks IN ACCESS EXCLUSIVE MODE", blocker, transaction))
            {
                await lockTasks.ExecuteNonQueryAsync();
            }

            await using var runner = SignalledRunner.Start(["rollback", "--steps", "1", "--database-url", $"{Db.Url}?application_name={applicationName}"]);
            await runner.WaitForLineAsync($"rolling back {Versions[^1]}");
            await PollAsync($"SELECT count(*) FROM pg_stat_activity WHERE application_name = '{applicationName}' AND wait_event_type = 'Lock'", 1);

            runner.Signal(SIGTERM);
            var result = await runner.ExitAsync();

            ShouldBeInterrupted(result, 143,
                $"interrupted by SIGTERM: rolling back {Versions[^1]} (Add task priority) was cancelled and its transaction rolled back; the database is at {Versions[^1]} (head)");
            result.Stdout.ShouldNotContain("rolled back");

            // Cancelled by the runner before it exited, not later by the server noticing a vanished
            // client: nothing of the runner is still running or queued for a lock at this moment.
            (await Db.CountAsync($"SELECT count(*) FROM pg_stat_activity WHERE application_name = '{applicationName}' AND state <> 'idle'")).ShouldBe(0);
            (await Db.CountAsync($"SELECT count(*) FROM pg_locks WHERE NOT granted AND {ThisDatabase}")).ShouldBe(0);

            // Its connections were closed: their backends end as the server reads the goodbye.
            await PollAsync($"SELECT count(*) FROM pg_stat_activity WHERE application_name = '{applicationName}'", 0);
            (await Db.CountAsync($"SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND {ThisDatabase}")).ShouldBe(0);
            await transaction.RollbackAsync();
        }

        (await Db.FingerprintAsync()).ShouldBe(before);
    }

    [Fact]
    public async Task Sigterm_while_waiting_for_the_server_exits_143_at_once_with_the_json_error()
    {
        var server = await PostgresServer.GetAsync();
        await using var proxy = new DelayedTcpProxy(server.Host, server.Port, TimeSpan.FromHours(1));
        var url = Db.Url.Replace($":{server.Port}/", $":{proxy.Port}/", StringComparison.Ordinal);
        await using var runner = SignalledRunner.Start(["up", "--json", "--database-url", url, "--wait", "120"]);
        await runner.WaitForLineAsync("retrying for up to");

        var clock = Stopwatch.StartNew();
        runner.Signal(SIGTERM);
        var result = await runner.ExitAsync();

        clock.Elapsed.ShouldBeLessThan(TimeSpan.FromSeconds(10), "the retry loop must not wait out --wait");
        ShouldBeInterrupted(result, 143, "interrupted by SIGTERM: nothing was changed");
        result.Stdout.Trim().ShouldBe("""{"error":{"exitCode":143,"message":"interrupted by SIGTERM: nothing was changed"}}""");
    }

    /// <summary>
    /// Before, a cancelled wait printed "TaskCanceledException_ctor_DefaultMessage": with
    /// UseSystemResourceKeys the runtime's own messages are resource keys. Any message of the
    /// runtime that reaches a user (an unexpected error) must be a sentence.
    /// </summary>
    [Fact]
    public async Task The_runner_does_not_replace_the_runtimes_messages_by_resource_keys()
    {
        var configuration = Path.ChangeExtension(RunnerProcess.Executable, ".runtimeconfig.json");
        (await File.ReadAllTextAsync(configuration)).ShouldNotContain("UseSystemResourceKeys");
    }

    [Fact]
    public async Task The_container_entrypoint_passes_sigterm_on_to_the_runner_and_does_not_start_the_application()
    {
        var server = await PostgresServer.GetAsync();
        await using var proxy = new DelayedTcpProxy(server.Host, server.Port, TimeSpan.FromHours(1));
        var environment = await PublishedRunner.ImageEnvironmentAsync(Db.Url.Replace($":{server.Port}/", $":{proxy.Port}/", StringComparison.Ordinal));
        environment["MIGRATE_WAIT_SECONDS"] = "120";
        await using var entrypoint = SignalledRunner.Start(["sh", "-c", "echo APPLICATION STARTED"], environment, PublishedRunner.DeployScript("entrypoint.sh"));
        await entrypoint.WaitForLineAsync("retrying for up to");

        entrypoint.Signal(SIGTERM); // what docker stop sends to PID 1
        var result = await entrypoint.ExitAsync();

        result.ExitCode.ShouldBe(143, result.ToString());
        result.Stderr.ShouldContain("error: interrupted by SIGTERM: nothing was changed");
        result.Stderr.ShouldContain("migration interrupted by a signal (exit 143): not starting the application");
        result.Stdout.ShouldNotContain("APPLICATION STARTED");
    }

    [Fact]
    public async Task The_deploy_job_script_passes_sigterm_on_to_the_runner_and_reports_the_interruption()
    {
        var server = await PostgresServer.GetAsync();
        await using var proxy = new DelayedTcpProxy(server.Host, server.Port, TimeSpan.FromHours(1));
        var environment = await PublishedRunner.ImageEnvironmentAsync(Db.Url.Replace($":{server.Port}/", $":{proxy.Port}/", StringComparison.Ordinal));
        var summary = Path.GetTempFileName();
        environment["GITHUB_STEP_SUMMARY"] = summary;
        environment["MIGRATE_TARGET_VERSION"] = null;
        try
        {
            await using var job = SignalledRunner.Start([], environment, PublishedRunner.DeployScript("ci-migrate.sh"));
            // Wait for the runner to run (a child of the script), then for it to be in its --wait
            // loop (it logs nothing while it waits for a connection).
            var deadline = DateTime.UtcNow.AddSeconds(60);
            while ((await RunnerProcess.RunProgramAsync("pgrep", ["-P", job.Id.ToString(System.Globalization.CultureInfo.InvariantCulture), "timetrack-migra"])).ExitCode != 0)
            {
                DateTime.UtcNow.ShouldBeLessThan(deadline, "the script never started the runner");
                await Task.Delay(100);
            }

            await Task.Delay(TimeSpan.FromSeconds(2));

            job.Signal(SIGTERM); // a cancelled job: docker run --init passes it to the script
            var result = await job.ExitAsync();

            result.ExitCode.ShouldBe(143, result.ToString());
            result.Stderr.ShouldContain("error: interrupted by SIGTERM: nothing was changed");
            (await File.ReadAllTextAsync(summary)).ShouldContain("interrupted by SIGTERM");
            (await Db.AppliedVersionsAsync()).ShouldBeEmpty();
        }
        finally
        {
            File.Delete(summary);
        }
    }

    [Fact]
    public async Task Sigterm_during_a_concurrent_index_build_cancels_it_and_the_rerun_replaces_the_invalid_index()
    {
        ShouldSucceed(await RunAsync("up", "--to", Versions[2].ToString()));

        // A writer with an open transaction makes CREATE INDEX CONCURRENTLY wait after it has
        // already created the (still INVALID) index.
        await using var blocker = (NpgsqlConnection)Db.OpenConnection();
        await using (var transaction = await blocker.BeginTransactionAsync())
        {
            await using (var lockTable = new NpgsqlCommand("LOCK TABLE time_entries IN ROW EXCLUSIVE MODE", blocker, transaction))
            {
                await lockTable.ExecuteNonQueryAsync();
            }

            await using var runner = SignalledRunner.Start(["up", "--database-url", Db.Url]);
            await runner.WaitForLineAsync($"applying {Versions[3]}");
            await PollAsync("SELECT count(*) FROM pg_class WHERE relname = 'ix_time_entries_user_arrival'", 1);

            runner.Signal(SIGTERM);
            var result = await runner.ExitAsync();

            ShouldBeInterrupted(result, 143,
                $"interrupted by SIGTERM: applying {Versions[3]} (Index time entries by user and day) was cancelled and left to the next run " +
                $"(it runs outside a transaction and is written to be re-run safely); the database is at {Versions[2]}");
            (await Db.CountAsync("SELECT count(*) FROM pg_stat_activity WHERE query LIKE 'CREATE INDEX CONCURRENTLY%' AND state <> 'idle' AND datname = current_database()")).ShouldBe(0);
            (await Db.CountAsync("SELECT count(*) FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid WHERE c.relname = 'ix_time_entries_user_arrival' AND NOT i.indisvalid")).ShouldBe(1);
            await transaction.RollbackAsync();
        }

        ShouldSucceed(await RunAsync("up"));
        (await Db.AppliedVersionsAsync()).ShouldBe(Versions);
        var index = (await Db.ReadSchemaAsync()).Table("time_entries")!.Indexes.Single();
        index.Name.ShouldBe("ix_time_entries_user_arrival");
        index.IsValid.ShouldBeTrue();
    }

    /// <summary>pg_locks is the whole server's, and other test classes run runners at the same time.</summary>
    private const string ThisDatabase = "database = (SELECT oid FROM pg_database WHERE datname = current_database())";

    private async Task PollAsync(string countSql, long expected)
    {
        for (var i = 0; i < 200; i++)
        {
            if (await Db.CountAsync(countSql) == expected)
            {
                return;
            }

            await Task.Delay(50);
        }

        (await Db.CountAsync(countSql)).ShouldBe(expected, $"not reached in 10 s: {countSql}");
    }
}

public sealed class SqliteSignalTests() : SignalTests(DatabaseKind.Sqlite);
