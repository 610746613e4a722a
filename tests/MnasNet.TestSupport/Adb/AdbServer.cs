using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using MnasNet.Latency.Adb;

namespace MnasNet.TestSupport.Adb;

/// <summary>
/// The real adb server (Debian's <c>adb</c>, installed by <c>deploy/setup.sh --tests</c>) on a private port with a
/// private HOME (its key pair), started per test class and killed in Dispose.
/// </summary>
public sealed class AdbServer : IAsyncLifetime
{
    private readonly string _home = Directory.CreateTempSubdirectory("mnasnet-adb-").FullName;

    public int Port { get; } = FreePort();

    public AdbClient Client => new(new AdbServerEndpoint("127.0.0.1", Port), TimeSpan.FromSeconds(10));

    public async ValueTask InitializeAsync()
    {
        var (code, output) = await AdbAsync("start-server");
        if (code != 0)
        {
            throw new InvalidOperationException($"adb start-server failed ({code}): {output}");
        }
    }

    /// <summary>Runs the adb command-line client against this server.</summary>
    public async Task<(int ExitCode, string Output)> AdbAsync(params string[] args)
    {
        var start = new ProcessStartInfo("adb") { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in args)
        {
            start.ArgumentList.Add(a);
        }
        start.Environment["ANDROID_ADB_SERVER_PORT"] = Port.ToString(CultureInfo.InvariantCulture);
        start.Environment["HOME"] = _home;
        start.Environment.Remove("ADB_SERVER_SOCKET");
        using var process = Process.Start(start) ?? throw new InvalidOperationException("adb did not start (is the Debian package adb installed? deploy/setup.sh --tests)");
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        await process.WaitForExitAsync(timeout.Token);
        return (process.ExitCode, (await stdout) + (await stderr));
    }

    /// <summary><c>adb connect</c>, then waits until the server lists the phone in <paramref name="state"/>.</summary>
    public async Task AttachAsync(FakePhone phone, string state = "device")
    {
        var (_, output) = await AdbAsync("connect", phone.Serial);
        // adb connect answers "failed to authenticate" for a phone that stays unauthorized; it is listed as such.
        var answered = output.Contains("connected", StringComparison.Ordinal) || (state == "unauthorized" && output.Contains("failed to authenticate", StringComparison.Ordinal));
        if (!answered)
        {
            throw new InvalidOperationException($"adb connect {phone.Serial}: {output}");
        }
        await WaitForStateAsync(phone.Serial, state);
    }

    public async Task WaitForStateAsync(string serial, string state)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(15);
        var client = Client;
        while (true)
        {
            var devices = await client.ListDevicesAsync();
            if (devices.Any(d => d.Serial == serial && d.State == state))
            {
                return;
            }
            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"{serial} not {state} within 15 s: {string.Join(", ", devices.Select(d => $"{d.Serial} {d.State}"))}");
            }
            await Task.Delay(50);
        }
    }

    public async ValueTask DisposeAsync()
    {
        await AdbAsync("kill-server");
        try
        {
            Directory.Delete(_home, recursive: true);
        }
        catch (IOException)
        {
        }
    }

    private static int FreePort()
    {
        using var probe = new TcpListener(IPAddress.Loopback, 0);
        probe.Start();
        return ((IPEndPoint)probe.LocalEndpoint).Port;
    }
}
