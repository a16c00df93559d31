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
// would stop at that point. The handlers go before the exec (FullRunner.Exec): a signal that came
// first is answered here, one that comes after ends the process by default (never lost).
var signals = Interruption.Register();
var full = Path.Combine(AppContext.BaseDirectory, "full", "timetrack-migrate");
var mode = Environment.GetEnvironmentVariable(NoOpStart.Variable);
var explain = mode == "explain";
if (mode == "off")
{
    return FullRunner.Exec(signals, full, args, explain, $"{NoOpStart.Variable}=off");
}

var request = NoOpStart.Understand(args);
if (request is null)
{
    return FullRunner.Exec(signals, full, args, explain, "not a no-op start this front knows (arguments)");
}

var resolved = NoOpStart.Resolve(request, Terminal.FromProcess());
if (resolved is null)
{
    return FullRunner.Exec(signals, full, args, explain, "no URL, a SQLite file still to create, GSS, or a setting the runner checks");
}

var manifest = MigrationManifest.Load(typeof(FullRunner).Assembly);
if (manifest is null)
{
    return FullRunner.Exec(signals, full, args, explain, "no migrations manifest embedded in this build", resolved.LogFormat);
}

string? why;
try
{
    await using var connection = await NoOpStart.OpenAsync(resolved.Target, Interruption.Token);
    why = await NoOpStart.DecideAsync(connection, resolved.Target, manifest, Interruption.Token);
}
catch (Exception e)
{
    why = $"reading the version table failed ({e.GetType().Name})";
}

if (Interruption.Requested)
{
    return FullRunner.Interrupted(resolved.LogFormat, request.Json);
}

if (why is not null)
{
    return FullRunner.Exec(signals, full, args, explain, why, resolved.LogFormat);
}

if (explain)
{
    Console.Error.WriteLine("fast start: nothing to do");
}

var (stdout, stderr) = NoOpStart.Print(resolved, manifest.Migrations[^1].Version);
foreach (var line in stderr)
{
    Console.Error.WriteLine(line);
}

Console.Out.Write(stdout);
Console.Out.Flush();
if (request.App.Count == 0)
{
    return 0;
}

// start -- APP: the database is at head, so the application, as the runner would (StartCommand).
signals.Dispose();
Console.Error.WriteLine(NoOpStart.Starting(resolved));
var failure = ProcessImage.Replace(request.App[0], request.App.Skip(1).ToList());
Console.Error.WriteLine($"error: cannot start {request.App[0]}: {failure}");
return 127;

/// <summary>The hand-over: exec(3) of the full runner, which replaces this process.</summary>
internal static class FullRunner
{
    /// <param name="format">The log format, where the front resolved it (text otherwise).</param>
    public static int Exec(IDisposable signals, string path, string[] args, bool explain, string why, LogFormat format = LogFormat.Text)
    {
        signals.Dispose(); // the default actions again: the runner installs its own
        if (Interruption.Requested)
        {
            return Interrupted(format, args.Contains("--json"));
        }

        if (explain)
        {
            Console.Error.WriteLine($"fast start: handing over to the full runner: {why}");
            Console.Error.Flush();
        }

        var failure = ProcessImage.Replace(path, args); // returns only when it failed
        Console.Error.WriteLine($"error: cannot start the full runner {path}: {failure}");
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
