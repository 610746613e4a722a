using MnasNet.Actors.Hosting;
using MnasNet.Actors.Journal;
using MnasNet.Actors.Protocol;
using MnasNet.Actors.Settings;
using MnasNet.Actors.Timing;

namespace MnasNet.Actors.Tests;

/// <summary>
/// Simulated searches on the virtual clock: the real controller, workers, leases and SQLite journal, with durations,
/// timers and timestamps in virtual time.
/// </summary>
public sealed class VirtualClockTests
{
    private static SearchSettings Fixed(string dir, string id, int batchSize, int batches, int trainers, int devices, double trainSeconds, double measureSeconds) =>
        Simulated.Settings(dir, id, batchSize, batches) with
        {
            Strategy = "ppo-tabular",
            Simulation = new SimulationSettings { TrainSeconds = trainSeconds, MeasureSeconds = measureSeconds },
            Workers = new WorkerSettings { Trainers = trainers, Devices = devices, LeaseTimeoutSeconds = 10 * Math.Max(trainSeconds, measureSeconds) + 10, PauseGraceSeconds = 10 },
        };

    private static async Task<SearchOutcome> Run(SearchSettings settings, bool resume = false)
    {
        var outcome = await SearchRunner.RunAsync(settings, resume).WaitAsync(TimeSpan.FromMinutes(3));
        Assert.Equal("completed", outcome.Status);
        return outcome;
    }

    /// <summary>
    /// The search hosted as <see cref="SearchRunner"/> hosts it (AddMnasNetSearch, a virtual clock), its actor system
    /// terminated under it once <paramref name="rewards"/> rewards are journaled; false if it completed first.
    /// </summary>
    private static IReadOnlyList<ISearchEvent> Events(string dir, string id) => [.. JournalReader.ReadEvents(dir, id).Select(e => e.Event)];

    [Fact]
    public async Task Virtual_and_real_clocks_give_the_same_trials_rewards_and_policy_hashes()
    {
        using var dir = new TempDir();
        var real = Simulated.Settings(dir.Path, "real", batchSize: 4, batches: 3, trainSeconds: 0.02, clock: SimulationClock.Real);
        var virtualRun = real with { Id = "virtual", Simulation = real.Simulation with { Clock = SimulationClock.Virtual } };
        var realOutcome = await Run(real);
        var virtualOutcome = await Run(virtualRun);

        Assert.Equal(Simulated.Fingerprint(dir.Path, "real"), Simulated.Fingerprint(dir.Path, "virtual"));
        Assert.Null(realOutcome.VirtualElapsed);
        // 3 batches of 4 trials on 2 trainers: 2 rounds of 0.02 s each per batch, measuring takes no time.
        Assert.Equal(TimeSpan.FromSeconds(3 * 2 * 0.02), virtualOutcome.VirtualElapsed);
        var events = Events(dir.Path, "virtual");
        Assert.Equal(Decisions.SearchDecider<string>.VirtualClock, ((SearchStarted)events[0]).Clock);
        Assert.All(events.OfType<TrialTrained>(), t => Assert.NotNull(t.At));
        Assert.Null(((SearchStarted)Events(dir.Path, "real")[0]).Clock);
        Assert.All(Events(dir.Path, "real").OfType<TrialTrained>(), t => Assert.Null(t.At));
    }

