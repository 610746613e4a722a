using System.Globalization;
using MnasNet.Actors.Hosting;
using MnasNet.Actors.Journal;
using MnasNet.Actors.Policy;
using MnasNet.Actors.Protocol;
using MnasNet.Actors.Settings;

namespace MnasNet.Cluster.Tests;

/// <summary><c>search --cluster --warm-start</c> with real processes and the cluster's PostgreSQL journal.</summary>
public sealed class ClusterWarmStartTests(PostgresServer postgres) : IClassFixture<PostgresServer>, IDisposable
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(120);
    private readonly TempDir _dir = new();
    private readonly List<MnasNetProcess> _processes = [];

    private static string P(int port) => port.ToString(CultureInfo.InvariantCulture);

    private MnasNetProcess Start(params string[] args)
    {
        var p = MnasNetProcess.Start(_dir.Path, args);
        _processes.Add(p);
        return p;
    }

    private SearchSettings Settings(string id, string connection, int batches) =>
        Simulated.Settings(_dir.Path, id, batchSize: 6, batches: batches, trainSeconds: 0.05) with
        {
            Strategy = "ppo-tabular",
            Journal = new JournalSettings { Directory = _dir.Path, SnapshotEvery = 2, Provider = "postgresql", ConnectionStringFile = connection },
            Workers = new WorkerSettings { Trainers = 1, Devices = 1, LeaseTimeoutSeconds = 5, PauseGraceSeconds = 5 },
            Logging = new LoggingSettings { Level = "Information", Console = true },
            Cluster = new ClusterSettings { StableAfterSeconds = 7, HeartbeatIntervalSeconds = 0.5, AcceptableHeartbeatPauseSeconds = 5, WorkRequestIntervalSeconds = 0.5 },
        };

    [Fact]
    public async Task A_search_warm_started_on_the_cluster_takes_and_searches_what_the_single_node_warm_start_does()
    {
        var connection = _dir.File("pg.conn");
        await File.WriteAllTextAsync(connection, postgres.ConnectionString, TestContext.Current.CancellationToken);
        var source = Settings("warm-source", connection, batches: 3);
        Assert.Equal("completed", (await SearchRunner.RunAsync(source, resume: false)).Status);
        // Another seed and a tighter target than its source.
        var warm = Settings("warm-new", connection, batches: 2) with { Seed = 5, Reward = new RewardSettings { Preset = RewardExponents.Soft, TargetMs = 60 } };

        // The same two searches on one node (SQLite): the warm start the cluster's search must take and what it then samples.
        var local = new JournalSettings { Directory = _dir.File("local"), Provider = "sqlite" };
        Assert.Equal("completed", (await SearchRunner.RunAsync(source with { Journal = local }, resume: false)).Status);
        var single = warm with { Journal = local, Simulation = warm.Simulation with { TrainSeconds = 0 } };
        var plan = WarmStartPlanner.Plan(single, source.Id, JournalReader.ReadEvents(local.Directory, source.Id));
        Assert.Equal("completed", (await SearchRunner.RunAsync(single, resume: false, warmStart: plan)).Status);
        var expected = Simulated.Fingerprint(local.Directory, warm.Id);

        var config = Simulated.WriteConfig(_dir, warm);
        var port = PostgresServer.FreePort();
        var seed = $"akka.tcp://mnasnet@127.0.0.1:{P(port)}";
        var controller = Start("search", "--cluster", "--config", config, "--warm-start", source.Id, "--port", P(port), "--seed-nodes", seed);
        await controller.WaitForOutputAsync("member up", Bound);
        var worker = Start("node", "--roles", "trainer,device", "--config", config, "--seed-nodes", seed, "--port", P(PostgresServer.FreePort()), "--trainers", "1", "--devices", "1");

        var exit = await controller.WaitAsync(Bound);
        Assert.True(exit == 0, $"search --cluster --warm-start exited {exit}:\n{controller.Output}");
        Assert.Contains($"warm start from search {source.Id} (completed", controller.Output, StringComparison.Ordinal);
        Assert.Contains("completed: 12 trials", controller.Output, StringComparison.Ordinal);
        var events = PostgresJournal.ReadEvents(postgres.ConnectionString, warm.Id);
        var started = Assert.Single(events.Select(e => e.Event).OfType<SearchStarted>());
        // The chain's last link is the PostgreSQL source's own; all else is what the single-node warm start took.
        var fromCluster = WarmStartPlanner.Plan(warm, source.Id, PostgresJournal.ReadEvents(postgres.ConnectionString, source.Id)).Record;
        Assert.Equal(fromCluster, started.WarmStart);
        Assert.Equal(plan.Record with { SourceLastLink = fromCluster.SourceLastLink }, started.WarmStart);
        Assert.Equal(expected, Simulated.Fingerprint(warm.Id, events));
        Assert.False(worker.HasExited);
    }

    [Fact]
    public async Task A_cluster_warm_start_from_a_search_the_journal_does_not_hold_is_refused_and_journals_nothing()
    {
        var connection = _dir.File("pg.conn");
        await File.WriteAllTextAsync(connection, postgres.ConnectionString, TestContext.Current.CancellationToken);
        var config = Simulated.WriteConfig(_dir, Settings("warm-orphan", connection, batches: 1));

        var run = await InProcessCli.RunAsync("search", "--cluster", "--config", config, "--warm-start", "nothere", "--seed-nodes", "akka.tcp://mnasnet@127.0.0.1:1");

        Assert.Equal(MnasNet.Cli.ExitCodes.NotFound, run.ExitCode);
        Assert.Contains("no search 'nothere'", run.ErrorLine, StringComparison.Ordinal);
        Assert.Empty(PostgresJournal.ReadEvents(postgres.ConnectionString, "warm-orphan"));
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
