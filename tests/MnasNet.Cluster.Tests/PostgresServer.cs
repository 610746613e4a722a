using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using Npgsql;

namespace MnasNet.Cluster.Tests;

/// <summary>
/// A real PostgreSQL 15 server for one test class: initdb in a temp directory, started on a free loopback port
/// (as the postgres user when the tests run as root), one database per fixture, stopped with -m immediate.
/// </summary>
public sealed class PostgresServer : IAsyncLifetime
{
    private static readonly string Bin = Environment.GetEnvironmentVariable("MNASNET_PG_BIN") is { Length: > 0 } b ? b : "/usr/lib/postgresql/15/bin";
    private readonly string _dir = Path.Combine(Path.GetTempPath(), $"mnasnet-pg-{Guid.NewGuid():N}");
    private bool _started;

    public int Port { get; } = FreePort();

    public string Database { get; } = $"db{Guid.NewGuid():N}";

    public string ConnectionString => new NpgsqlConnectionStringBuilder
    {
        Host = "127.0.0.1",
        Port = Port,
        Username = "postgres",
        Database = Database,
        Pooling = true,
    }.ConnectionString;

    public static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    public async ValueTask InitializeAsync()
    {
        if (!File.Exists(Path.Combine(Bin, "initdb")))
        {
            throw new InvalidOperationException($"PostgreSQL binaries not found in {Bin} (apt-get install postgresql, or set MNASNET_PG_BIN)");
        }
        Directory.CreateDirectory(_dir);
        if (IsRoot)
        {
            await RunAsync("chown", "postgres", _dir);
        }
        var data = Path.Combine(_dir, "data");
        await RunPgAsync("initdb", "-D", data, "-A", "trust", "-U", "postgres", "--no-sync");
        await RunPgAsync("pg_ctl", "-D", data, "-o", $"-h 127.0.0.1 -p {Port} -k {_dir} -c fsync=off", "-l", Path.Combine(_dir, "log"), "-w", "start");
        _started = true;
        await RunPgAsync("createdb", "-h", "127.0.0.1", "-p", Port.ToString(System.Globalization.CultureInfo.InvariantCulture), "-U", "postgres", Database);
    }

    /// <summary>Stops and starts the server (same data, same port): a database outage mid-search.</summary>
    public async Task RestartAsync()
    {
        await StopAsync();
        await StartAsync();
    }

    /// <summary>Stops the server at once (-m immediate: connections are cut, as in a crash).</summary>
    public Task StopAsync() => RunPgAsync("pg_ctl", "-D", Path.Combine(_dir, "data"), "-m", "immediate", "-w", "stop");

    public Task StartAsync() =>
        RunPgAsync("pg_ctl", "-D", Path.Combine(_dir, "data"), "-o", $"-h 127.0.0.1 -p {Port} -k {_dir} -c fsync=off", "-l", Path.Combine(_dir, "log"), "-w", "start");

    public async ValueTask DisposeAsync()
    {
        if (_started)
        {
            try
            {
                await RunPgAsync("pg_ctl", "-D", Path.Combine(_dir, "data"), "-m", "immediate", "-w", "stop");
            }
            catch (InvalidOperationException)
            {
            }
        }
        try
        {
            Directory.Delete(_dir, recursive: true);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
        }
    }

    private static bool IsRoot => Environment.UserName == "root";

    private static Task RunPgAsync(string tool, params string[] args) => IsRoot
        ? RunAsync("runuser", ["-u", "postgres", "--", Path.Combine(Bin, tool), .. args])
        : RunAsync(Path.Combine(Bin, tool), args);

    private static async Task RunAsync(string file, params string[] args)
    {
        var info = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in args)
        {
            info.ArgumentList.Add(a);
        }
        using var process = Process.Start(info)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        await process.WaitForExitAsync(timeout.Token);
        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException($"{file} {string.Join(' ', args)} failed ({process.ExitCode}): {await stdout}{await stderr}");
        }
    }
}
