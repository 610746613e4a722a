using System.Globalization;
using MnasNet.Actors.Journal;
using MnasNet.Actors.Settings;

namespace MnasNet.Cluster.Tests;

/// <summary><c>search --cluster</c> with <c>latency.predictor</c>: a real controller-node process and PostgreSQL.</summary>
public sealed class ClusterPredictorTests(PostgresServer postgres) : IClassFixture<PostgresServer>, IDisposable
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(120);
    private readonly TempDir _dir = new();
    private readonly List<MnasNetProcess> _processes = [];

    [Fact]
    public async Task A_table_the_controller_node_cannot_read_fails_the_search_naming_the_node_and_journals_nothing()
    {
        var connection = _dir.File("pg.conn");
        await File.WriteAllTextAsync(connection, postgres.ConnectionString, TestContext.Current.CancellationToken);
        var absent = _dir.File("absent-table.json");
        var settings = Simulated.Settings(_dir.Path, "no-table", batchSize: 4, batches: 1, trainSeconds: 0.05) with
        {
            Strategy = "ppo-tabular",
            Latency = new LatencySettings { Backend = "simulated", Predictor = $"table:{absent}", MeasureTop = 0.5 },
            Journal = new JournalSettings { Directory = _dir.Path, Provider = "postgresql", ConnectionStringFile = connection },
            Logging = new LoggingSettings { Level = "Information", Console = true },
        };
        var port = PostgresServer.FreePort().ToString(CultureInfo.InvariantCulture);
        var controller = MnasNetProcess.Start(_dir.Path, "search", "--cluster", "--config", Simulated.WriteConfig(_dir, settings),
            "--port", port, "--seed-nodes", $"akka.tcp://mnasnet@127.0.0.1:{port}");
        _processes.Add(controller);

        var exit = await controller.WaitAsync(Bound);

        Assert.True(exit != 0, $"search --cluster exited 0:\n{controller.Output}");
        Assert.Contains($"latency table '{absent}' not found on controller node akka.tcp://mnasnet@127.0.0.1:{port}", controller.Output, StringComparison.Ordinal);
        Assert.Empty(PostgresJournal.ReadEvents(postgres.ConnectionString, "no-table"));
    }

    public void Dispose()
    {
        foreach (var p in _processes)
        {
            p.Dispose();
        }
        _dir.Dispose();
    }
}
