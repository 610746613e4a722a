using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using Npgsql;

namespace MnasNet.Bench;

/// <summary>A PostgreSQL server that cannot be found or started, or a database that cannot be made.</summary>
public sealed class PostgresUnavailableException(string message, Exception? inner = null) : Exception(message, inner);

/// <summary>
/// A throwaway PostgreSQL 15 server: <c>initdb</c> in a new temp directory, started with <c>pg_ctl</c> on a free
/// loopback port (trust authentication, fsync off), as the <c>postgres</c> user when this process runs as root (initdb
/// refuses root); stopped with <c>-m immediate</c> and its directory deleted on dispose, or at process exit at the latest.
/// <c>MNASNET_PG_BIN</c> overrides the binaries' directory.
/// </summary>
// Lives here, not in the tests, because `bench cluster` starts a throwaway server too; the tests' PostgreSQL fixture wraps it.
public sealed class LocalPostgresServer : IAsyncDisposable
{
    public const string BinEnvironmentVariable = "MNASNET_PG_BIN";
    public const string DefaultBin = "/usr/lib/postgresql/15/bin";
    private const string Superuser = "postgres";

    private readonly string _bin;
    private readonly string _dir;
    private bool _running;

    private LocalPostgresServer(string bin, string dir, int port)
    {
        _bin = bin;
        _dir = dir;
        Port = port;
    }

    public int Port { get; }

    public static string Bin => Environment.GetEnvironmentVariable(BinEnvironmentVariable) is { Length: > 0 } b ? b : DefaultBin;

    /// <summary>Connection string of a database on this server (as the superuser, no password: trust on loopback).</summary>
    public string ConnectionString(string database) => new NpgsqlConnectionStringBuilder
    {
        Host = "127.0.0.1",
        Port = Port,
        Username = Superuser,
        Database = database,
    }.ConnectionString;

    public static int FreeLoopbackPort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    public static async Task<LocalPostgresServer> StartAsync(CancellationToken cancellationToken = default)
    {
        var bin = Bin;
        if (!File.Exists(Path.Combine(bin, "initdb")))
        {
            throw new PostgresUnavailableException($"no PostgreSQL binaries in {bin} (apt-get install postgresql, or set {BinEnvironmentVariable})");
        }
        var server = new LocalPostgresServer(bin, Path.Combine(Path.GetTempPath(), $"mnasnet-pg-{Guid.NewGuid():N}"), FreeLoopbackPort());
        try
        {
            Directory.CreateDirectory(server._dir);
            if (IsRoot)
            {
                await RunAsync("chown", [Superuser, server._dir], cancellationToken);
            }
            await server.RunPgAsync("initdb", ["-D", server.DataDirectory, "-A", "trust", "-U", Superuser, "--no-sync"], cancellationToken);
            AppDomain.CurrentDomain.ProcessExit += server.StopAtExit;
            await server.StartAgainAsync(cancellationToken);
            return server;
        }
        catch
        {
            await server.DisposeAsync();
            throw;
        }
    }

    /// <summary>Stops the server at once (-m immediate: connections are cut, as in a crash); the data stays.</summary>
    public async Task StopAsync(CancellationToken cancellationToken = default)
    {
        await RunPgAsync("pg_ctl", ["-D", DataDirectory, "-m", "immediate", "-w", "stop"], cancellationToken);
        _running = false;
    }

    /// <summary>Starts the (stopped) server again on the same port with the same data.</summary>
    public async Task StartAgainAsync(CancellationToken cancellationToken = default)
    {
        _running = true;
        await RunPgAsync("pg_ctl", ["-D", DataDirectory, "-o", $"-h 127.0.0.1 -p {Port.ToString(CultureInfo.InvariantCulture)} -k {_dir} -c fsync=off",
            "-l", Path.Combine(_dir, "log"), "-w", "start"], cancellationToken);
    }

    private string DataDirectory => Path.Combine(_dir, "data");

