using System.Globalization;
using System.Text.Json;
using MnasNet.Actors.Decisions;
using MnasNet.Actors.Hosting;
using MnasNet.Actors.Journal;
using MnasNet.Actors.Protocol;
using MnasNet.Actors.Serialization;
using MnasNet.Actors.Settings;

namespace MnasNet.Cluster.Tests;

/// <summary>
/// <c>mnasnet train-final --cluster</c> with real processes: a controller-role node following the final run, trainer
/// nodes training the finalist from a checkpoint directory they all see, the search's PostgreSQL journal.
/// </summary>
public sealed class ClusterFinalTrainingTests(PostgresServer postgres) : IClassFixture<PostgresServer>, IDisposable
{
    private const int Epochs = 4;
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(180);
    private readonly TempDir _dir = new();
    private readonly List<MnasNetProcess> _processes = [];

    private static string P(int port) => port.ToString(CultureInfo.InvariantCulture);

    private MnasNetProcess Start(params string[] args)
    {
        var p = MnasNetProcess.Start(_dir.Path, args);
        _processes.Add(p);
        return p;
    }

    private string[] FinalOptions(string recipe) =>
        ["--top", "1", "--recipe", recipe, "--dataset", $"cifar10:{SyntheticCifar10.Directory}", "--resolution", "16", "--train-size", "512"];

    /// <summary>
    /// A finished simulated search in the cluster's journal, its cluster config (checkpoints in a shared directory),
    /// the recipe, and the epochs an uninterrupted single-node train-final of the same search journals.
    /// </summary>
    private async Task<(SearchSettings Settings, string Config, string Recipe, string Connection, IReadOnlyList<FinalEpoch> Expected)> PrepareAsync(string id, int epochs = Epochs)
    {
        var connection = _dir.File("pg.conn");
        await File.WriteAllTextAsync(connection, postgres.ConnectionString, TestContext.Current.CancellationToken);
        var shared = _dir.File("shared-checkpoints");
        var settings = Simulated.Settings(_dir.Path, id, batchSize: 4, batches: 2) with
        {
            Training = new TrainingSettings { Width = 0.25 },
            Journal = new JournalSettings { Directory = _dir.Path, SnapshotEvery = 2, Provider = "postgresql", ConnectionStringFile = connection },
            Workers = new WorkerSettings { Trainers = 1, Devices = 1, LeaseTimeoutSeconds = 30, PauseGraceSeconds = 5 },
            Logging = new LoggingSettings { Level = "Information", Console = true },
            Cluster = new ClusterSettings { StableAfterSeconds = 7, HeartbeatIntervalSeconds = 0.5, AcceptableHeartbeatPauseSeconds = 5, WorkRequestIntervalSeconds = 0.5 },
            Final = new FinalTrainingNodeSettings { CheckpointDir = shared },
        };
        Assert.Equal("completed", (await SearchRunner.RunAsync(settings, resume: false)).Status);
        var recipe = _dir.File("recipe.json");
        await File.WriteAllTextAsync(recipe, $$"""{ "batchSize": 32, "epochs": {{epochs}} }""", TestContext.Current.CancellationToken);

        // The same search on one node, trained uninterrupted: what the cluster's run must journal, epoch for epoch.
        var local = _dir.File("local");
        var single = settings with { Journal = new JournalSettings { Directory = local, Provider = "sqlite" }, Final = new FinalTrainingNodeSettings() };
        Assert.Equal("completed", (await SearchRunner.RunAsync(single, resume: false)).Status);
        var reference = await InProcessCli.RunAsync(["train-final", settings.Id, "--journal-dir", local, .. FinalOptions(recipe)]);
        Assert.True(reference.ExitCode == 0, reference.Error + reference.Output);
        var expected = JournalReader.ReadEvents(local, settings.Id).Select(e => e.Event).OfType<FinalEpochCompleted>().Select(e => e.Epoch).ToList();
        Assert.Equal(epochs, expected.Count);
        return (settings, Simulated.WriteConfig(_dir, settings), recipe, connection, expected);
    }

