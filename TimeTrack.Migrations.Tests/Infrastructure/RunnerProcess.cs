using System.Diagnostics;
using System.Text;

namespace TimeTrack.Migrations.Tests.Infrastructure;

/// <summary>The result of one run of a command: exit code and both output streams.</summary>
public sealed record ProcessResult(int ExitCode, string Stdout, string Stderr)
{
    public string Output => Stdout + Stderr;

    public override string ToString() => $"exit {ExitCode}\n--- stdout\n{Stdout}\n--- stderr\n{Stderr}";
}

/// <summary>
/// Runs the built timetrack-migrate (or a script) as a separate process, as a user or the
/// container would. Every run is checked for leaked secrets: no password ever appears in any output.
/// </summary>
public static class RunnerProcess
{
    /// <summary>Secrets that must never be printed: every test database password is registered here.</summary>
    private static readonly HashSet<string> Secrets = [];

    public static string Executable => PublishedRunner.Executable;

    public static string ScenariosAssembly => Path.Combine(AppContext.BaseDirectory, "TimeTrack.Migrations.TestScenarios.dll");

    public static void RegisterSecret(string secret)
    {
        lock (Secrets)
        {
            Secrets.Add(secret);
        }
    }

    public static Task<ProcessResult> RunAsync(string[] args, IDictionary<string, string?>? environment = null, string? workingDirectory = null, TimeSpan? timeout = null) =>
        RunProgramAsync(Executable, args, environment, workingDirectory, timeout);

    public static async Task<ProcessResult> RunProgramAsync(
        string program, string[] args, IDictionary<string, string?>? environment = null, string? workingDirectory = null, TimeSpan? timeout = null)
    {
        using var process = Start(program, args, environment, workingDirectory);
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var cancel = new CancellationTokenSource(timeout ?? TimeSpan.FromMinutes(2));
        try
        {
            await process.WaitForExitAsync(cancel.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"{Path.GetFileName(program)} {string.Join(' ', args)} did not finish in time:\n{await stdout}\n{await stderr}");
        }

        var result = new ProcessResult(process.ExitCode, await stdout, await stderr);
        AssertNoSecrets(result);
        return result;
    }

    /// <summary>Starts without waiting: for concurrency and kill tests. Output streams are redirected.</summary>
    public static Process Start(string program, string[] args, IDictionary<string, string?>? environment = null, string? workingDirectory = null)
    {
        var start = new ProcessStartInfo(program)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            StandardOutputEncoding = Encoding.UTF8,
            StandardErrorEncoding = Encoding.UTF8,
            WorkingDirectory = workingDirectory ?? AppContext.BaseDirectory,
            UseShellExecute = false,
        };
        foreach (var arg in args)
        {
            start.ArgumentList.Add(arg);
        }

        // A clean slate: nothing from the developer's shell leaks into what the test asserts.
        foreach (var name in new[] { "DATABASE_URL", "DATABASE_URL_FILE", "DATABASE_PASSWORD", "DATABASE_PASSWORD_FILE", "TIMETRACK_DATABASE_URL", "TIMETRACK_LOCK_TIMEOUT", "TIMETRACK_WAIT", "TIMETRACK_LOG_FORMAT", "TIMETRACK_MIGRATIONS_ASSEMBLY", "TIMETRACK_TEST_SCENARIO" })
        {
            start.Environment.Remove(name);
        }

        foreach (var (key, value) in environment ?? new Dictionary<string, string?>())
        {
            if (value is null)
            {
                start.Environment.Remove(key);
            }
            else
            {
                start.Environment[key] = value;
            }
        }

        var process = Process.Start(start) ?? throw new InvalidOperationException($"could not start {program}");
        process.StandardInput.Close();
        return process;
    }

    public static void AssertNoSecrets(ProcessResult result)
    {
        lock (Secrets)
        {
            foreach (var secret in Secrets)
            {
                result.Output.ShouldNotContain(secret, Case.Sensitive, $"a password leaked into the output:\n{result}");
                result.Output.ShouldNotContain(Uri.EscapeDataString(secret), Case.Sensitive, $"a password leaked into the output:\n{result}");
            }
        }
    }
}
