using MnasNet.Latency.Measurement;

namespace MnasNet.Latency.Tests;

public sealed class MeasurementRunnerTests
{
    private static Func<double> Sequence(params double[] values)
    {
        var i = 0;
        return () => values[i++ % values.Length];
    }

    [Fact]
    public void Warmup_runs_are_not_samples_and_one_round_is_taken_without_a_cv_target()
    {
        var calls = 0;
        var timed = MeasurementRunner.Run(new MeasurementProtocol(Warmup: 3, Runs: 4), () => ++calls, CancellationToken.None);
        Assert.Equal(7, calls);
        Assert.Equal([4.0, 5, 6, 7], timed.SamplesMs);
        Assert.Equal(StopReason.RunsCompleted, timed.StopReason);
        Assert.Equal(1, timed.Rounds);
    }

    [Fact]
    public void Rounds_are_added_until_the_cv_of_all_samples_meets_the_target()
    {
        // CV of all samples: 0.163 after round 1, 0.107 after round 2, 0.085 after round 3.
        var values = new[] { 8.0, 12, 10, 10, 10, 10, 10, 10, 10, 10, 10, 10 };
        var protocol = new MeasurementProtocol(Warmup: 0, Runs: 4, CvTarget: 0.1, TimeBudget: TimeSpan.FromHours(1));
        var timed = MeasurementRunner.Run(protocol, Sequence(values), CancellationToken.None, virtualTime: true);
        Assert.Equal(StopReason.CvTargetMet, timed.StopReason);
        Assert.Equal(3, timed.Rounds);
        Assert.Equal(12, timed.SamplesMs.Count);
        Assert.True(Statistics.CoefficientOfVariation(timed.SamplesMs) <= 0.1);
        Assert.True(Statistics.CoefficientOfVariation(timed.SamplesMs.Take(8).ToArray()) > 0.1);
    }

    [Fact]
    public void A_noisy_device_stops_when_the_time_budget_is_spent()
    {
        var protocol = new MeasurementProtocol(Warmup: 0, Runs: 2, CvTarget: 0.01, TimeBudget: TimeSpan.FromMilliseconds(100), MaxRounds: 1000);
        var timed = MeasurementRunner.Run(protocol, Sequence(10, 30), CancellationToken.None, virtualTime: true);
        Assert.Equal(StopReason.TimeBudgetExhausted, timed.StopReason);
        Assert.Equal(3, timed.Rounds); // 40 ms per round: 80 < 100, 120 ≥ 100
    }

    [Fact]
    public void The_round_limit_stops_a_measurement_within_budget()
    {
        var protocol = new MeasurementProtocol(Warmup: 0, Runs: 2, CvTarget: 0.01, TimeBudget: TimeSpan.FromHours(1), MaxRounds: 4);
        var timed = MeasurementRunner.Run(protocol, Sequence(10, 30), CancellationToken.None, virtualTime: true);
        Assert.Equal(StopReason.MaxRoundsReached, timed.StopReason);
        Assert.Equal(8, timed.SamplesMs.Count);
    }

    [Fact]
    public void The_untimed_action_runs_before_every_warmup_and_timed_run()
    {
        var log = new List<string>();
        MeasurementRunner.Run(new MeasurementProtocol(Warmup: 1, Runs: 2), () => { log.Add("run"); return 1; }, CancellationToken.None, beforeEachRun: () => log.Add("evict"));
        Assert.Equal(["evict", "run", "evict", "run", "evict", "run"], log);
        Assert.Null(MeasurementRunner.CacheEvictor(0));
        Assert.NotNull(MeasurementRunner.CacheEvictor(4096));
    }

    [Fact]
    public void Cancellation_stops_between_runs()
    {
        using var cts = new CancellationTokenSource();
        var calls = 0;
        double Run()
        {
            if (++calls == 5)
            {
                cts.Cancel();
            }
            return 1;
        }
        Assert.Throws<OperationCanceledException>(() => MeasurementRunner.Run(new MeasurementProtocol(2, 100), Run, cts.Token));
        Assert.Equal(5, calls);
    }

    [Theory]
    [InlineData(-1, 10, null, null)]
    [InlineData(0, 0, null, null)]
    [InlineData(0, 5, 0.05, null)]
    [InlineData(0, 5, -0.1, 1.0)]
    [InlineData(0, 5, 0.05, -1.0)]
    public void Invalid_protocols_are_rejected(int warmup, int runs, double? cv, double? budgetSeconds)
    {
        var protocol = new MeasurementProtocol(warmup, runs, cv, budgetSeconds is { } s ? TimeSpan.FromSeconds(s) : null);
        Assert.Throws<ArgumentException>(() => protocol.Validate());
    }
}