    [Fact]
    public async Task Makespan_of_640_trials_of_60_seconds_on_64_trainers_is_ten_minutes()
    {
        using var dir = new TempDir();
        var settings = Fixed(dir.Path, "makespan", batchSize: 64, batches: 10, trainers: 64, devices: 64, trainSeconds: 60, measureSeconds: 0);
        var outcome = await Run(settings);

        Assert.Equal(TimeSpan.FromSeconds(640 * 60 / 64), outcome.VirtualElapsed);
        var events = Events(dir.Path, "makespan");
        var started = ((SearchStarted)events[0]).At;
        Assert.Equal(TimeSpan.FromSeconds(600), events.OfType<SearchCompleted>().Single().At - started);
        Assert.Equal(640, events.OfType<TrialTrained>().Count());
        // Batch b trains from 60·b s to 60·(b + 1) s, every trial of it at once.
        Assert.All(events.OfType<TrialTrained>(), t => Assert.Equal(TimeSpan.FromSeconds(60 * ((t.TrialId / 64) + 1)), t.At!.Value - started));
        Assert.True(outcome.Elapsed < TimeSpan.FromMinutes(2), $"10 virtual minutes took {outcome.Elapsed} of wall time");

        foreach (var command in new[] { new[] { "status" }, ["report", "--out", dir.File("report")] })
        {
            var r = await InProcessCli.RunAsync([.. command, "makespan", "--journal-dir", dir.Path, "--json"]);
            Assert.True(r.ExitCode == 0, r.Error);
            using var json = System.Text.Json.JsonDocument.Parse(r.Output);
            Assert.Equal("virtual", json.RootElement.GetProperty("clock").GetString());
            Assert.Equal(600, json.RootElement.GetProperty("elapsedSeconds").GetDouble());
            var wall = json.RootElement.GetProperty("wallSeconds").GetDouble();
            Assert.True(wall > 0 && wall < 120, $"{command}: wall {wall} s");
        }
    }

    [Theory]
    // 32 trials a batch, 60 s to train on T trainers, 10 s to measure on 2 devices; a trial is measured while it
    // trains (latency needs no weights), so a batch takes max(32/T · 60, 32/2 · 10) s: 480 s on 4 trainers, 240 s on
    // 8, and on 16 the devices' 160 s instead of 120.
    [InlineData(4, 480)]
    [InlineData(8, 240)]
    [InlineData(16, 160)]
    public async Task Doubling_trainers_halves_the_training_until_the_devices_saturate(int trainers, int secondsPerBatch)
    {
        using var dir = new TempDir();
        var settings = Fixed(dir.Path, $"scale{trainers}", batchSize: 32, batches: 2, trainers: trainers, devices: 2, trainSeconds: 60, measureSeconds: 10);
        var outcome = await Run(settings);
        Assert.Equal(TimeSpan.FromSeconds(2 * secondsPerBatch), outcome.VirtualElapsed);
    }

    [Fact]
    public async Task A_search_stopped_mid_way_resumes_in_virtual_time_and_ends_with_the_journal_of_an_uninterrupted_run()
    {
        using var dir = new TempDir();
        var settings = Fixed(dir.Path, "crashed", batchSize: 8, batches: 4, trainers: 3, devices: 2, trainSeconds: 30, measureSeconds: 5);
        await Run(settings);
        var straight = Simulated.Fingerprint(dir.Path, "crashed");

        // The process dies right after the 10th reward: what it leaves is the journal up to that event.
        using var crashedDir = new TempDir();
        JournalCut.CopyUpTo(dir.Path, crashedDir.Path, "crashed", JournalReader.ReadEvents(dir.Path, "crashed").Where(e => e.Event is RewardComputed).ElementAt(9).SequenceNr);
        var before = Events(crashedDir.Path, "crashed");
        Assert.DoesNotContain(before, e => e is SearchCompleted or SearchPaused);
        Assert.Equal(10, before.OfType<RewardComputed>().Count());
        var crashedAt = VirtualTime.LastIn(before)!.Value;

        var resumed = await Run(SearchRunner.SettingsOf(crashedDir.Path, "crashed", settings.Node), resume: true);
        var after = Events(crashedDir.Path, "crashed");
        Assert.Equal(crashedAt, after.OfType<SearchResumed>().Single().At);
        Assert.True(after.OfType<SearchCompleted>().Single().At > crashedAt);
        Assert.Equal(straight, Simulated.Fingerprint(crashedDir.Path, "crashed"));
        Assert.Equal(32, after.OfType<TrialTrained>().Select(t => t.TrialId).Distinct().Count());
        Assert.NotNull(resumed.VirtualElapsed);
    }