    private static void AssertEpochsAre(IReadOnlyList<FinalEpoch> expected, IEnumerable<FinalEpochCompleted> epochs) =>
        Assert.Equal(expected.Select(e => (e.Epoch, e.TrainLoss, e.Loss, e.Accuracy, e.CheckpointSha256)), epochs.Select(e => (e.Epoch.Epoch, e.Epoch.TrainLoss, e.Epoch.Loss, e.Epoch.Accuracy, e.Epoch.CheckpointSha256)));

    private async Task AssertStatusShowsOneTrainedFinalistAsync(string id, string connection)
    {
        var status = await InProcessCli.RunAsync("status", id, "--provider", "postgresql", "--connection-string-file", connection);
        Assert.True(status.ExitCode == 0, status.Error + status.Output);
        Assert.Contains("final       completed: 1/1 finalists trained, 0 failed", status.Output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_finalist_whose_trainer_node_is_killed_finishes_on_another_from_its_epoch_checkpoint_as_an_uninterrupted_run_would()
    {
        var (settings, config, recipe, connection, expected) = await PrepareAsync("final-cluster");
        var shared = settings.Final.CheckpointDir;
        var seedPort = PostgresServer.FreePort();
        var seed = $"akka.tcp://mnasnet@127.0.0.1:{P(seedPort)}";
        var controller = Start(["train-final", settings.Id, "--cluster", "--config", config, "--port", P(seedPort), "--seed-nodes", seed, .. FinalOptions(recipe)]);
        await controller.WaitForOutputAsync("member up", Bound);
        var victimPort = PostgresServer.FreePort();
        var victim = Start("node", "--roles", "trainer", "--config", config, "--seed-nodes", seed, "--port", P(victimPort), "--trainers", "1");
        var victimMarker = $"-{P(victimPort)}-";
        await WaitForJournalAsync(settings.Id, events => events.OfType<TrialDispatched>().Any(d => d.Kind == WorkKind.Final && d.Worker.Contains(victimMarker, StringComparison.Ordinal)), controller);
        var survivorPort = PostgresServer.FreePort();
        var survivor = Start("node", "--roles", "trainer", "--config", config, "--seed-nodes", seed, "--port", P(survivorPort), "--trainers", "1");
        await survivor.WaitForOutputAsync("member up", Bound);

        await WaitForJournalAsync(settings.Id, events => events.OfType<FinalEpochCompleted>().Any(e => e.Worker.Contains(victimMarker, StringComparison.Ordinal)), controller);
        victim.KillHard();
        var killedAt = DateTime.UtcNow;

        var exit = await controller.WaitAsync(Bound);
        Assert.True(exit == 0, $"train-final --cluster exited {exit}:\n{controller.Output}\nsurvivor:\n{survivor.Output}");
        var all = PostgresJournal.ReadEvents(postgres.ConnectionString, settings.Id).Select(e => e.Event).ToList();
        var epochs = all.OfType<FinalEpochCompleted>().ToList();
        // Each epoch journaled once: the victim's first epoch(s), then the survivor's from the checkpoint after them.
        Assert.Equal(Enumerable.Range(1, Epochs), epochs.Select(e => e.Epoch.Epoch));
        var survivorMarker = $"-{P(survivorPort)}-";
        var byVictim = epochs.TakeWhile(e => e.Worker.Contains(victimMarker, StringComparison.Ordinal)).Count();
        Assert.InRange(byVictim, 1, Epochs - 1);
        Assert.All(epochs.Skip(byVictim), e => Assert.Contains(survivorMarker, e.Worker, StringComparison.Ordinal));
        Assert.Contains(all.OfType<TrialLeaseExpired>(), x => x.Kind == WorkKind.Final && x.Worker.Contains(victimMarker, StringComparison.Ordinal) && x.Reason == "worker terminated");
        TestContext.Current.TestOutputHelper?.WriteLine(SinceKill(settings.Id, killedAt, "trainer node killed after epoch " + byVictim.ToString(CultureInfo.InvariantCulture)));
        var trained = Assert.Single(all.OfType<FinalTrained>());
        Assert.Contains(survivorMarker, trained.Worker, StringComparison.Ordinal);
        Assert.All(epochs, e => Assert.StartsWith(Path.Combine(shared, $"trial-{trained.TrialId}") + Path.DirectorySeparatorChar, e.Epoch.Checkpoint, StringComparison.Ordinal));

        // Resumed on another node from the journaled checkpoint, it trained exactly as the uninterrupted run.
        AssertEpochsAre(expected, epochs);
        Assert.Contains(string.Create(CultureInfo.InvariantCulture, $"{trained.TrialId,5}  trained      {Epochs,3}/{Epochs,-4}"), controller.Output, StringComparison.Ordinal);

        await AssertStatusShowsOneTrainedFinalistAsync(settings.Id, connection);
        var report = await InProcessCli.RunAsync("report", settings.Id, "--provider", "postgresql", "--connection-string-file", connection, "--out", _dir.File("report"), "--json");
        Assert.True(report.ExitCode == 0, report.Error + report.Output);
        using var doc = JsonDocument.Parse(report.Output);
        var finalist = Assert.Single(doc.RootElement.GetProperty("finalists").EnumerateArray());
        Assert.Equal(trained.TrialId, finalist.GetProperty("trialId").GetInt64());
        Assert.False(survivor.HasExited);
    }

    [Fact]
    public async Task A_final_run_whose_controller_node_is_killed_is_continued_by_another_controller_node_from_the_journal()
    {
        var (settings, config, recipe, connection, expected) = await PrepareAsync("final-failover");
        var seedPort = PostgresServer.FreePort();
        var seed = $"akka.tcp://mnasnet@127.0.0.1:{P(seedPort)}";
        var controller = Start(["train-final", settings.Id, "--cluster", "--config", config, "--port", P(seedPort), "--seed-nodes", seed, .. FinalOptions(recipe)]);
        await controller.WaitForOutputAsync("member up", Bound);
        // The run starts on the follower's own node: the only controller-role node when it asks.
        await controller.WaitForOutputAsync("final training of 1 finalists", Bound);
        var standby = Start("node", "--roles", "controller", "--config", config, "--seed-nodes", seed, "--port", P(PostgresServer.FreePort()));
        await standby.WaitForOutputAsync("member up", Bound);
        var trainer = Start("node", "--roles", "trainer", "--config", config, "--seed-nodes", seed, "--port", P(PostgresServer.FreePort()), "--trainers", "1");

        await WaitForJournalAsync(settings.Id, events => events.OfType<FinalEpochCompleted>().Any(), controller);
        controller.KillHard();
        var killedAt = DateTime.UtcNow;
        await WaitForJournalAsync(settings.Id, events => events.OfType<FinalTrained>().Any(), standby);
        TestContext.Current.TestOutputHelper?.WriteLine(SinceKill(settings.Id, killedAt, "controller node killed"));

        Assert.Contains("final training was running, continuing it on this node", standby.Output, StringComparison.Ordinal);
        var all = PostgresJournal.ReadEvents(postgres.ConnectionString, settings.Id).Select(e => e.Event).ToList();
        var runs = all.OfType<FinalRunStarted>().ToList();
        Assert.Equal(2, runs.Count);
        Assert.All(runs, r => Assert.Equal(settings.Final.CheckpointDir, r.CheckpointDirectory));
        Assert.Equal(1, runs[1].RequeuedInFlight);
        var epochs = all.OfType<FinalEpochCompleted>().ToList();
        Assert.Equal(Enumerable.Range(1, Epochs), epochs.Select(e => e.Epoch.Epoch));
        Assert.Contains(epochs, e => e.Attempt == 2);
        AssertEpochsAre(expected, epochs);
        Assert.Single(all.OfType<FinalTrained>());
        await AssertStatusShowsOneTrainedFinalistAsync(settings.Id, connection);
        Assert.False(trainer.HasExited);
    }

    [Fact]
    public async Task A_final_run_paused_from_another_member_continues_with_the_same_command_after_its_last_journaled_epoch()
    {
        // Epochs enough that the pause (a new member joining) lands long before the end.
        const int epochs = 12;
        var (settings, config, recipe, connection, expected) = await PrepareAsync("final-pause", epochs);
        var seedPort = PostgresServer.FreePort();
        var seed = $"akka.tcp://mnasnet@127.0.0.1:{P(seedPort)}";
        string[] command = ["train-final", settings.Id, "--cluster", "--config", config, "--port", P(seedPort), "--seed-nodes", seed, .. FinalOptions(recipe)];
        var controller = Start(command);
        await controller.WaitForOutputAsync("member up", Bound);
        var trainerPort = PostgresServer.FreePort();
        var trainer = Start("node", "--roles", "trainer", "--config", config, "--seed-nodes", seed, "--port", P(trainerPort), "--trainers", "1");
        await WaitForJournalAsync(settings.Id, events => events.OfType<FinalEpochCompleted>().Any(), controller);

        // No grace: the finalist in training is abandoned at once, to continue after its last journaled epoch.
        var pause = Start("pause", settings.Id, "--cluster", "--config", config, "--seed-nodes", seed, "--grace", "0", "--wait", "60");
        var paused = await pause.WaitAsync(Bound);
        Assert.True(paused == 0, $"pause exited {paused}:\n{pause.Output}\ncontroller:\n{controller.Output}");
        Assert.Contains($"search {settings.Id} stopped: paused", pause.Output, StringComparison.Ordinal);
        Assert.Equal(MnasNet.Cli.ExitCodes.Cancelled, await controller.WaitAsync(Bound));
        Assert.Contains($"final training of search {settings.Id} paused", controller.Output, StringComparison.Ordinal);
        var before = PostgresJournal.ReadEvents(postgres.ConnectionString, settings.Id).Select(e => e.Event).ToList();
        Assert.IsType<FinalRunPaused>(before[^1]);
        Assert.InRange(before.OfType<FinalEpochCompleted>().Count(), 1, epochs - 1);

        // The trainer node is the cluster now.
        var again = Start(["train-final", settings.Id, "--cluster", "--config", config, "--port", P(PostgresServer.FreePort()), "--seed-nodes", $"akka.tcp://mnasnet@127.0.0.1:{P(trainerPort)}", .. FinalOptions(recipe)]);
        var exit = await again.WaitAsync(Bound);
        Assert.True(exit == 0, $"train-final --cluster exited {exit}:\n{again.Output}\ntrainer:\n{trainer.Output}");
        var all = PostgresJournal.ReadEvents(postgres.ConnectionString, settings.Id).Select(e => e.Event).ToList();
        var done = all.OfType<FinalEpochCompleted>().ToList();
        Assert.Equal(Enumerable.Range(1, epochs), done.Select(e => e.Epoch.Epoch));
        AssertEpochsAre(expected, done);
        Assert.Single(all.OfType<FinalTrained>());
        await AssertStatusShowsOneTrainedFinalistAsync(settings.Id, connection);
    }

    [Fact]
    public async Task Bad_cluster_inputs_are_named_and_journal_nothing_a_checkpoint_directory_every_node_sees_first()
    {
        var connection = _dir.File("pg.conn");
        await File.WriteAllTextAsync(connection, postgres.ConnectionString, TestContext.Current.CancellationToken);
        var settings = Simulated.Settings(_dir.Path, "final-nodir", batchSize: 4, batches: 1) with
        {
            Journal = new JournalSettings { Directory = _dir.Path, Provider = "postgresql", ConnectionStringFile = connection },
        };
        Assert.Equal("completed", (await SearchRunner.RunAsync(settings, resume: false)).Status);
        var config = Simulated.WriteConfig(_dir, settings);
        var before = PostgresJournal.ReadEvents(postgres.ConnectionString, settings.Id).Count;

        var run = await InProcessCli.RunAsync("train-final", settings.Id, "--cluster", "--config", config, "--seed-nodes", "akka.tcp://mnasnet@127.0.0.1:1", "--top", "1");
        Assert.Equal(MnasNet.Cli.ExitCodes.InvalidInput, run.ExitCode);
        Assert.Contains("set final.checkpointDir or pass --checkpoint-dir", run.ErrorLine, StringComparison.Ordinal);
        var missing = await InProcessCli.RunAsync("train-final", "nope", "--cluster", "--config", config, "--seed-nodes", "akka.tcp://mnasnet@127.0.0.1:1", "--checkpoint-dir", _dir.File("c"));
        Assert.Equal(MnasNet.Cli.ExitCodes.NotFound, missing.ExitCode);
        Assert.Contains("no search 'nope' in the PostgreSQL journal", missing.ErrorLine, StringComparison.Ordinal);
        var local = await InProcessCli.RunAsync("train-final", settings.Id, "--seed-nodes", "akka.tcp://mnasnet@127.0.0.1:1", "--top", "1");
        Assert.Equal((MnasNet.Cli.ExitCodes.InvalidInput, "error: --seed-nodes needs --cluster (without it the finalists train on this machine's own trainers)"), (local.ExitCode, local.ErrorLine));
        Assert.Equal(before, PostgresJournal.ReadEvents(postgres.ConnectionString, settings.Id).Count);
    }

    [Fact]
    public void The_start_of_a_final_run_crosses_nodes_intact()
    {
        var plan = new FinalTrainingPlan([new FinalCandidate(3, [1, 2, 3], "arch-3", 42UL, 0.5, 0.4)], """{"epochs":2}""", 2, "fashion-mnist", 16, 128, "/shared/ckpt");
        var start = new StartFinalTraining("s", "{}", plan);

        var back = (StartFinalTraining)SearchJson.FromBinary(SearchJson.ToBinary(start), SearchJson.Manifest(start));

        Assert.Equal("start-final-training.v1", SearchJson.Manifest(start));
        Assert.Equal((start.SearchId, start.SettingsJson, plan with { Candidates = [] }), (back.SearchId, back.SettingsJson, back.Plan with { Candidates = [] }));
        var c = Assert.Single(back.Plan.Candidates);
        Assert.Equal((3L, "arch-3", 42UL, 0.5, 0.4), (c.TrialId, c.ArchitectureId, c.TrialSeed, c.ProxyAccuracy, c.ProxyReward));
        Assert.Equal([1, 2, 3], c.Tokens);
    }

    /// <summary>When the journal heard of the kill (lease expired, run re-started) and of the epochs after it, in seconds.</summary>
    private string SinceKill(string id, DateTime killedAt, string what)
    {
        var after = PostgresJournal.ReadEvents(postgres.ConnectionString, id).Where(e => e.WrittenAt > killedAt).ToList();
        string At(Func<ISearchEvent, bool> which) => after.FirstOrDefault(e => which(e.Event))?.WrittenAt is { } t
            ? (t - killedAt).TotalSeconds.ToString("F1", CultureInfo.InvariantCulture) + " s" : "-";
        return $"{what}: lease expired {At(e => e is TrialLeaseExpired)}, final run re-started {At(e => e is FinalRunStarted)}, "
            + $"next epoch journaled {At(e => e is FinalEpochCompleted)}, trained {At(e => e is FinalTrained)} after the kill";
    }

    private async Task WaitForJournalAsync(string id, Func<IReadOnlyList<ISearchEvent>, bool> condition, MnasNetProcess watched)
    {
        var deadline = DateTime.UtcNow + Bound;
        bool Reached() => condition(PostgresJournal.ReadEvents(postgres.ConnectionString, id).Select(e => e.Event).ToList());
        while (!Reached())
        {
            Assert.True(DateTime.UtcNow < deadline && !watched.HasExited, $"journal of {id} did not reach the expected state; output:\n{watched.Output}");
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
