using System.Runtime.Serialization;
using MnasNet.Actors.Actors;
using MnasNet.Actors.Backends;
using MnasNet.Actors.Policy;
using MnasNet.Actors.Protocol;
using MnasNet.Actors.Serialization;
using MnasNet.Actors.Settings;
using MnasNet.Actors.State;
using MnasNet.SearchSpace;

namespace MnasNet.Actors.Tests;

public sealed class SerializerTests
{
    private static readonly RewardInputs Reward = MnasNetReward.Compute(0.7, 90, 80, -0.07, -0.07, false);
    private static readonly TrainingRecord Training = new("simulated", 0.7, 0.4, [2.3, 1.1], 1, 0.5, 100, 1000, 2000, "/w/trial-1.pt", 9);
    private static readonly LatencyRecord Latency = new("simulated", "simulated", "d0", "p", 1, 224, 2, 3, "Runs", 9, 9.1, 9.5, 8.9, 9.6, 0.2, 0.02, 0, [9, 9.1, 9.2], 0.1, 9);

    public static TheoryData<ISearchMessage> Messages() => new(new ISearchMessage[] {
        new SearchStarted("s", "{}", 1, "ppo", "abc", "1.0", "space/v1", MnasNetReward.FormulaId, DateTimeOffset.UnixEpoch),
        new BatchSampled(0, "abc", [new SampledTrial(0, [1, 2, 3], -12.5, "a1", 99)]),
        new TrialDispatched(0, WorkKind.Measure, 1, "device-0"),
        new TrialLeaseExpired(0, WorkKind.Train, 1, "trainer-0", "lease timed out"),
        new TrialTrained(0, 1, "trainer-0", Training),
        new LatencyMeasured(0, 1, "device-0", Latency),
        new TrialFailed(0, WorkKind.Train, 2, "trainer-1", "NaN"),
        new RewardComputed(0, Reward),
        new PolicyUpdated(0, 1, "a", "b", [0, 1], [0.5, 0.6], [false, true], [-1, 1], 0.1, 40, 0.01, 0.2, 0.5, 0.55),
        new SearchPaused("ctrl-c", 2, DateTimeOffset.UnixEpoch),
        new SearchResumed(2, DateTimeOffset.UnixEpoch),
        new SearchCompleted(10, "h", DateTimeOffset.UnixEpoch),
        new RequestWork(WorkKind.Train, "w"),
        new WorkOffer("s", 1, WorkKind.Train, 1, [0, 1], 5),
        new TrainingDone("s", 1, 1, "w", Training),
        new MeasurementDone("s", 1, 1, "w", Latency),
        new WorkFailed("s", 1, WorkKind.Measure, 1, "w", "too large"),
        new ComputeReward(1, 0.7, [new DeviceLatency("simulated", 90, 80, 0)], false, -0.07, -0.07),
        new RewardReply(1, Reward),
        new PauseSearch("x", 3),
        new SearchProgress("s", "running", 1, 2, 0, 0.5, 1, 0, 10),
        new SearchStopped("s", "paused", "x"),
        new FirstDispatch("s", 0, WorkKind.Train) });

    [Theory]
    [MemberData(nameof(Messages))]
    public void Every_message_round_trips_with_a_versioned_manifest(ISearchMessage message)
    {
        var manifest = SearchJson.Manifest(message);
        Assert.Matches(@"^[a-z-]+\.v\d+$", manifest);
        var back = SearchJson.FromBinary(SearchJson.ToBinary(message), manifest);
        Assert.Equal(System.Text.Json.JsonSerializer.Serialize(message, message.GetType(), SearchJson.Options),
            System.Text.Json.JsonSerializer.Serialize(back, back.GetType(), SearchJson.Options));
        Assert.DoesNotContain("MnasNet", System.Text.Encoding.UTF8.GetString(SearchJson.ToBinary(message)));
    }