    private static bool IsRoot => Environment.UserName == "root";

    public async ValueTask DisposeAsync()
    {
        AppDomain.CurrentDomain.ProcessExit -= StopAtExit;
        if (_running)
        {
            try
            {
                await StopAsync();
            }
            catch (PostgresUnavailableException)
            {
                // Not running any more (or never started): nothing to stop.
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

    private void StopAtExit(object? sender, EventArgs e) => DisposeAsync().AsTask().GetAwaiter().GetResult();

    private Task RunPgAsync(string tool, string[] args, CancellationToken cancellationToken) => IsRoot
        ? RunAsync("runuser", ["-u", Superuser, "--", Path.Combine(_bin, tool), .. args], cancellationToken)
        : RunAsync(Path.Combine(_bin, tool), args, cancellationToken);

    private static async Task RunAsync(string file, string[] args, CancellationToken cancellationToken)
    {
        var info = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in args)
        {
            info.ArgumentList.Add(a);
        }
        Process process;
        try
        {
            process = Process.Start(info)!;
        }
        catch (System.ComponentModel.Win32Exception e)
        {
            throw new PostgresUnavailableException($"cannot run {file}: {e.Message}", e);
        }
        using (process)
        {
            var stdout = process.StandardOutput.ReadToEndAsync(CancellationToken.None);
            var stderr = process.StandardError.ReadToEndAsync(CancellationToken.None);
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            timeout.CancelAfter(TimeSpan.FromSeconds(60));
            try
            {
                await process.WaitForExitAsync(timeout.Token);
            }
            catch (OperationCanceledException)
            {
                process.Kill();
                if (cancellationToken.IsCancellationRequested)
                {
                    throw;
                }
                throw new PostgresUnavailableException($"{Path.GetFileName(file)} {string.Join(' ', args)} did not finish within 60 s");
            }
            if (process.ExitCode != 0)
            {
                throw new PostgresUnavailableException($"{Path.GetFileName(file)} {string.Join(' ', args)} failed (exit {process.ExitCode}): {(await stdout + await stderr).Trim()}");
            }
        }
    }
}

/// <summary>Scratch databases on a PostgreSQL server: one per benchmark run, so no run sees another's cluster state.</summary>
public static class ScratchDatabases
{
    /// <summary>Creates database <paramref name="name"/> through <paramref name="serverConnection"/> and returns its connection string.</summary>
    public static async Task<string> CreateAsync(string serverConnection, string name, CancellationToken cancellationToken = default)
    {
        try
        {
            await using var connection = new NpgsqlConnection(serverConnection);
            await connection.OpenAsync(cancellationToken);
            await using var command = connection.CreateCommand();
            command.CommandText = $"CREATE DATABASE \"{name}\"";
            await command.ExecuteNonQueryAsync(cancellationToken);
        }
        catch (PostgresException e) when (e.SqlState == PostgresErrorCodes.InsufficientPrivilege)
        {
            throw new PostgresUnavailableException($"the PostgreSQL role may not create databases (each run needs a fresh one): grant it CREATEDB, or leave {Actors.Journal.PostgresJournal.ConnectionEnvironmentVariable} unset to use a throwaway local server", e);
        }
        catch (NpgsqlException e)
        {
            throw new PostgresUnavailableException($"cannot create database {name}: {e.Message}", e);
        }
        return new NpgsqlConnectionStringBuilder(serverConnection) { Database = name }.ConnectionString;
    }

    /// <summary>Drops the database, closing any connection still open to it; failures are ignored (scratch only).</summary>
    public static async Task DropAsync(string serverConnection, string name)
    {
        NpgsqlConnection.ClearAllPools();
        try
        {
            await using var connection = new NpgsqlConnection(serverConnection);
            await connection.OpenAsync();
            await using var command = connection.CreateCommand();
            command.CommandText = $"DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)";
            await command.ExecuteNonQueryAsync();
        }
        catch (NpgsqlException)
        {
        }
    }
}
