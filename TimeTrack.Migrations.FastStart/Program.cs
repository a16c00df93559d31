using System.Runtime.InteropServices;
using Npgsql;
using TimeTrack.Migrations.Runner.Commands;
using TimeTrack.Migrations.Runner.FastStart;
using TimeTrack.Migrations.Runner.Running;

// timetrack-migrate as the image ships it: this NativeAOT front, and the full runner in full/.
// A container start on a PostgreSQL database at head is answered here — one connection, one
// query, the runner's own lines — in a process that starts in milliseconds and needs a fraction
// of the memory; everything else, and any doubt, is the full runner's, started by exec with the
// same arguments and environment (same process, so signals and exit codes are the runner's).
// The decision and its reasoning: TimeTrack.Migrations.Runner/FastStart/NoOpStart.cs.

var full = Path.Combine(AppContext.BaseDirectory, "full", "timetrack-migrate");
var mode = Environment.GetEnvironmentVariable(NoOpStart.Variable);
var explain = mode == "explain";
if (mode == "off")
{
    return FullRunner.Exec(full, args, explain, $"{NoOpStart.Variable}=off");
}

var request = NoOpStart.Understand(args);
if (request is null)
{
    return FullRunner.Exec(full, args, explain, "not a no-op start this front knows (arguments)");
}

var resolved = NoOpStart.Resolve(request, Terminal.FromProcess());
if (resolved is null)
{
    return FullRunner.Exec(full, args, explain, "not a PostgreSQL URL this front connects to, or a setting the runner checks");
}

var manifest = MigrationManifest.Load(typeof(FullRunner).Assembly)
    ?? throw new InvalidOperationException("the migrations manifest is not embedded in this build");
string? why;
try
{
    // As PostgresProvider connects (slim builder, no type loading), once: a server that is not up
    // yet is the full runner's to wait for (--wait). Connecting may take 3 s at most here.
    var connection = new NpgsqlConnectionStringBuilder(resolved.Target.ConnectionString);
    connection.Timeout = Math.Min(connection.Timeout, 3);
    await using var source = new NpgsqlSlimDataSourceBuilder(connection.ConnectionString)
        .EnableTransportSecurity()
        .ConfigureTypeLoading(types => types.EnableTypeLoading(false))
        .Build();
    await using var open = await source.OpenConnectionAsync();
    var (columns, rows) = await NoOpStart.ReadAsync(open, CancellationToken.None);
    why = NoOpStart.WhyNotNoOp(columns, rows, manifest, "postgres");
}
catch (Exception e)
{
    why = $"reading the version table failed ({e.GetType().Name})";
}

if (why is not null)
{
    return FullRunner.Exec(full, args, explain, why);
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
return 0;

/// <summary>The hand-over: exec(3) of the full runner, which replaces this process.</summary>
internal static partial class FullRunner
{
    public static int Exec(string path, string[] args, bool explain, string why)
    {
        if (explain)
        {
            Console.Error.WriteLine($"fast start: handing over to the full runner: {why}");
            Console.Error.Flush();
        }

        var argv = new nint[args.Length + 2];
        argv[0] = Marshal.StringToCoTaskMemUTF8(path);
        for (var i = 0; i < args.Length; i++)
        {
            argv[i + 1] = Marshal.StringToCoTaskMemUTF8(args[i]);
        }

        ExecV(argv[0], argv); // returns only when it failed
        Console.Error.WriteLine($"error: cannot start the full runner {path}: {Marshal.GetLastPInvokeErrorMessage()}");
        return 1;
    }

    [LibraryImport("libc", EntryPoint = "execv", SetLastError = true)]
    private static partial int ExecV(nint path, [In] nint[] argv);
}
