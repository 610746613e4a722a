using System.Globalization;
using MnasNet.Actors.Hosting;
using MnasNet.Actors.Journal;
using MnasNet.Actors.Protocol;
using MnasNet.Actors.Settings;

namespace MnasNet.Cluster.Tests;

/// <summary>
/// Real `mnasnet` processes on 127.0.0.1: a controller node (search --cluster, the seed), trainer and device nodes,
/// a real PostgreSQL journal. Synchronised on cluster membership lines and journal contents, never on sleeps.
/// </summary>
public sealed class ClusterProcessTests(PostgresServer postgres) : IClassFixture<PostgresServer>, IDisposable
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(120);
    private readonly TempDir _dir = new();
    private readonly List<MnasNetProcess> _processes = [];

    private Dictionary<string, string> Environment => new() { [PostgresJournal.ConnectionEnvironmentVariable] = postgres.ConnectionString };

    private SearchSettings Settings(string id, double trainSeconds, int batches = 3) =>
        Simulated.Settings(_dir.Path, id, batchSize: 6, batches: batches, trainSeconds: trainSeconds) with
        {
            // The factorised policy keeps four processes from each loading libtorch on 2 shared cores.
            Strategy = "ppo-tabular",
            Journal = new JournalSettings { Directory = _dir.Path, SnapshotEvery = 2, Provider = "postgresql" },
            Workers = new WorkerSettings { Trainers = 1, Devices = 1, LeaseTimeoutSeconds = Math.Max(3, trainSeconds * 4), PauseGraceSeconds = 5 },
            // Node logs in the process output, so a failure message shows the cluster's view.
            Logging = new LoggingSettings { Level = "Information", Console = true },
            Cluster = new ClusterSettings { StableAfterSeconds = 7, HeartbeatIntervalSeconds = 0.5, AcceptableHeartbeatPauseSeconds = 5, WorkRequestIntervalSeconds = 0.5 },
        };

    private MnasNetProcess Start(params string[] args) => Start([], args);

    private MnasNetProcess Start(Dictionary<string, string> environment, params string[] args)
    {
        var p = MnasNetProcess.Start(_dir.Path, new Dictionary<string, string>(Environment.Concat(environment)), args);
        _processes.Add(p);
        return p;
    }

    private static string P(int port) => port.ToString(CultureInfo.InvariantCulture);

    private (MnasNetProcess Controller, string Seed) StartController(string config, string id)
    {
        var port = PostgresServer.FreePort();
        var seed = $"akka.tcp://mnasnet@127.0.0.1:{P(port)}";
        return (Start("search", "--cluster", "--config", config, "--id", id, "--port", P(port), "--seed-nodes", seed), seed);
    }

    private MnasNetProcess StartWorker(string config, string seed, string roles, out int port)
    {
        port = PostgresServer.FreePort();
        return Start("node", "--roles", roles, "--config", config, "--seed-nodes", seed, "--port", P(port), "--trainers", "1", "--devices", "1");
    }

    /// <summary>
    /// A controller, a trainer node (the one a test stops) and a trainer + device node, all members: with three,
    /// keep-majority keeps the controller's side when one node goes (with two, the side with the lowest address would
    /// survive, possibly the stopped one's).
    /// </summary>
    private async Task<(MnasNetProcess Controller, MnasNetProcess Trainer, int TrainerPort, MnasNetProcess Worker)> StartControllerTrainerAndWorkerAsync(string config, string id)
    {
        var (controller, seed) = StartController(config, id);
        var trainer = StartWorker(config, seed, "trainer", out var port);
        await trainer.WaitForOutputAsync("member up", Bound);
        var worker = StartWorker(config, seed, "trainer,device", out _);
        await worker.WaitForOutputAsync("member up", Bound);
        return (controller, trainer, port, worker);
    }

    private async Task<(string Trials, string Hash)> SingleNodeFingerprintAsync(SearchSettings settings)
    {
        var single = settings with { Id = settings.Id + "-single", Journal = settings.Journal with { Provider = "sqlite" }, Simulation = settings.Simulation with { TrainSeconds = 0 } };
        var outcome = await SearchRunner.RunAsync(single, resume: false);
        Assert.Equal("completed", outcome.Status);
        return Simulated.Fingerprint(_dir.Path, single.Id);
    }

    [Fact]
    public async Task ControllerTwoTrainersAndADeviceMatchTheSingleNodeSearch()
    {
        // Trials long enough (0.2 s) that one trainer cannot drain the batch before the other one asks.
        var settings = Settings("cluster-a", trainSeconds: 0.2);
        var config = Simulated.WriteConfig(_dir, settings);
        var expected = await SingleNodeFingerprintAsync(settings);

        var (controller, seed) = StartController(config, settings.Id);
        await controller.WaitForOutputAsync("member up", Bound);
        var trainers = new[] { StartWorker(config, seed, "trainer", out var p1), StartWorker(config, seed, "trainer", out var p2) };
        var device = StartWorker(config, seed, "device", out _);
        foreach (var node in trainers.Append(device))
        {
            await node.WaitForOutputAsync("member up", Bound);
        }

        Assert.Equal(0, await controller.WaitAsync(Bound));
        Assert.Contains("completed: 18 trials", controller.Output);
        var events = PostgresJournal.ReadEvents(postgres.ConnectionString, settings.Id);
        Assert.Equal(expected, Simulated.Fingerprint(settings.Id, events));
        // Work really was spread: both trainer nodes trained trials.
        var trainedOn = events.Select(e => e.Event).OfType<TrialTrained>().Select(t => t.Worker).ToList();
        Assert.Contains(trainedOn, w => w.Contains($"-{P(p1)}-", StringComparison.Ordinal));
        Assert.Contains(trainedOn, w => w.Contains($"-{P(p2)}-", StringComparison.Ordinal));
    }

    [Fact]
    public async Task KilledTrainerNodesTrialIsDispatchedAgainAndEveryTrialHasOneResult()
    {
        var settings = Settings("cluster-b", trainSeconds: 1.0);
        var config = Simulated.WriteConfig(_dir, settings);
        var expected = await SingleNodeFingerprintAsync(settings);

        var (controller, victim, victimPort, survivor) = await StartControllerTrainerAndWorkerAsync(config, settings.Id);

        // Kill the victim while it holds a trial: a dispatch to it without a result yet.
        var marker = $"-{P(victimPort)}-";
        var deadline = DateTime.UtcNow + Bound;
        long? killedTrial = null;
        while (killedTrial is null)
        {
            Assert.True(DateTime.UtcNow < deadline, $"no trial dispatched to the victim; controller output:\n{controller.Output}");
            var events = PostgresJournal.ReadEvents(postgres.ConnectionString, settings.Id).Select(e => e.Event).ToList();
            var trained = events.OfType<TrialTrained>().Select(t => t.TrialId).ToHashSet();
            killedTrial = events.OfType<TrialDispatched>().Where(d => d.Kind == WorkKind.Train && d.Worker.Contains(marker, StringComparison.Ordinal) && !trained.Contains(d.TrialId))
                .Select(d => (long?)d.TrialId).FirstOrDefault();
            if (killedTrial is null)
            {
                await Task.Delay(25, TestContext.Current.CancellationToken);
            }
        }
        victim.KillHard();

        Assert.Equal(0, await controller.WaitAsync(Bound));
        var all = PostgresJournal.ReadEvents(postgres.ConnectionString, settings.Id).Select(e => e.Event).ToList();
        var results = all.OfType<TrialTrained>().GroupBy(t => t.TrialId).ToList();
        Assert.Equal(18, results.Count);
        Assert.All(results, g => Assert.Single(g));
        Assert.Equal(18, all.OfType<LatencyMeasured>().Count());
        // The trial(s) the victim held when it died (read from the final journal: the victim may have finished the
        // trial seen above just before the kill and started another): lease expired, trained once, elsewhere.
        var trainedByVictim = all.OfType<TrialTrained>().Where(t => t.Worker.Contains(marker, StringComparison.Ordinal)).Select(t => t.TrialId).ToHashSet();
        var lost = all.OfType<TrialDispatched>().Where(d => d.Kind == WorkKind.Train && d.Worker.Contains(marker, StringComparison.Ordinal) && !trainedByVictim.Contains(d.TrialId))
            .Select(d => d.TrialId).Distinct().ToList();
        Assert.NotEmpty(lost);
        Assert.All(lost, id =>
        {
            Assert.Contains(all.OfType<TrialLeaseExpired>(), x => x.TrialId == id && x.Worker.Contains(marker, StringComparison.Ordinal));
            Assert.DoesNotContain(results.Single(g => g.Key == id), t => t.Worker.Contains(marker, StringComparison.Ordinal));
        });
        Assert.Equal(expected, Simulated.Fingerprint(settings.Id, PostgresJournal.ReadEvents(postgres.ConnectionString, settings.Id)));
        Assert.False(survivor.HasExited);
    }

    [Fact]
    public async Task TrainerNodeLeavingOnSigtermHandsItsTrialBackAtOnce()
    {
        // A lease far longer than the test: only the graceful leave (the controller sees the worker stop) can free it.
        // Trials long enough that the SIGTERM lands while the leaving worker still trains the one it was seen to hold
        // (with 1 s trials a loaded machine sometimes let it finish first, and nothing was handed back).
        var settings = Settings("cluster-g", trainSeconds: 3.0, batches: 2) with
        {
            Workers = new WorkerSettings { Trainers = 1, Devices = 1, LeaseTimeoutSeconds = 600, PauseGraceSeconds = 5 },
        };
        var config = Simulated.WriteConfig(_dir, settings);
        var (controller, leaving, leavingPort, _) = await StartControllerTrainerAndWorkerAsync(config, settings.Id);

        var marker = $"-{P(leavingPort)}-";
        await WaitForJournalAsync(settings.Id, events =>
        {
            var trained = events.OfType<TrialTrained>().Select(t => t.TrialId).ToHashSet();
            return events.OfType<TrialDispatched>().Any(d => d.Kind == WorkKind.Train && d.Worker.Contains(marker, StringComparison.Ordinal) && !trained.Contains(d.TrialId));
        }, controller);
        leaving.Terminate();

        Assert.Equal(0, await leaving.WaitAsync(Bound));
        Assert.Equal(0, await controller.WaitAsync(Bound));
        var all = PostgresJournal.ReadEvents(postgres.ConnectionString, settings.Id).Select(e => e.Event).ToList();
        // Offers that crossed a request the worker had already withdrawn are declined; none waited for the lease.
        var released = all.OfType<TrialLeaseExpired>().Where(x => x.Worker.Contains(marker, StringComparison.Ordinal)).ToList();
        Assert.Contains(released, x => x.Reason == "worker terminated");
        Assert.All(released, x => Assert.True(x.Reason == "worker terminated" || x.Reason.StartsWith("declined by the worker", StringComparison.Ordinal), x.Reason));
        var trained = all.OfType<TrialTrained>().GroupBy(t => t.TrialId).ToList();
        Assert.Equal(12, trained.Count);
        Assert.All(trained, g => Assert.Single(g));
    }

    [Fact]
    public async Task SearchContinuesOnAStandbyControllerWithOtherKernelsAndThreadsWhenTheControllerNodeIsKilled()
    {
        // The LSTM policy, whose last bits depend on kernels and threads: the standby cannot re-derive the killed
        // node's updates bit for bit, so it must go on from the journaled policy states.
        var settings = Settings("cluster-c", trainSeconds: 0.3, batches: 4) with { Strategy = "ppo", Policy = new PolicySettings { Engine = MnasNet.Controller.ControllerEngines.Libtorch } };
        var config = Simulated.WriteConfig(_dir, settings);

        var port = PostgresServer.FreePort();
        var seed = $"akka.tcp://mnasnet@127.0.0.1:{P(port)}";
        var controller = Start(new Dictionary<string, string> { ["ATEN_CPU_CAPABILITY"] = "avx2" }, "search", "--cluster", "--config", config, "--id", settings.Id, "--port", P(port), "--seed-nodes", seed);
        await controller.WaitForOutputAsync("member up", Bound);
        await WaitForJournalAsync(settings.Id, events => events.Count > 0, controller);
        var standby = Start(new Dictionary<string, string> { ["ATEN_CPU_CAPABILITY"] = "default" }, "search", "--cluster", "--resume", "--config", config, "--id", settings.Id, "--port", P(PostgresServer.FreePort()),
            "--seed-nodes", seed, "--set", "controller.threads=2");
        await standby.WaitForOutputAsync("member up", Bound);
        var worker = Start("node", "--roles", "trainer,device", "--config", config, "--seed-nodes", seed, "--port", P(PostgresServer.FreePort()), "--trainers", "2", "--devices", "1");

        await WaitForJournalAsync(settings.Id, events => events.OfType<PolicyUpdated>().Any() && events.OfType<TrialTrained>().Count() >= 8, controller);
        var clock = System.Diagnostics.Stopwatch.StartNew();
        controller.KillHard();
        var before = PostgresJournal.ReadEvents(postgres.ConnectionString, settings.Id).Count;
        await WaitForJournalAsync(settings.Id, events => events.Skip(before).OfType<SearchResumed>().Any(), standby);
        var resumedAfter = clock.Elapsed;
        await WaitForJournalAsync(settings.Id, events => events.Skip(before).OfType<TrialTrained>().Any(), standby);
        var trainingAgainAfter = clock.Elapsed;
        TestContext.Current.TestOutputHelper?.WriteLine($"controller node killed: search resumed on the standby after {resumedAfter.TotalSeconds:F1} s, first new result after {trainingAgainAfter.TotalSeconds:F1} s");

        Assert.Equal(0, await standby.WaitAsync(Bound));
        Assert.Contains("completed: 24 trials", standby.Output);
        var all = PostgresJournal.ReadEvents(postgres.ConnectionString, settings.Id).Select(e => e.Event).ToList();
        var trained = all.OfType<TrialTrained>().GroupBy(t => t.TrialId).ToList();
        Assert.Equal(24, trained.Count);
        Assert.All(trained, g => Assert.Single(g));
        Assert.Equal(24, all.OfType<RewardComputed>().Select(r => r.TrialId).Distinct().Count());
        Assert.Equal(24, all.OfType<RewardComputed>().Count());
        var platforms = all.OfType<PolicyUpdated>().Select(p => p.Policy!.Platform).ToList();
        Assert.Equal(4, platforms.Count);
        Assert.Contains(platforms, p => p is { Kernels: "avx2", Threads: 1 });
        Assert.Contains(platforms, p => p is { Kernels: "default", Threads: 2 });

        // This test process is a third setting (the CPU's best kernels, one thread).
        var connection = _dir.File("pg.conn");
        await File.WriteAllTextAsync(connection, postgres.ConnectionString, TestContext.Current.CancellationToken);
        var replay = await InProcessCli.RunAsync("replay", settings.Id, "--provider", "postgresql", "--connection-string-file", connection, "--verify", "--rows", "0");
        Assert.True(replay.ExitCode == MnasNet.Cli.ExitCodes.Success, replay.Output + replay.Error);
        Assert.Contains("4/4 updates reproduced", replay.Output, StringComparison.Ordinal);
        Assert.Contains("on a different platform", replay.Output, StringComparison.Ordinal);
        Assert.False(worker.HasExited);
    }

    [Fact]
    public async Task TwoSearchesAtOnceShareTheWorkersAndStayIndependent()
    {
        // Different seeds: the simulated objective is seeded by the search, so a worker that used the other search's
        // settings would produce other accuracies and break the fingerprint.
        var first = Settings("cluster-d1", trainSeconds: 0.1);
        var second = Settings("cluster-d2", trainSeconds: 0.1, batches: 2) with { Seed = 99, Reward = new RewardSettings { Preset = RewardExponents.Hard, TargetMs = 1.0 } };
        var firstConfig = Simulated.WriteConfig(_dir, first);
        var secondConfig = Simulated.WriteConfig(_dir, second);
        var expectedFirst = await SingleNodeFingerprintAsync(first);
        var expectedSecond = await SingleNodeFingerprintAsync(second);

        var (a, seed) = StartController(firstConfig, first.Id);
        await a.WaitForOutputAsync("member up", Bound);
        var b = Start("search", "--cluster", "--config", secondConfig, "--id", second.Id, "--port", P(PostgresServer.FreePort()), "--seed-nodes", seed);
        // The worker node has the first search's config only: the second's settings reach it with its work.
        var worker = Start("node", "--roles", "trainer,device", "--config", firstConfig, "--seed-nodes", seed, "--port", P(PostgresServer.FreePort()), "--trainers", "2", "--devices", "1");

        Assert.Equal(0, await a.WaitAsync(Bound));
        Assert.Equal(0, await b.WaitAsync(Bound));
        Assert.Contains("completed: 18 trials", a.Output);
        Assert.Contains("completed: 12 trials", b.Output);
        var firstEvents = PostgresJournal.ReadEvents(postgres.ConnectionString, first.Id);
        var secondEvents = PostgresJournal.ReadEvents(postgres.ConnectionString, second.Id);
        Assert.Equal(expectedFirst, Simulated.Fingerprint(first.Id, firstEvents));
        Assert.Equal(expectedSecond, Simulated.Fingerprint(second.Id, secondEvents));
        foreach (var events in new[] { firstEvents, secondEvents })
        {
            var trained = events.Select(e => e.Event).OfType<TrialTrained>().GroupBy(t => t.TrialId).ToList();
            Assert.All(trained, g => Assert.Single(g));
            Assert.Contains(events.Select(e => e.Event).OfType<TrialTrained>(), t => t.Worker.StartsWith("trainer-127.0.0.1-", StringComparison.Ordinal));
        }
        Assert.False(worker.HasExited);
    }

    [Fact]
    public async Task EveryTrialIsMeasuredOnADeviceOfEachTargetPlatformAndNowhereElse()
    {
        var settings = Settings("cluster-f", trainSeconds: 0.05, batches: 2) with
        {
            Latency = new LatencySettings { Target = "simulated:name=big@80;simulated:name=little@40" },
        };
        var config = Simulated.WriteConfig(_dir, settings);
        var (controller, seed) = StartController(config, settings.Id);
        await controller.WaitForOutputAsync("member up", Bound);
        var port = PostgresServer.FreePort();
        var node = Start("node", "--roles", "trainer,device", "--config", config, "--seed-nodes", seed, "--port", P(port), "--trainers", "1",
            "--device", "simulated:name=little", "--device", "simulated:name=other", "--device", "simulated:name=big");

        Assert.Equal(0, await controller.WaitAsync(Bound));
        var events = PostgresJournal.ReadEvents(postgres.ConnectionString, settings.Id).Select(e => e.Event).ToList();
        var measured = events.OfType<LatencyMeasured>().ToList();
        Assert.Equal(24, measured.Count);
        Assert.All(measured.GroupBy(m => m.TrialId), g => Assert.Equal([0, 1], g.Select(m => m.Target).Order()));
        // Device workers are numbered in --device order: little = 0, other = 1 (satisfies no target), big = 2.
        Assert.All(measured, m => Assert.EndsWith(m.Target == 0 ? $"-{P(port)}-2" : $"-{P(port)}-0", m.Worker, StringComparison.Ordinal));
        var rewards = events.OfType<RewardComputed>().ToList();
        Assert.Equal(12, rewards.Count);
        Assert.All(rewards, r => Assert.Equal(["simulated:name=big", "simulated:name=little"], r.Inputs.Devices!.Select(d => d.Platform)));
        Assert.False(node.HasExited);
    }

    [Fact]
    public async Task PauseFromAnotherMemberThenResumeCompletesLikeTheSingleNodeSearch()
    {
        // One trainer, 24 trials of 1 s: the pause (a new member joining) lands long before the end.
        var settings = Settings("cluster-h", trainSeconds: 1.0, batches: 4);
        var config = Simulated.WriteConfig(_dir, settings);
        var expected = await SingleNodeFingerprintAsync(settings);

        var (controller, seed) = StartController(config, settings.Id);
        await controller.WaitForOutputAsync("member up", Bound);
        var worker = StartWorker(config, seed, "trainer,device", out var workerPort);
        await WaitForJournalAsync(settings.Id, events => events.OfType<TrialTrained>().Count() >= 2, controller);

        var pause = Start("pause", settings.Id, "--cluster", "--config", config, "--seed-nodes", seed, "--grace", "5", "--wait", "60");
        var paused0 = await pause.WaitAsync(Bound);
        Assert.True(paused0 == 0, $"pause exited {paused0}:\n{pause.Output}\ncontroller:\n{controller.Output}");
        Assert.Contains($"search {settings.Id} stopped: paused", pause.Output);
        Assert.Equal(0, await controller.WaitAsync(Bound));
        Assert.Contains("paused after", controller.Output);
        var paused = PostgresJournal.ReadEvents(postgres.ConnectionString, settings.Id).Select(e => e.Event).ToList();
        Assert.IsType<SearchPaused>(paused[^1]);
        Assert.True(paused.OfType<RewardComputed>().Count() < 24);

        // The controller process is gone with the seed: the worker node is the cluster now.
        var resumed = Start("search", "--cluster", "--resume", "--config", config, "--id", settings.Id, "--port", P(PostgresServer.FreePort()),
            "--seed-nodes", $"akka.tcp://mnasnet@127.0.0.1:{P(workerPort)}");
        Assert.Equal(0, await resumed.WaitAsync(Bound));
        Assert.Contains("completed: 24 trials", resumed.Output);
        var all = PostgresJournal.ReadEvents(postgres.ConnectionString, settings.Id);
        Assert.Equal(expected, Simulated.Fingerprint(settings.Id, all));
        Assert.False(worker.HasExited);
    }

    [Fact]
    public async Task PostgresOutageMidSearchIsWaitedOutAndNothingIsLost()
    {
        var settings = Settings("cluster-e", trainSeconds: 0.2, batches: 4);
        var config = Simulated.WriteConfig(_dir, settings);
        var expected = await SingleNodeFingerprintAsync(settings);

        var (controller, seed) = StartController(config, settings.Id);
        await controller.WaitForOutputAsync("member up", Bound);
        var worker = StartWorker(config, seed, "trainer,device", out _);
        await WaitForJournalAsync(settings.Id, events => events.OfType<TrialTrained>().Count() >= 6, controller);

        await postgres.StopAsync();
        // The outage is real: the controller failed to write (or, restarting, to read) its journal.
        await controller.WaitForOutputAsync("journal write failed", Bound);
        await postgres.StartAsync();
        // This test process's own pooled connections died with the server.
        Npgsql.NpgsqlConnection.ClearAllPools();

        Assert.Equal(0, await controller.WaitAsync(Bound));
        Assert.Contains("completed: 24 trials", controller.Output);
        var all = PostgresJournal.ReadEvents(postgres.ConnectionString, settings.Id);
        var trained = all.Select(e => e.Event).OfType<TrialTrained>().GroupBy(t => t.TrialId).ToList();
        Assert.Equal(24, trained.Count);
        Assert.All(trained, g => Assert.Single(g));
        Assert.Equal(Enumerable.Range(1, all.Count).Select(i => (long)i), all.Select(e => e.SequenceNr));
        Assert.Equal(expected, Simulated.Fingerprint(settings.Id, all));
        Assert.False(worker.HasExited);
    }

    private async Task WaitForJournalAsync(string id, Func<IReadOnlyList<ISearchEvent>, bool> condition, MnasNetProcess watched)
    {
        var deadline = DateTime.UtcNow + Bound;
        bool Reached() => condition(PostgresJournal.ReadEvents(postgres.ConnectionString, id).Select(e => e.Event).ToList());
        while (!Reached())
        {
            // A process that exited between the read and this check may have written the awaited events last.
            Assert.True(DateTime.UtcNow < deadline && (!watched.HasExited || Reached()), $"journal of {id} did not reach the expected state; output:\n{watched.Output}");
            if (watched.HasExited)
            {
                return;
            }
            await Task.Delay(50, TestContext.Current.CancellationToken);
        }
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
