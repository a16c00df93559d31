using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using Npgsql;

namespace TimeTrack.Migrations.Tests.Infrastructure;

/// <summary>
/// The PostgreSQL server the tests use: the one at TIMETRACK_TEST_DATABASE_URL when set (a CI
/// service container, say), otherwise a throwaway cluster started from this machine's PostgreSQL
/// binaries (initdb + pg_ctl, a free port, its own socket directory, as the postgres user when
/// the tests run as root) and removed when the test run ends. One server for the whole run;
/// each test class creates its own database on it.
/// </summary>
public sealed class PostgresServer
{
    public const string UrlVariable = "TIMETRACK_TEST_DATABASE_URL";

    private static readonly Lazy<Task<PostgresServer>> Shared = new(StartAsync);

    private PostgresServer(string host, int port, string user, string password, string maintenanceDatabase)
    {
        Host = host;
        Port = port;
        User = user;
        Password = password;
        MaintenanceDatabase = maintenanceDatabase;
        _maintenance = new(() => NpgsqlDataSource.Create(HelperConnectionStringFor(MaintenanceDatabase)));
    }

    public string Host { get; }
    public int Port { get; }
    public string User { get; }
    public string Password { get; }
    public string MaintenanceDatabase { get; }

    /// <summary>The Unix socket directory of a throwaway cluster (null for a server given by URL).</summary>
    public string? SocketDirectory { get; private init; }

    /// <summary>The throwaway cluster's own directory, for files a test puts beside it (certificates).</summary>
    public string? Root { get; private init; }

    public static Task<PostgresServer> GetAsync() => Shared.Value;

    /// <summary>
    /// A cluster of its own, always throwaway (never TIMETRACK_TEST_DATABASE_URL): for tests that
    /// configure the server (TLS, pg_hba). <paramref name="configure"/> gets the cluster's root
    /// directory before start and returns lines for postgresql.conf and pg_hba.conf.
    /// </summary>
    public static Task<PostgresServer> StartOwnAsync(Func<string, (string[] Config, string[] Hba)> configure) => ThrowawayCluster.StartAsync(configure);

    /// <summary>The URL of a database on this server, as users write it.</summary>
    public string UrlFor(string database, string? password = null) =>
        $"postgresql://{Uri.EscapeDataString(User)}:{Uri.EscapeDataString(password ?? Password)}@{Host}:{Port}/{database}";

    public string ConnectionStringFor(string database) =>
        new NpgsqlConnectionStringBuilder { Host = Host, Port = Port, Username = User, Password = Password, Database = database, Pooling = false }.ConnectionString;

    /// <summary>
    /// For the tests' own helper statements: pooled, and over the Unix socket (trusted, no SCRAM
    /// exchange) when the cluster is the tests' own. What the runner is given is UrlFor.
    /// </summary>
    public string HelperConnectionStringFor(string database) =>
        new NpgsqlConnectionStringBuilder { Host = SocketDirectory ?? Host, Port = Port, Username = User, Password = SocketDirectory is null ? Password : null, Database = database }.ConnectionString;

    public async Task<string> CreateDatabaseAsync(string prefix, string? template = null)
    {
        var name = $"{prefix}_{Guid.NewGuid():N}"[..Math.Min(prefix.Length + 13, 63)].ToLowerInvariant();
        await CreateDatabaseNamedAsync(name, template);
        return name;
    }

    public async Task CreateDatabaseNamedAsync(string name, string? template = null)
    {
        // FILE_COPY (PostgreSQL 15+) copies the template's files; the default since 15, WAL_LOG,
        // writes every page of it through the WAL: three times the server's CPU for a small database.
        await ExecuteAsync($"CREATE DATABASE \"{name}\"" + (template is null ? "" : $" TEMPLATE \"{template}\"")
            + (await VersionNumberAsync() >= 150000 ? " STRATEGY = FILE_COPY" : ""));
    }

    private int _versionNumber;

