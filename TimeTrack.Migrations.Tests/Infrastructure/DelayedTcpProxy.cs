using System.Net;
using System.Net.Sockets;

namespace TimeTrack.Migrations.Tests.Infrastructure;

/// <summary>
/// A database that comes up late: a loopback port that drops every connection until
/// <paramref name="delay"/> after the first attempt (so at least one attempt always fails,
/// however slowly the client starts), then relays to the real server.
/// </summary>
public sealed class DelayedTcpProxy : IAsyncDisposable
{
    private readonly CancellationTokenSource _stop = new();
    private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
    private readonly Task _run;
    private DateTime? _upAt;

    public DelayedTcpProxy(string targetHost, int targetPort, TimeSpan delay)
    {
        _listener.Start();
        Port = ((IPEndPoint)_listener.LocalEndpoint).Port;
        _run = RunAsync(targetHost, targetPort, delay, _stop.Token);
    }

    public int Port { get; }

    /// <summary>How many connection attempts were dropped because the "server" was not up yet.</summary>
    public int Dropped { get; private set; }

    private async Task RunAsync(string host, int port, TimeSpan delay, CancellationToken stop)
    {
        try
        {
            while (!stop.IsCancellationRequested)
            {
                var client = await _listener.AcceptTcpClientAsync(stop);
                _upAt ??= DateTime.UtcNow + delay;
                if (DateTime.UtcNow < _upAt)
                {
                    Dropped++;
                    client.Client.LingerState = new LingerOption(true, 0); // reset, as a port nobody listens on would
                    client.Dispose();
                    continue;
                }

                _ = RelayAsync(client, host, port, stop);
            }
        }
        finally
        {
            _listener.Stop();
        }
    }

    private static async Task RelayAsync(TcpClient client, string host, int port, CancellationToken stop)
    {
        using (client)
        using (var server = new TcpClient())
        {
            await server.ConnectAsync(host, port, stop);
            await using var a = client.GetStream();
            await using var b = server.GetStream();
            await Task.WhenAny(a.CopyToAsync(b, stop), b.CopyToAsync(a, stop));
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        try
        {
            await _run;
        }
        catch (OperationCanceledException)
        {
        }
    }
}
