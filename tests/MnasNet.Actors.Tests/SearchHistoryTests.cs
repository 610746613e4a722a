using MnasNet.Actors.Backends;
using MnasNet.Actors.Journal;
using MnasNet.Actors.Protocol;
using MnasNet.Actors.Serialization;
using MnasNet.Actors.State;

namespace MnasNet.Actors.Tests;

/// <summary>The read model: one fold of the event stream, per-target latencies kept per target.</summary>
public sealed class SearchHistoryTests
{
    private static readonly TrainingRecord Trained = new("test", 0.7, null, [1.0], 1, 0, 0, 0, 0, "/w/0.pt", 0);

    private static LatencyRecord Measured(double ms) => new("test", "test", "d", "p", 1, 224, 0, 1, "Runs", ms, ms, ms, ms, ms, 0, 0, 0, [ms], 0, 0);

    private static RewardInputs Reward(double acc, double[] latencies) =>
        MnasNetReward.Compute(acc, [.. latencies.Select((l, i) => new DeviceLatency($"p{i}", l, 80, 0))], -0.07, -0.07, false);

    private static List<JournalEntry> Entries(params ISearchEvent[] events) =>
        [.. events.Select((e, i) => new JournalEntry(i + 1, SearchJson.Manifest(e), e, new DateTime(2026, 1, 1, 0, 0, i, DateTimeKind.Utc)))];

    /// <summary>Two targets; trial 0's second-target latency is journaled last, trial 1's first-target latency is.</summary>
    private static List<JournalEntry> TwoTargets() => Entries(
        new SearchStarted("h", "{}", 1, "ppo", "v0", "1", "sp", "f", DateTimeOffset.UnixEpoch),
        new BatchSampled(0, "v0", [new SampledTrial(0, [0], -1, "a", 1), new SampledTrial(1, [1], -1, "b", 2), new SampledTrial(2, [2], -1, "c", 3)]),
        new TrialDispatched(0, WorkKind.Train, 1, "t"),
        new TrialTrained(0, 1, "t", Trained),
        new LatencyMeasured(0, 1, "d0", Measured(50), 0),
        new LatencyMeasured(0, 1, "d1", Measured(20), 1),
        new TrialTrained(1, 1, "t", Trained with { Accuracy = 0.6 }),
        new LatencyMeasured(1, 1, "d1", Measured(10), 1),
        new LatencyMeasured(1, 1, "d0", Measured(60), 0),
        new TrialTrained(2, 1, "t", Trained with { Accuracy = 0.65 }),
        new LatencyMeasured(2, 1, "d0", Measured(70), 0),
        new LatencyMeasured(2, 1, "d1", Measured(30), 1),
        new RewardComputed(0, Reward(0.7, [50, 20])),
        new RewardComputed(1, Reward(0.6, [60, 10])),
        new RewardComputed(2, Reward(0.65, [70, 30])),
        new SearchPaused("test", 0, DateTimeOffset.UnixEpoch));

    [Fact]
    public void Each_target_keeps_its_own_latency_whichever_arrived_last()
    {
        var summary = SearchSummary.From("h", TwoTargets());

        Assert.Equal([50.0, 20.0], summary.Trials[0].LatenciesMs);
        Assert.Equal([60.0, 10.0], summary.Trials[1].LatenciesMs);
        Assert.Equal((50.0, 60.0), (summary.Trials[0].LatencyMs, summary.Trials[1].LatencyMs));
    }

    [Fact]
    public void The_Pareto_front_compares_every_target()
    {
        var front = SearchSummary.From("h", TwoTargets()).ParetoFront();

        // Trial 1 is slower than trial 0 on the first target but faster on the second; trial 2 is dominated by trial 0.
        Assert.Equal([0L, 1L], front.Select(t => t.TrialId));
    }

    [Fact]
    public void With_one_target_the_front_is_the_accuracy_latency_front()
    {
        var entries = Entries(
            new SearchStarted("h", "{}", 1, "ppo", "v0", "1", "sp", "f", DateTimeOffset.UnixEpoch),
            new BatchSampled(0, "v0", [new SampledTrial(0, [0], -1, "a", 1), new SampledTrial(1, [1], -1, "b", 2), new SampledTrial(2, [2], -1, "c", 3)]),
            new TrialTrained(0, 1, "t", Trained), new LatencyMeasured(0, 1, "d", Measured(50)),
            new TrialTrained(1, 1, "t", Trained with { Accuracy = 0.8 }), new LatencyMeasured(1, 1, "d", Measured(90)),
            new TrialTrained(2, 1, "t", Trained with { Accuracy = 0.6 }), new LatencyMeasured(2, 1, "d", Measured(70)),
            new RewardComputed(0, Reward(0.7, [50])), new RewardComputed(1, Reward(0.8, [90])), new RewardComputed(2, Reward(0.6, [70])));

        Assert.Equal([0L, 1L], SearchSummary.From("h", entries).ParetoFront().Select(t => t.TrialId));
    }

    [Fact]
    public void Status_counters_and_facts_come_from_one_fold()
    {
        var history = SearchHistory.From("h", TwoTargets());

        Assert.Equal(SearchStatus.Paused, history.Status);
        Assert.Equal("paused", SearchSummary.From(history).Status);
        Assert.Equal((3L, 0.8, 0L), (history.Current.TrialsRewarded, Math.Round(history.Current.BestReward!.Value, 1), history.Current.BestTrial!.Value));
        Assert.Equal((1, 16L, 2), (history.Pauses, history.Events, history.MeasureTargets));
        Assert.Equal(new DateTime(2026, 1, 1, 0, 0, 15, DateTimeKind.Utc), history.LastWrittenAt);
        var trial0 = history.Trials[0];
        Assert.Equal((4L, 1), (trial0.Trained!.Value.Seq, trial0.Dispatches));
        Assert.Equal([5L, 6L], trial0.Latencies.Select(l => l.Seq));
    }

    [Fact]
    public void Status_words_are_the_ones_messages_and_outputs_carry()
    {
        Assert.Equal(["new", "running", "paused", "completed", "failed", "starting"], Enum.GetValues<SearchStatus>().Select(s => s.Word()));
        Assert.Equal(SearchStatus.Completed, SearchStatusWords.FromWord("completed"));
        Assert.Null(SearchStatusWords.FromWord("left"));
    }
}
