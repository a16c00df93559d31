using System.Runtime.InteropServices;
using Microsoft.Data.Sqlite;
using Npgsql;
using TimeTrack.Migrations.Runner.Databases;
using TimeTrack.Migrations.Runner.Commands;
using TimeTrack.Migrations.Runner.FastStart;
using TimeTrack.Migrations.Runner.Running;

// timetrack-migrate as the image ships it: this NativeAOT front, and the full runner in full/.
// A container start on a database at head (PostgreSQL, or an existing SQLite file) is answered here — one connection, one
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
    return FullRunner.Exec(full, args, explain, "no URL, a SQLite file still to create, GSS, or a setting the runner checks");
}

var manifest = MigrationManifest.Load(typeof(FullRunner).Assembly)
    ?? throw new InvalidOperationException("the migrations manifest is not embedded in this build");
string? why;
try
{
    await using var connection = await OpenAsync(resolved.Target);
    var (columns, rows) = await NoOpStart.ReadAsync(connection, resolved.Target.Kind, CancellationToken.None);
    why = NoOpStart.WhyNotNoOp(columns, rows, manifest, resolved.Target.Kind.ToString().ToLowerInvariant());
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

// As the providers connect, once: a server that is not up yet, or a SQLite file another process
// holds a write lock on, is the full runner's to wait for. The front never writes.
static async Task<System.Data.Common.DbConnection> OpenAsync(DatabaseTarget target)
{
    if (target.Kind == DatabaseKind.Sqlite)
    {
        var sqlite = new SqliteConnection(new SqliteConnectionStringBuilder(target.ConnectionString)
        {
            Mode = SqliteOpenMode.ReadOnly,
            DefaultTimeout = 1,
        }.ConnectionString);
        await sqlite.OpenAsync();
        return sqlite;
    }

    // PostgresProvider's data source (slim, no type loading); connecting may take 3 s at most here.
    var settings = new NpgsqlConnectionStringBuilder(target.ConnectionString);
    settings.Timeout = Math.Min(settings.Timeout, 3);
    var source = new NpgsqlSlimDataSourceBuilder(settings.ConnectionString)
        .EnableTransportSecurity()
        .ConfigureTypeLoading(types => types.EnableTypeLoading(false))
        .Build();
    return await source.OpenConnectionAsync(); // the process ends soon after: the data source goes with it
}

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
