using MnasNet.Bench;

namespace MnasNet.TestSupport;

/// <summary>
/// A real PostgreSQL 15 server for one test class: the product's throwaway <see cref="LocalPostgresServer"/> (initdb in
/// a temp directory, a free loopback port, as the postgres user when the tests run as root) with one database.
/// </summary>
public sealed class PostgresServer : IAsyncLifetime
{
    private LocalPostgresServer? _server;

    public int Port => Server.Port;

    public string Database { get; } = $"db{Guid.NewGuid():N}";

    public string ConnectionString => Server.ConnectionString(Database);

    private LocalPostgresServer Server => _server ?? throw new InvalidOperationException("the PostgreSQL fixture is not started");

    public static int FreePort() => LocalPostgresServer.FreeLoopbackPort();

    public async ValueTask InitializeAsync()
    {
        _server = await LocalPostgresServer.StartAsync();
        await ScratchDatabases.CreateAsync(_server.ConnectionString("postgres"), Database);
    }

    /// <summary>Stops and starts the server (same data, same port): a database outage mid-search.</summary>
    public async Task RestartAsync()
    {
        await StopAsync();
        await StartAsync();
    }

    /// <summary>Stops the server at once (-m immediate: connections are cut, as in a crash).</summary>
    public Task StopAsync() => Server.StopAsync();

    public Task StartAsync() => Server.StartAgainAsync();

    public async ValueTask DisposeAsync()
    {
        if (_server is not null)
        {
            await _server.DisposeAsync();
        }
    }
}
