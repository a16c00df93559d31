using TimeTrack.Migrations.Runner.Commands;
using TimeTrack.Migrations.TestScenarios;

namespace TimeTrack.Migrations.Tests.Infrastructure;

/// <summary>
/// Runs timetrack-migrate in this process: the same entry as the executable (Cli.RunAsync), with a
/// terminal of its own (stdout, stderr, environment, working directory), so that runs need no
/// process start and can run in parallel. Same result type and the same secret check as
/// <see cref="RunnerProcess"/>; what only a process shows (exit codes as the OS sees them,
/// signals, the published layout, scripts) is tested with that one.
/// </summary>
public static class InProcessRunner
{
    /// <param name="environment">
    /// The runner's whole environment: only these variables (null values dropped), nothing of the
    /// test process's, as <see cref="RunnerProcess"/> starts from a clean slate for the runner's own.
    /// </param>
    /// <param name="workingDirectory">Default: the test output folder, as for a process.</param>
    /// <param name="pending">What Program.cs passes when the no-op decision before it found migrations pending.</param>
    public static async Task<ProcessResult> RunAsync(
        string[] args, IDictionary<string, string?>? environment = null, string? workingDirectory = null, TimeSpan? timeout = null, bool pending = false)
    {
        var variables = new Dictionary<string, string?>(StringComparer.Ordinal);
        foreach (var (key, value) in environment ?? new Dictionary<string, string?>())
        {
            if (value is not null)
            {
                variables[key] = value;
            }
        }

        // The scenario migrations read it here (an AsyncLocal: this run's flow only), not from the environment.
        Scenario.InProcess.Value = variables.GetValueOrDefault(Scenario.Variable);

        // Synchronized: the runner writes from more than one thread (the log, progress, results).
        using var stdout = new StringWriter();
        using var stderr = new StringWriter();
        var terminal = new Terminal(TextWriter.Synchronized(stdout), TextWriter.Synchronized(stderr), variables, workingDirectory ?? AppContext.BaseDirectory);
        using var cancel = new CancellationTokenSource();
        int exitCode;
        try
        {
            exitCode = await Cli.RunAsync(args, terminal, cancel.Token, pending).WaitAsync(timeout ?? TimeSpan.FromMinutes(2));
        }
        catch (TimeoutException)
        {
            await cancel.CancelAsync();
            throw new TimeoutException($"timetrack-migrate {string.Join(' ', args)} did not finish in time:\n{stdout}\n{stderr}");
        }
        finally
        {
            // What the end of a process would do: close the connections the runner's pools keep
            // (idle, but holding server slots, and session state such as advisory locks).
            Npgsql.NpgsqlConnection.ClearAllPools();
        }

        var result = new ProcessResult(exitCode, stdout.ToString(), stderr.ToString());
        RunnerProcess.AssertNoSecrets(result);
        return result;
    }
}
