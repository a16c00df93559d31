using System.Diagnostics;
using System.Net;
using System.Net.Sockets;

namespace TimeTrack.Migrations.Tests.Infrastructure;

/// <summary>
/// A throwaway primary (a cluster of its own, never the suite's shared one) and a streaming
/// standby of it made with pg_basebackup -R, on free ports; both stopped when the test process ends.
/// </summary>
public sealed class StandbyPair
{
    private readonly string _bin;
    private readonly string _standbyData;
    private readonly bool _asRoot;

    private StandbyPair(PostgresServer primary, int standbyPort, string bin, string standbyData, bool asRoot)
    {
        Primary = primary;
        StandbyPort = standbyPort;
        _bin = bin;
        _standbyData = standbyData;
        _asRoot = asRoot;
    }

    public PostgresServer Primary { get; }
    public int StandbyPort { get; }

    public string StandbyUrlFor(string database) =>
        $"postgresql://{Primary.User}:{Uri.EscapeDataString(Primary.Password)}@127.0.0.1:{StandbyPort}/{database}";

    /// <summary>
    /// libpq's multi-host form: the standby first, so that only target_session_attrs finds the
    /// primary; <paramref name="primaryFirst"/>: as users write it, so that after a failover the
    /// first host refuses connections and the client must move on to the promoted standby.
    /// </summary>
    public string MultiHostUrlFor(string database, string targetSessionAttrs, bool primaryFirst = false) =>
        $"postgresql://{Primary.User}:{Uri.EscapeDataString(Primary.Password)}@" +
        (primaryFirst ? $"127.0.0.1:{Primary.Port},127.0.0.1:{StandbyPort}" : $"127.0.0.1:{StandbyPort},127.0.0.1:{Primary.Port}") +
        $"/{database}?target_session_attrs={targetSessionAttrs}";

    /// <summary>The database <see cref="Shared"/> is started with (on both servers from the start).</summary>
    public const string SharedDatabase = "app";

    private static readonly Lazy<Task<StandbyPair>> SharedPair = new(() => StartAsync(SharedDatabase));

    /// <summary>
    /// One pair for every test that leaves both servers running (no promotion, no stop): a cluster,
    /// a base backup and a standby started once per run instead of once per class. A test wanting
    /// a database of its own creates it with <see cref="CreateReplicatedDatabaseAsync"/>.
    /// </summary>
    public static Task<StandbyPair> Shared() => SharedPair.Value;

    /// <summary>Creates <paramref name="database"/> on the primary and waits until the standby has replayed it.</summary>
    public async Task CreateReplicatedDatabaseAsync(string database)
    {
        await Primary.CreateDatabaseNamedAsync(database);
        var deadline = DateTime.UtcNow.AddMinutes(3); // a loaded machine replays slowly
        while (true)
        {
            try
            {
                await using var connection = new Npgsql.NpgsqlConnection(StandbyConnectionStringFor(database));
                await connection.OpenAsync();
                return;
            }
            catch (Npgsql.PostgresException e) when (e.SqlState == "3D000" && DateTime.UtcNow < deadline)
            {
                await Task.Delay(20); // not replayed yet
            }
        }
    }

    /// <param name="database">Created on the primary before the base backup, so the standby has it.</param>
    public static async Task<StandbyPair> StartAsync(string database)
    {
        var primary = await PostgresServer.StartOwnAsync(_ => ([], []));
        await primary.CreateDatabaseNamedAsync(database);
        // The real directory (PATH may hold links to initdb and pg_ctl only): pg_basebackup is beside them.
        var pgCtl = Which("pg_ctl", primary);
        var bin = Path.GetDirectoryName(new FileInfo(pgCtl).ResolveLinkTarget(returnFinalTarget: true)?.FullName ?? pgCtl)!;
        var asRoot = Environment.UserName == "root";
        var data = Path.Combine(primary.Root!, "standby");
        var sockets = Path.Combine(primary.Root!, "standby-sockets");
        Directory.CreateDirectory(sockets);
        if (asRoot)
        {
            PostgresServer.ThrowawayCluster.Run("chown", ["postgres:postgres", sockets]);
        }

        var port = PostgresServer.ThrowawayCluster.FreePort();
        // Over the primary's socket: the default pg_hba trusts local replication connections.
        PostgresServer.ThrowawayCluster.RunAsOwner(asRoot, Path.Combine(bin, "pg_basebackup"), ["-h", primary.SocketDirectory!, "-p", primary.Port.ToString(System.Globalization.CultureInfo.InvariantCulture),
            "-U", primary.User, "-D", data, "-R", "-X", "stream", "--no-sync"]);
        PostgresServer.ThrowawayCluster.RunAsOwner(asRoot, Path.Combine(bin, "pg_ctl"), ["-D", data, "-l", Path.Combine(primary.Root!, "standby.log"), "-w", "-t", "60", "start", "-o",
            // A standby needs at least the primary's max_connections (PostgresServer starts it with 200).
            $"-p {port} -k {sockets} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200"]);
        TemporaryFiles.WhenThisProcessEnds((asRoot ? "runuser -u postgres -- " : "") + $"'{Path.Combine(bin, "pg_ctl")}' -D '{data}' -m immediate -w stop");
        return new StandbyPair(primary, port, bin, data, asRoot);
    }

    /// <summary>Stops the primary as a failover does (pg_ctl stop -m fast or immediate); its sessions end.</summary>
    public void StopPrimary(string mode) =>
        PostgresServer.ThrowawayCluster.RunAsOwner(_asRoot, Path.Combine(_bin, "pg_ctl"), ["-D", Path.Combine(Primary.Root!, "data"), "-m", mode, "-w", "-t", "60", "stop"]);

    /// <summary>Promotes the standby (pg_ctl promote, waiting until it accepts writes): the new primary, at <see cref="StandbyPort"/>.</summary>
    public void PromoteStandby() =>
        PostgresServer.ThrowawayCluster.RunAsOwner(_asRoot, Path.Combine(_bin, "pg_ctl"), ["-D", _standbyData, "-w", "-t", "60", "promote"]);

    /// <summary>A connection to the standby (the new primary once promoted), as the primary's superuser.</summary>
    public string StandbyConnectionStringFor(string database) =>
        new Npgsql.NpgsqlConnectionStringBuilder { Host = "127.0.0.1", Port = StandbyPort, Username = Primary.User, Password = Primary.Password, Database = database, Pooling = false }.ConnectionString;

    private static string Which(string program, PostgresServer server)
    {
        var candidates = (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':', StringSplitOptions.RemoveEmptyEntries)
            .Concat(Directory.Exists("/usr/lib/postgresql")
                ? Directory.GetDirectories("/usr/lib/postgresql").OrderByDescending(d => d).Select(d => Path.Combine(d, "bin"))
                : []);
        return candidates.Select(d => Path.Combine(d, program)).FirstOrDefault(p => File.Exists(p) && File.Exists(Path.Combine(Path.GetDirectoryName(p)!, "initdb")))
            ?? throw new InvalidOperationException($"{program} was not found beside initdb (cluster at {server.Root}); install the PostgreSQL server (Debian: apt-get install postgresql)");
    }
}
