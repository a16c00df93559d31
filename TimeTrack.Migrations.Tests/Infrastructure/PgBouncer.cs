using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using Npgsql;

namespace TimeTrack.Migrations.Tests.Infrastructure;

/// <summary>
/// A real PgBouncer in front of the suite's test cluster, on a free port, with its common
/// configuration (ignore_startup_parameters = extra_float_digits) and the pool mode asked for:
/// started by the test that needs it (as the postgres user when the tests run as root, like the
/// cluster), stopped when disposed or when the test process ends.
/// </summary>
public sealed class PgBouncer : IAsyncDisposable
{
    private PgBouncer(PostgresServer server, string root, int port)
    {
        Server = server;
        Root = root;
        Port = port;
    }

    public PostgresServer Server { get; }
    public string Root { get; }
    public int Port { get; }

    /// <summary>The URL of <paramref name="database"/> through the pooler, as users write it.</summary>
    public string UrlFor(string database) =>
        $"postgresql://{Uri.EscapeDataString(Server.User)}:{Uri.EscapeDataString(Server.Password)}@127.0.0.1:{Port}/{database}";

    /// <summary>A client of the pool as an application would be: through the pooler, Npgsql's own pool off.</summary>
    public string ConnectionStringFor(string database) =>
        new NpgsqlConnectionStringBuilder { Host = "127.0.0.1", Port = Port, Username = Server.User, Password = Server.Password, Database = database, Pooling = false }.ConnectionString;

    /// <param name="poolMode">session, transaction or statement.</param>
    /// <param name="poolSize">Server connections per database and user.</param>
    public static async Task<PgBouncer> StartAsync(string poolMode, int poolSize = 20)
    {
        var installed = await Program.Value;
        var server = await PostgresServer.GetAsync();
        var root = Directory.CreateDirectory(Path.Combine(TemporaryFiles.Parent(), "timetrack-pgbouncer-" + Guid.NewGuid().ToString("N")[..8])).FullName;
        // A copy in the instance's own folder: run as the postgres user (below), it cannot reach a binary in root's cache.
        var program = Path.Combine(root, "pgbouncer");
        File.Copy(installed, program);
        var port = PostgresServer.ThrowawayCluster.FreePort();
        var ini = Path.Combine(root, "pgbouncer.ini");
        await File.WriteAllTextAsync(Path.Combine(root, "users.txt"), $"\"{server.User}\" \"{server.Password}\"\n");
        await File.WriteAllLinesAsync(ini,
        [
            "[databases]",
            $"* = host={server.Host} port={server.Port}",
            "[pgbouncer]",
            "listen_addr = 127.0.0.1",
            $"listen_port = {port}",
            $"unix_socket_dir = {root}",
            "auth_type = scram-sha-256",
            $"auth_file = {Path.Combine(root, "users.txt")}",
            $"pool_mode = {poolMode}",
            $"default_pool_size = {poolSize}",
            "max_client_conn = 200",
            "ignore_startup_parameters = extra_float_digits",
            $"logfile = {Path.Combine(root, "pgbouncer.log")}",
            $"pidfile = {Path.Combine(root, "pgbouncer.pid")}",
        ]);

        var asRoot = Environment.UserName == "root";
        if (asRoot)
        {
            // PgBouncer refuses to run as root, as initdb does.
            PostgresServer.ThrowawayCluster.Run("chown", ["-R", "postgres:postgres", root]);
        }

        PostgresServer.ThrowawayCluster.RunAsOwner(asRoot, program, ["-d", ini]);

        var pidFile = Path.Combine(root, "pgbouncer.pid");
        TemporaryFiles.WhenThisProcessEnds($"kill $(cat '{pidFile}') 2>/dev/null; sleep 0.5; rm -rf '{root}'");
        var bouncer = new PgBouncer(server, root, port);
        for (var attempt = 0; ; attempt++)
        {
            try
            {
                await using var connection = new NpgsqlConnection(bouncer.ConnectionStringFor(server.MaintenanceDatabase));
                await connection.OpenAsync();
                return bouncer;
            }
            catch (Exception e) when (attempt < 50 && e is NpgsqlException)
            {
                await Task.Delay(100);
            }
        }
    }