    private async Task<int> VersionNumberAsync()
    {
        if (_versionNumber == 0)
        {
            await using var connection = await _maintenance.Value.OpenConnectionAsync();
            _versionNumber = connection.PostgreSqlVersion.Major * 10000 + connection.PostgreSqlVersion.Minor;
        }

        return _versionNumber;
    }

    public Task DropDatabaseAsync(string name) => ExecuteAsync($"DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)");

    /// <summary>
    /// Loads a plain-text dump (a fixture) into <paramref name="database"/> with psql, as the
    /// superuser: psql, because the data is in COPY ... FROM stdin blocks. The \restrict lines are
    /// dropped so that an older psql loads it too.
    /// </summary>
    public async Task LoadDumpAsync(string database, string dump)
    {
        var lines = (await File.ReadAllLinesAsync(dump))
            .Where(l => !l.StartsWith("\\restrict", StringComparison.Ordinal) && !l.StartsWith("\\unrestrict", StringComparison.Ordinal));
        var start = new ProcessStartInfo("psql")
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        foreach (var arg in new[] { "-X", "-q", "-v", "ON_ERROR_STOP=1", "-h", Host, "-p", Port.ToString(System.Globalization.CultureInfo.InvariantCulture), "-U", User, "-d", database })
        {
            start.ArgumentList.Add(arg);
        }

        start.Environment["PGPASSWORD"] = Password;
        using var process = Process.Start(start) ?? throw new InvalidOperationException("psql could not be started (apt-get install postgresql-client)");
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        await process.StandardInput.WriteAsync(string.Join('\n', lines) + "\n");
        process.StandardInput.Close();
        await process.WaitForExitAsync();
        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException($"loading {Path.GetFileName(dump)} into {database} failed: {await stderr}{await stdout}");
        }
    }

    /// <summary>As the superuser over the Unix socket (trusted): works whatever pg_hba says of TCP.</summary>
    public async Task ExecuteOverSocketAsync(string sql, string? database = null)
    {
        var builder = new NpgsqlConnectionStringBuilder { Host = SocketDirectory, Port = Port, Username = User, Database = database ?? MaintenanceDatabase, Pooling = false };
        await using var connection = new NpgsqlConnection(builder.ConnectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(sql, connection);
        await command.ExecuteNonQueryAsync();
    }

    /// <summary>
    /// As the superuser on the maintenance database (CREATE/DROP DATABASE, roles): over the Unix
    /// socket when the cluster is the tests' own. A data source of its own, so that it keeps its
    /// connection however often the tests clear Npgsql's pools: the suite creates and drops a few
    /// hundred databases, and a new session costs the server a fork.
    /// </summary>
    public async Task ExecuteAsync(string sql)
    {
        await using var connection = await _maintenance.Value.OpenConnectionAsync();
        await using var command = new NpgsqlCommand(sql, connection);
        await command.ExecuteNonQueryAsync();
    }

    private readonly Lazy<NpgsqlDataSource> _maintenance;

    private static async Task<PostgresServer> StartAsync()
    {
        var url = Environment.GetEnvironmentVariable(UrlVariable);
        if (!string.IsNullOrWhiteSpace(url))
        {
            var uri = new Uri(url);
            var userInfo = uri.UserInfo.Split(':', 2);
            var server = new PostgresServer(
                uri.Host, uri.Port > 0 ? uri.Port : 5432,
                Uri.UnescapeDataString(userInfo[0]),
                userInfo.Length > 1 ? Uri.UnescapeDataString(userInfo[1]) : "",
                uri.AbsolutePath.Trim('/') is { Length: > 0 } db ? db : "postgres");
            try
            {
                await server.ExecuteAsync("SELECT 1");
                if (server.Password.Length > 0)
                {
                    RunnerProcess.RegisterSecret(server.Password);
                }
            }
            catch (Exception e)
            {
                throw new InvalidOperationException($"{UrlVariable} is set but its server cannot be reached ({e.Message}). Fix the URL or unset it to let the tests start their own cluster.", e);
            }

            return server;
        }

        return await ThrowawayCluster.StartAsync(null);
    }

    /// <summary>A cluster in a temporary directory, stopped and deleted when the test process exits.</summary>
    /// <summary>The throwaway cluster, and the process helpers the other servers of the tests (PgBouncer, StandbyPair) share.</summary>
    internal static class ThrowawayCluster
    {
        public static async Task<PostgresServer> StartAsync(Func<string, (string[] Config, string[] Hba)>? configure)
        {
            var bin = FindBinaries()
                ?? throw new InvalidOperationException(
                    "PostgreSQL server binaries (initdb, pg_ctl) were not found. Install them (Debian: apt-get install postgresql) " +
                    $"or set {UrlVariable}=postgresql://user:password@host:5432/postgres to use an existing server.");

            RemoveStaleClusters(bin);
            // Beside the test process's own directory (TemporaryFiles), not in it: the cluster is
            // stopped before its files go. In memory when there is room: on a disk file system,
            // the few hundred files of each test database cost the server more than its queries.
            var root = Directory.CreateDirectory(Path.Combine(TemporaryFiles.Parent(), Prefix + Guid.NewGuid().ToString("N")[..8])).FullName;
            await File.WriteAllTextAsync(Path.Combine(root, "owner.pid"), Environment.ProcessId.ToString(System.Globalization.CultureInfo.InvariantCulture));
            var data = Path.Combine(root, "data");
            var sockets = Path.Combine(root, "sockets");
            Directory.CreateDirectory(sockets);
            var password = "pw-" + Guid.NewGuid().ToString("N")[..16];
            var passwordFile = Path.Combine(root, "pwfile");
            await File.WriteAllTextAsync(passwordFile, password + "\n");

            var (config, hba) = configure?.Invoke(root) ?? ([], []);
            var asRoot = Environment.UserName == "root" || geteuid() == 0;
            if (asRoot)
            {
                // initdb refuses to run as root: the cluster belongs to the postgres user.
                Run("chown", ["-R", "postgres:postgres", root]);
            }

            var port = FreePort();
            RunAsOwner(asRoot, Path.Combine(bin, "initdb"),
                ["-D", data, "-U", "postgres", "--pwfile", passwordFile, "--auth-local=trust", "--auth-host=scram-sha-256",
                 "-E", "UTF8", "--locale=C", "--no-sync"]);
            if (config.Length > 0 || hba.Length > 0)
            {
                // Settings in postgresql.conf, not on the command line, so that ALTER SYSTEM can change them.
                await File.AppendAllLinesAsync(Path.Combine(data, "postgresql.conf"), config);
                var hbaFile = Path.Combine(data, "pg_hba.conf");
                var defaults = (await File.ReadAllLinesAsync(hbaFile)).Where(l => l.StartsWith("local", StringComparison.Ordinal));
                await File.WriteAllLinesAsync(hbaFile, [.. defaults, .. hba]);
            }

            // No durability (a test cluster), and a small WAL: the cluster may live in memory. No
            // autovacuum: its workers visited each of the run's hundreds of short-lived databases.
            RunAsOwner(asRoot, Path.Combine(bin, "pg_ctl"),
                ["-D", data, "-l", Path.Combine(root, "server.log"), "-w", "-t", "60", "start", "-o",
                 $"-p {port} -k {sockets} -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200 -c max_wal_size=96MB -c min_wal_size=32MB -c autovacuum=off"]);

            StopWhenTestProcessEnds(asRoot, bin, root);

            var server = new PostgresServer("127.0.0.1", port, "postgres", password, "postgres") { SocketDirectory = sockets, Root = root };
            await server.ExecuteOverSocketAsync("SELECT 1");
            RunnerProcess.RegisterSecret(password);
            return server;
        }

        private const string Prefix = "timetrack-pg-";

        /// <summary>
        /// Stops the cluster and deletes its directory once the test process is gone, however it
        /// ends (exit handlers that stopped it were cut short and left clusters running).
        /// </summary>
        private static void StopWhenTestProcessEnds(bool asRoot, string bin, string root) =>
            TemporaryFiles.WhenThisProcessEnds(
                (asRoot ? "runuser -u postgres -- " : "") + $"'{Path.Combine(bin, "pg_ctl")}' -D '{Path.Combine(root, "data")}' -m immediate -w stop; rm -rf '{root}'");

        /// <summary>
        /// Clusters of earlier test runs whose test process is gone (a test host that was killed
        /// never runs its exit handler): stop them and delete their directories.
        /// </summary>
        private static void RemoveStaleClusters(string bin)
        {
            foreach (var root in new[] { TemporaryFiles.SystemTemporaryDirectory, TemporaryFiles.Parent() }.Distinct().SelectMany(p => Directory.GetDirectories(p, Prefix + "*")))
            {
                try
                {
                    // Without an owner (not written yet, or half written), a young directory is a cluster
                    // that another start (of this process or a parallel test run) is creating right now:
                    // deleting it broke that start's initdb, or its server once started.
                    var ownerFile = Path.Combine(root, "owner.pid");
                    int? owner = File.Exists(ownerFile) && int.TryParse(File.ReadAllText(ownerFile), out var pid) ? pid : null;
                    if (owner is { } alive ? TemporaryFiles.IsAlive(alive) : DateTime.UtcNow - Directory.GetLastWriteTimeUtc(root) < TimeSpan.FromMinutes(10))
                    {
                        continue;
                    }

                    if (File.Exists(Path.Combine(root, "data", "postmaster.pid")))
                    {
                        RunAsOwner(Environment.UserName == "root", Path.Combine(bin, "pg_ctl"), ["-D", Path.Combine(root, "data"), "-m", "immediate", "-w", "stop"]);
                    }

                    Directory.Delete(root, recursive: true);
                }
                catch (Exception e) when (e is IOException or UnauthorizedAccessException or InvalidOperationException)
                {
                    // Someone else's, or already going: leave it.
                }
            }
        }

        private static string? FindBinaries()
        {
            var candidates = (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':', StringSplitOptions.RemoveEmptyEntries)
                .Concat(Directory.Exists("/usr/lib/postgresql")
                    ? Directory.GetDirectories("/usr/lib/postgresql").OrderByDescending(d => d).Select(d => Path.Combine(d, "bin"))
                    : []);
            return candidates.FirstOrDefault(d => File.Exists(Path.Combine(d, "initdb")) && File.Exists(Path.Combine(d, "pg_ctl")));
        }

        internal static int FreePort()
        {
            using var listener = new TcpListener(IPAddress.Loopback, 0);
            listener.Start();
            return ((IPEndPoint)listener.LocalEndpoint).Port;
        }

        internal static void RunAsOwner(bool asRoot, string program, string[] args)
        {
            if (asRoot)
            {
                Run("runuser", ["-u", "postgres", "--", program, .. args]);
            }
            else
            {
                Run(program, args);
            }
        }

        internal static void Run(string program, string[] args)
        {
            var start = new ProcessStartInfo(program) { RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = "/tmp" };
            foreach (var arg in args)
            {
                start.ArgumentList.Add(arg);
            }

            using var process = Process.Start(start)!;
            var stdout = process.StandardOutput.ReadToEndAsync();
            var stderr = process.StandardError.ReadToEndAsync();
            process.WaitForExit();
            if (process.ExitCode != 0)
            {
                throw new InvalidOperationException($"{Path.GetFileName(program)} failed ({process.ExitCode}): {stderr.Result}{stdout.Result}");
            }
        }

        [System.Runtime.InteropServices.DllImport("libc")]
        private static extern uint geteuid();
    }
}