    [Fact]
    public void Snapshot_round_trips()
    {
        var state = SearchState.Empty("s").Apply(new SearchStarted("s", "{}", 1, "ppo", "v", "1", "sp", "f", DateTimeOffset.UnixEpoch))
            .Apply(new BatchSampled(0, "v", [new SampledTrial(4, [1, 2], -3, "a", 8)]));
        var snapshot = new SearchSnapshot(state, "AAAA");
        var back = (SearchSnapshot)SearchJson.FromBinary(SearchJson.ToBinary(snapshot), "search-snapshot.v1");
        Assert.Equal(state.Trials[4].Tokens, back.State.Trials[4].Tokens);
        Assert.Equal(state with { Trials = back.State.Trials }, back.State);
    }

    [Fact]
    public void Unknown_manifest_is_a_serialization_error_naming_it()
    {
        var e = Assert.Throws<SerializationException>(() => SearchJson.FromBinary("{}"u8.ToArray(), "trial-trained.v9"));
        Assert.Contains("trial-trained.v9", e.Message);
    }
}

public sealed class SearchStateTests
{
    private static SearchState Batch() => SearchState.Empty("s")
        .Apply(new SearchStarted("s", "{}", 1, "ppo", "v0", "1", "sp", "f", DateTimeOffset.UnixEpoch))
        .Apply(new BatchSampled(0, "v0", [new SampledTrial(0, [0], -1, "a", 1), new SampledTrial(1, [1], -1, "b", 2)]));

    [Fact]
    public void Results_after_the_first_are_duplicates()
    {
        var s = Batch().Apply(new TrialDispatched(0, WorkKind.Train, 1, "w"));
        Assert.False(s.IsDuplicate(0, WorkKind.Train));
        s = s.Apply(new TrialTrained(0, 1, "w", new TrainingRecord("x", 0.5, null, [], 1, 0, 0, 0, 0, null, 1)));
        Assert.True(s.IsDuplicate(0, WorkKind.Train));
        Assert.False(s.IsDuplicate(0, WorkKind.Measure));
        Assert.True(s.IsDuplicate(77, WorkKind.Train));
    }

    [Fact]
    public void Resume_requeues_in_flight_work_and_lease_expiry_too()
    {
        var s = Batch().Apply(new TrialDispatched(0, WorkKind.Train, 1, "w")).Apply(new TrialDispatched(1, WorkKind.Train, 1, "w2"));
        Assert.Equal(2, s.InFlight);
        Assert.Null(s.NextPending(WorkKind.Train));
        s = s.Apply(new TrialLeaseExpired(1, WorkKind.Train, 1, "w2", "x"));
        Assert.Equal(1, s.NextPending(WorkKind.Train)!.TrialId);
        s = s.Apply(new SearchPaused("p", 1, DateTimeOffset.UnixEpoch)).Apply(new SearchResumed(1, DateTimeOffset.UnixEpoch));
        Assert.Equal(0, s.InFlight);
        Assert.Equal(0, s.NextPending(WorkKind.Train)!.TrialId);
        Assert.Equal(1, s.Trials[0].TrainAttempts);
    }

    [Fact]
    public void A_failed_trial_needs_no_latency_and_the_batch_completes_with_rewards()
    {
        var s = Batch().Apply(new TrialFailed(0, WorkKind.Train, 1, "w", "NaN"));
        Assert.False(s.Trials[0].NeedsWork(WorkKind.Measure));
        Assert.Equal([0L], s.AwaitingReward.Select(t => t.TrialId));
        s = s.Apply(new RewardComputed(0, MnasNetReward.Compute(0, 0, 80, -0.07, -0.07, true)));
        Assert.False(s.BatchComplete);
        s = s.Apply(new RewardComputed(1, MnasNetReward.Compute(0.5, 70, 80, -0.07, -0.07, false)));
        Assert.True(s.BatchComplete);
        Assert.Equal(1, s.BestTrial);
        Assert.Equal(1, s.TrialsFailed);
        s = s.Apply(new PolicyUpdated(0, 1, "v0", "v1", [0, 1], [0, 0.5], [true, false], [-1, 1], 0, 0, 0, 0, 0, 0));
        Assert.False(s.BatchComplete);
        Assert.Equal(1, s.BatchesUpdated);
    }
}

public sealed class PolicyAndRewardTests
{
    private static readonly MnasNetSearchSpace Space = MnasNetSearchSpace.Default;

