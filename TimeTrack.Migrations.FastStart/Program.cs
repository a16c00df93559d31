using TimeTrack.Migrations.Runner.Commands;
using TimeTrack.Migrations.Runner.Databases;
using TimeTrack.Migrations.Runner.Output;
using TimeTrack.Migrations.Runner.FastStart;
using TimeTrack.Migrations.Runner.Running;

// timetrack-migrate as the image ships it: this NativeAOT front, and the full runner in full/.
// A container start on a database at head (PostgreSQL, or an existing SQLite file) is answered
// here — one connection, one query, the runner's own lines — in a process that starts in
// milliseconds and needs a fraction of the memory; everything else, and any doubt, is the full runner's, started by exec with the
// same arguments and environment (same process, so signals and exit codes are the runner's).
// The decision and its reasoning: TimeTrack.Migrations.Core/FastStart/NoOpStart.cs.

// SIGTERM/SIGINT while the front reads: the runner's line and exit code (143/130), as the runner
// would stop at that point. The handlers go just before any exec (Interruption.ReleaseForExec, in
// FullRunner.Exec and ApplicationStart.Exec): a signal that came first is answered here, one that
// comes after ends the process by default.
Interruption.Register();
var full = Path.Combine(AppContext.BaseDirectory, "full", "timetrack-migrate");
var explain = Environment.GetEnvironmentVariable(NoOpStart.Variable) == "explain";
var terminal = Terminal.FromProcess();
var outcome = await NoOpStart.RunAsync(args, terminal, () => MigrationManifest.Load(typeof(FullRunner).Assembly), Interruption.Token, explain);
if (outcome.HandOver is { } why)
{
    return FullRunner.Exec(full, args, explain, why, outcome.Format);
}

if (outcome.App is null)
{
    return outcome.ExitCode; // "nothing to do" printed, or a signal's answer
}

// start -- APP: the database is at head, so the application, as the runner would (StartCommand).
return ApplicationStart.Exec(outcome.App.Request.App, outcome.App.LogFormat, terminal);

/// <summary>The hand-over: exec(3) of the full runner, which replaces this process.</summary>
internal static class FullRunner
{
    /// <param name="format">The log format, where the front resolved it (text otherwise).</param>
    public static int Exec(string path, string[] args, bool explain, string why, LogFormat format = LogFormat.Text)
    {
        if (Interruption.ReleaseForExec()) // the default actions again until the runner installs its own
        {
            return Interrupted(format, args.Contains("--json"));
        }

        if (explain)
        {
            Console.Error.WriteLine($"fast start: handing over to the full runner: {why}");
            Console.Error.Flush();
        }

        NativeEnvironment.Set(NoOpStart.HandedOverVariable, why); // the runner need not ask the database again
        var failure = ProcessImage.Replace(path, args); // returns only when it failed
        Console.Error.WriteLine(LogLine.Format(format, "Error", LogLine.Category, StartMessages.CannotStart($"the full runner {path}", failure), null));
        return 1;
    }

    /// <summary>The runner's answer to a signal that came before anything was written.</summary>
    public static int Interrupted(LogFormat format, bool json)
    {
        var (stdout, stderr) = NoOpStart.PrintInterruption(format, json);
        Console.Error.Write(stderr);
        Console.Out.Write(stdout);
        Console.Out.Flush();
        return (int)(Interruption.Code);
    }
}