    private static readonly Lazy<Task<string>> Program = new(FindOrFetchAsync);

    /// <summary>
    /// The installed pgbouncer, else Debian's package unpacked into the suite's cache (fetched once
    /// with apt-get download, as the test build installs squawk): `dotnet test` on a fresh machine
    /// needs no step of its own. Nothing is installed on the system.
    /// </summary>
    private static async Task<string> FindOrFetchAsync()
    {
        var installed = new[] { "/usr/sbin/pgbouncer", "/usr/bin/pgbouncer" }
            .Concat((Environment.GetEnvironmentVariable("PATH") ?? "").Split(':', StringSplitOptions.RemoveEmptyEntries).Select(d => Path.Combine(d, "pgbouncer")))
            .FirstOrDefault(File.Exists);
        if (installed is not null)
        {
            return installed;
        }

        const string Entry = "pgbouncer-deb";
        var cached = Path.Combine(TestCache.Folder, Entry, "usr", "sbin", "pgbouncer");
        if (File.Exists(cached))
        {
            return cached;
        }

        const string Install = "Install it (Debian: apt-get install pgbouncer; .ci/run does)";
        if (!File.Exists("/usr/bin/apt-get"))
        {
            throw new InvalidOperationException($"pgbouncer was not found. {Install}.");
        }

        var folder = TestCache.CreateWorkFolder(Entry);
        string? kept = null;
        try
        {
            var download = await RunnerProcess.RunProgramAsync("apt-get", ["download", "-q", "pgbouncer"], workingDirectory: folder);
            if (download.ExitCode != 0 && Environment.UserName == "root")
            {
                // A fresh machine has no package lists yet.
                var update = await RunnerProcess.RunProgramAsync("apt-get", ["update", "-qq"], timeout: TimeSpan.FromMinutes(5));
                download = update.ExitCode == 0 ? await RunnerProcess.RunProgramAsync("apt-get", ["download", "-q", "pgbouncer"], workingDirectory: folder) : update;
            }

            var package = Directory.GetFiles(folder, "pgbouncer_*.deb").FirstOrDefault();
            if (download.ExitCode != 0 || package is null)
            {
                throw new InvalidOperationException($"pgbouncer is not installed and apt-get download pgbouncer failed. {Install}.\n{download}");
            }

            var unpack = await RunnerProcess.RunProgramAsync("dpkg-deb", ["-x", package, folder]);
            File.Delete(package);
            // Checked before it is kept: a binary that cannot run (a library missing) must not be found in the cache by the next run.
            var runs = unpack.ExitCode == 0 ? await RunnerProcess.RunProgramAsync(Path.Combine(folder, "usr", "sbin", "pgbouncer"), ["--version"]) : unpack;
            if (runs.ExitCode != 0)
            {
                throw new InvalidOperationException($"Debian's pgbouncer package does not run here (a library missing?). {Install}.\n{runs}");
            }

            kept = TestCache.Keep(folder, Entry);
            return Path.Combine(kept, "usr", "sbin", "pgbouncer");
        }
        finally
        {
            if (kept != folder && Directory.Exists(folder))
            {
                Directory.Delete(folder, recursive: true); // a failed fetch, or another run's copy kept first
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        var pidFile = Path.Combine(Root, "pgbouncer.pid");
        if (File.Exists(pidFile) && int.TryParse(await File.ReadAllTextAsync(pidFile), out var pid))
        {
            try
            {
                using var process = Process.GetProcessById(pid);
                process.Kill();
                await process.WaitForExitAsync();
            }
            catch (ArgumentException)
            {
                // Gone already.
            }
        }
    }
}
