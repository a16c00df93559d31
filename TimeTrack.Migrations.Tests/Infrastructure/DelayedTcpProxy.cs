using System.Net;
using System.Net.Sockets;

namespace TimeTrack.Migrations.Tests.Infrastructure;

/// <summary>
/// A database that comes up late: a loopback port where nothing listens until
/// <paramref name="delay"/> has passed, then a plain TCP relay to the real server.
/// </summary>
public sealed class DelayedTcpProxy : IAsyncDisposable
{
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _run;

    public DelayedTcpProxy(string targetHost, int targetPort, TimeSpan delay)
    {
        using (var probe = new TcpListener(IPAddress.Loopback, 0))
        {
            probe.Start();
            Port = ((IPEndPoint)probe.LocalEndpoint).Port;
        }

        _run = RunAsync(targetHost, targetPort, delay, _stop.Token);
    }

    public int Port { get; }

    private async Task RunAsync(string host, int port, TimeSpan delay, CancellationToken stop)
    {
        await Task.Delay(delay, stop);
        var listener = new TcpListener(IPAddress.Loopback, Port);
        listener.Start();
        try
        {
            while (!stop.IsCancellationRequested)
            {
                var client = await listener.AcceptTcpClientAsync(stop);
                _ = RelayAsync(client, host, port, stop);
            }
        }
        finally
        {
            listener.Stop();
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