    [Fact]
    public void Reward_follows_the_paper_formula()
    {
        var soft = MnasNetReward.Compute(0.75, 160, 80, -0.07, -0.07, false);
        Assert.Equal(0.75 * Math.Pow(2.0, -0.07), soft.Reward);
        Assert.Equal(0.75, MnasNetReward.Compute(0.75, 40, 80, 0, -1, false).Reward);
        Assert.Equal(0.375, MnasNetReward.Compute(0.75, 160, 80, 0, -1, false).Reward);
        var failed = MnasNetReward.Compute(0.75, 40, 80, 0, -1, true);
        Assert.True(failed.Failed);
        Assert.Equal(0, failed.Reward);
    }

    [Fact]
    public void Ppo_policy_is_deterministic_and_restores_exactly()
    {
        var settings = new Controller.ControllerOptions(Seed: 3);
        var a = new Controller.TabularPpoPolicy(Space, settings);
        var b = new Controller.TabularPpoPolicy(Space, settings);
        for (var step = 0; step < 3; step++)
        {
            var sa = a.Sample(6);
            var sb = b.Sample(6);
            Assert.Equal(sa.SelectMany(s => s.Tokens), sb.SelectMany(s => s.Tokens));
            foreach (var s in sa)
            {
                Space.ValidateTokens(s.Tokens);
                Assert.Equal(s.LogProb!.Value, a.LogProb(s.Tokens), 10);
            }
            var feedback = sa.Select((s, i) => new Controller.ScoredSample(s.Tokens, s.LogProb, 0.5 + (0.05 * i), false)).ToList();
            Assert.Equal(a.Observe(feedback).ParameterHash, b.Observe(feedback).ParameterHash);
        }
        var restored = Controller.TabularPpoPolicy.Restore(Space, settings, a.SaveState());
        Assert.Equal(a.Version, restored.Version);
        Assert.Equal(a.Sample(4).SelectMany(s => s.Tokens), restored.Sample(4).SelectMany(s => s.Tokens));
    }

    [Fact]
    public void Ppo_moves_probability_towards_rewarded_choices()
    {
        var p = new Controller.TabularPpoPolicy(Space, new Controller.ControllerOptions(Seed: 5, LearningRate: 0.5));
        var good = p.Sample(1)[0];
        var before = p.LogProb(good.Tokens);
        for (var i = 0; i < 5; i++)
        {
            var batch = p.Sample(8).Select(s => new Controller.ScoredSample(s.Tokens, s.LogProb, 0.1, false)).Append(new Controller.ScoredSample(good.Tokens, p.LogProb(good.Tokens), 0.9, false)).ToList();
            var r = p.Observe(batch);
            Assert.NotEqual(r.VersionBefore, r.ParameterHash);
        }
        Assert.True(p.LogProb(good.Tokens) > before + 1, $"log-prob {before} → {p.LogProb(good.Tokens)}");
    }

    [Fact]
    public void Trial_seeds_depend_only_on_search_seed_and_trial_id()
    {
        Assert.Equal(SearchController.TrialSeed(1, 5), SearchController.TrialSeed(1, 5));
        Assert.NotEqual(SearchController.TrialSeed(1, 5), SearchController.TrialSeed(1, 6));
        Assert.NotEqual(SearchController.TrialSeed(1, 5), SearchController.TrialSeed(2, 5));
    }

    [Fact]
    public void Simulated_objective_is_a_pure_function_of_tokens_and_seed()
    {
        var o = new SimulatedObjective(Space, new SimulationSettings(), 3);
        var tokens = Space.Sample(new SeededRandom(1));
        Assert.Equal(o.Accuracy(tokens, 9), o.Accuracy(tokens, 9));
        Assert.Equal(o.Latency(tokens, 9, 5).MedianMs, o.Latency(tokens, 9, 5).MedianMs);
        Assert.NotEqual(o.Accuracy(tokens, 9).Accuracy, o.Accuracy(tokens, 10).Accuracy);
        var (acc, macs, _) = o.Accuracy(tokens, 9);
        Assert.InRange(acc, 0.45, 0.95);
        Assert.InRange(macs, 1e7, 3e9);
    }
}