    [Fact]
    public async Task Crashing_trainers_lose_work_to_lease_expiry_and_the_search_ends_as_without_crashes()
    {
        using var dir = new TempDir();
        var settings = Fixed(dir.Path, "calm", batchSize: 8, batches: 3, trainers: 4, devices: 2, trainSeconds: 0, measureSeconds: 0) with
        {
            Simulation = new SimulationSettings { Cost = new CostModelSettings { Enabled = true, TrainerMacsPerSecond = 2e12, TrialOverheadSeconds = 20, MeasureSetupSeconds = 3, Noise = 0.1 } },
            Workers = new WorkerSettings { Trainers = 4, Devices = 2, LeaseTimeoutSeconds = 600 },
        };
        var crashing = settings with { Id = "crashing", Simulation = settings.Simulation with { Cost = settings.Simulation.Cost with { TrainerCrashRate = 0.3, TrainerRestartSeconds = 120 } } };
        var calm = await Run(settings);
        var rough = await Run(crashing);

        Assert.Equal(Simulated.Fingerprint(dir.Path, "calm"), Simulated.Fingerprint(dir.Path, "crashing"));
        var expired = Events(dir.Path, "crashing").OfType<TrialLeaseExpired>().ToList();
        Assert.NotEmpty(expired);
        Assert.All(expired, e => Assert.Equal("lease timed out", e.Reason));
        Assert.Empty(Events(dir.Path, "calm").OfType<TrialLeaseExpired>());
        // Each lost attempt costs at least the lease.
        Assert.True(rough.VirtualElapsed > calm.VirtualElapsed + TimeSpan.FromSeconds(600), $"{rough.VirtualElapsed} vs {calm.VirtualElapsed}");
        Assert.Equal(24, Events(dir.Path, "crashing").OfType<TrialTrained>().Count());
    }

    [Fact]
    public async Task A_journal_outage_stops_the_controller_which_restarts_with_back_off_and_the_search_ends_as_without_it()
    {
        using var dir = new TempDir();
        // 8 trials a batch on 4 trainers: the second round of training ends at 120 s, inside the outage [100, 150).
        var settings = Fixed(dir.Path, "steady", batchSize: 8, batches: 3, trainers: 4, devices: 2, trainSeconds: 60, measureSeconds: 10);
        var outage = settings with { Id = "outage", Simulation = settings.Simulation with { JournalOutages = "100+50" } };
        var steady = await Run(settings);
        var survived = await Run(outage);

        Assert.Equal(Simulated.Fingerprint(dir.Path, "steady"), Simulated.Fingerprint(dir.Path, "outage"));
        var events = Events(dir.Path, "outage");
        var start = ((SearchStarted)events[0]).At;
        double Seconds(ISearchEvent e) => (VirtualTime.At(e)!.Value - start).TotalSeconds;
        // Nothing was journaled inside the window; the controller came back after it (the back-offs 0.5, 1, 2, 4, 8, 15 s
        // from 120 s: the sixth restart, at 150.5 s, is the first whose search-resumed could be written).
        Assert.DoesNotContain(events, e => VirtualTime.At(e) is not null && Seconds(e) is >= 100 and < 150);
        var resumed = Assert.Single(events.OfType<SearchResumed>());
        Assert.Equal(150.5, Seconds(resumed), 6);
        Assert.Equal(4, resumed.RequeuedInFlight);
        // The training the outage cut off was dispatched again (attempt 2) once the controller was back; each trial has one result and one reward.
        var redispatched = events.OfType<TrialDispatched>().Where(d => d.Attempt == 2).ToList();
        Assert.Equal(4, redispatched.Count);
        Assert.All(redispatched, d => Assert.True(Seconds(d) >= 150.5));
        Assert.Equal(24, events.OfType<TrialTrained>().Select(t => t.TrialId).Distinct().Count());
        Assert.Equal(24, events.OfType<TrialTrained>().Count());
        Assert.Equal(24, events.OfType<RewardComputed>().Count());
        // Lost: the cut-off training (60 s from 60 s) had to be redone from 150.5 s.
        Assert.Equal(steady.VirtualElapsed!.Value + TimeSpan.FromSeconds(90.5), survived.VirtualElapsed!.Value);
    }
}
