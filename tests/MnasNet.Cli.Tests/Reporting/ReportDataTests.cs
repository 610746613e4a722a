using MnasNet.Actors.Journal;
using MnasNet.Actors.Protocol;
using MnasNet.Actors.State;
using MnasNet.Cli.Reporting;

namespace MnasNet.Cli.Tests.Reporting;

public sealed class ReportDataTests
{
    private static TrialResult Trial(long id, double? accuracy, double? latency, double? reward, bool failed = false) =>
        new(id, (int)(id / 4), [], $"a{id}", accuracy, latency, reward, failed, [latency]);

    private static ReportData With(params TrialResult[] trials) => new("s", "running", null, null, [new TargetPlatform("p", 80)], trials, [], []);

    [Fact]
    public void Pareto_front_keeps_the_trials_no_other_beats_in_both_accuracy_and_latency()
    {
        var data = With(
            Trial(0, 0.60, 50, 0.6), Trial(1, 0.70, 60, 0.7), Trial(2, 0.65, 70, 0.6), Trial(3, 0.80, 90, 0.8),
            Trial(4, 0.90, 40, 0.0, failed: true), Trial(5, 0.75, null, null), Trial(6, 0.55, 45, 0.5));
        Assert.Equal([6L, 0, 1, 3], data.ParetoFront().Select(t => t.TrialId));
    }

    [Fact]
    public void Running_best_never_falls_and_top_skips_failed_trials()
    {
        var data = With(Trial(0, 0.5, 50, 0.50), Trial(1, 0.4, 50, 0.40), Trial(2, null, null, 0, failed: true), Trial(3, 0.7, 50, 0.70), Trial(4, 0.6, 50, 0.60), Trial(5, 0.6, 50, null));
        Assert.Equal([(0L, 0.5), (1, 0.5), (2, 0.5), (3, 0.7), (4, 0.7)], data.RunningBest());
        Assert.Equal([3L, 4, 0], data.Top(3).Select(t => t.TrialId));
    }

    [Fact]
    public void The_adapter_reads_every_target_with_its_T_and_each_trials_latency_on_it()
    {
        var at = DateTimeOffset.UnixEpoch;
        LatencyRecord Latency(string platform, double ms) => new("onnxruntime", "measured", "dev", platform, 1, 32, 1, 5, "runs", ms, ms, ms, ms, ms, 0, 0, 0, [ms], 0.1, 1);
        TrainingRecord Training(double accuracy) => new("simulated", accuracy, null, [], 1, 1, 1, 1, 1, null, 1);
        var events = new ISearchEvent[]
        {
            new SearchStarted("m", "{}", 1, "ppo", "v0", "c", "s", "f", at),
            new BatchSampled(0, "v0", [new SampledTrial(0, [1, 2], -1, "a0", 1), new SampledTrial(1, [2, 1], -1, "a1", 2)]),
            new TrialTrained(0, 1, "t", Training(0.7)),
            new LatencyMeasured(0, 1, "d0", Latency("cpu:threads=1", 81.5)),
            new LatencyMeasured(0, 1, "d1", Latency("cpu:threads=4", 28.25), Target: 1),
            new RewardComputed(0, new RewardInputs("f", 0.7, 81.5, 80, -0.07, -0.07, -0.07, false, 0.69,
                [new DeviceLatency("cpu:threads=1", 81.5, 80, -0.07), new DeviceLatency("cpu:threads=4", 28.25, 30, -0.07)])),
            new TrialTrained(1, 1, "t", Training(0.6)),
            new LatencyMeasured(1, 1, "d1", Latency("cpu:threads=4", 31), Target: 1),
        };
        var data = ReportDataAdapter.FromJournal("m", events.Select((e, i) => new JournalEntry(i + 1, "x", e)).ToList());

        Assert.Equal([new TargetPlatform("cpu:threads=1", 80), new TargetPlatform("cpu:threads=4", 30)], data.Targets);
        Assert.Equal([81.5, 28.25], data.Trials[0].TargetLatenciesMs);
        Assert.Equal([null, 31.0], data.Trials[1].TargetLatenciesMs);
        Assert.Equal(0.69, data.Trials[0].Reward);
        Assert.Null(data.Trials[1].Reward);
        Assert.Equal("ppo", data.Strategy);
        Assert.Empty(data.Finalists);
    }
}
