using MnasNet.Actors.Protocol;

namespace MnasNet.Cluster.Tests;

/// <summary>The cluster benchmark's figures from journals written here (times chosen, no processes).</summary>
public sealed class ClusterBenchFiguresTests
{
    private const string Victim = "trainer-127.0.0.1-5001-0";
    private const string Survivor = "trainer-127.0.0.1-5002-0";
    private static readonly DateTime T0 = new(2025, 1, 1, 0, 0, 0, DateTimeKind.Utc);

    private sealed class Journal
    {
        private readonly List<TimedEvent> _events = [];

        public IReadOnlyList<TimedEvent> Events => _events;

        public Journal Add(double seconds, ISearchEvent e)
        {
            _events.Add(new TimedEvent(_events.Count + 1, T0.AddSeconds(seconds), e));
            return this;
        }

        public Journal Batch(double seconds, int batch, params long[] trials) =>
            Add(seconds, new BatchSampled(batch, "v1", [.. trials.Select(t => new SampledTrial(t, [0], -1, $"arch{t}", (ulong)t))]));

        public Journal Dispatch(double seconds, long trial, string worker, int attempt = 1) => Add(seconds, new TrialDispatched(trial, WorkKind.Train, attempt, worker));

        public Journal Trained(double seconds, long trial, string worker, int attempt = 1) =>
            Add(seconds, new TrialTrained(trial, attempt, worker, new TrainingRecord("simulated", 0.9, null, [], 1, 1, 0, 0, 0, null, 0)));

        public Journal Reward(double seconds, long trial) => Add(seconds, new RewardComputed(trial, new RewardInputs("f", 0.9, 50, 80, -0.07, -0.07, -0.07, false, 0.93)));

        /// <summary>A whole trial on one worker: dispatched, trained a second later, rewarded just after.</summary>
        public Journal Trial(double seconds, long trial, string worker) => Dispatch(seconds, trial, worker).Trained(seconds + 1, trial, worker).Reward(seconds + 1.01, trial);
    }

    [Fact]
    public void ThroughputIsTimedFromTheSecondBatchsFirstDispatchToTheLastReward()
    {
        var journal = new Journal()
            .Batch(0, 0, 1, 2).Trial(0.5, 1, Victim).Trial(4.0, 2, Survivor)   // a slow warm-up: the second worker joined late
            .Batch(5.1, 1, 3, 4).Trial(10, 3, Victim).Trial(10.5, 4, Survivor);

        var run = ClusterBenchFigures.Throughput(2, journal.Events);

        Assert.Equal(2, run.Trials);
        Assert.Equal(1.51, run.WallSeconds, 6);
        Assert.Equal(2 * 60 / 1.51, run.TrialsPerMinute, 3);
    }

    [Fact]
    public void ThroughputRefusesAJournalWithoutATimedBatchOrWithAnUnrewardedTrial()
    {
        var warmUpOnly = new Journal().Batch(0, 0, 1).Trial(1, 1, Victim);
        Assert.Contains("warm-up", Assert.Throws<ClusterBenchmarkException>(() => ClusterBenchFigures.Throughput(1, warmUpOnly.Events)).Message);

        var unrewarded = new Journal().Batch(0, 0, 1).Trial(1, 1, Victim).Batch(3, 1, 2, 3).Trial(4, 2, Victim).Dispatch(6, 3, Victim);
        Assert.Contains("1 of the 2 timed trials", Assert.Throws<ClusterBenchmarkException>(() => ClusterBenchFigures.Throughput(1, unrewarded.Events)).Message);
    }

    [Fact]
    public void ScalingIsSpeedUpOverTheFewestProcessesDividedByTheProcessRatio()
    {
        var rows = ClusterBenchFigures.Scaling([new ThroughputRun(1, 24, 24), new ThroughputRun(2, 24, 12.5), new ThroughputRun(4, 24, 8)], trialSeconds: 0.5);

        Assert.Equal([1.0, 1.92, 3.0], rows.Select(r => Math.Round(r.SpeedUp, 6)));
        Assert.Equal([1.0, 0.96, 0.75], rows.Select(r => Math.Round(r.Efficiency, 6)));
        Assert.Equal([120.0, 240.0, 480.0], rows.Select(r => r.IdealTrialsPerMinute));
        Assert.Equal([60.0, 115.2, 180.0], rows.Select(r => Math.Round(r.TrialsPerMinute, 6)));

        var withoutOne = ClusterBenchFigures.Scaling([new ThroughputRun(4, 24, 8), new ThroughputRun(2, 24, 12)], trialSeconds: 1);
        Assert.Equal([0.75, 1.0], withoutOne.Select(r => Math.Round(r.Efficiency, 6)));
    }

    [Fact]
    public void TheTrialAKilledTrainerHeldIsFoundAndItsRedispatchTimedFromTheKill()
    {
        var journal = new Journal()
            .Batch(0, 0, 1, 2).Trial(0.1, 1, Victim).Trial(0.1, 2, Survivor)
            .Batch(1.2, 1, 3, 4).Dispatch(10, 3, Victim).Dispatch(10, 4, Survivor);
        // Trials of the warm-up batch never count as held; trial 3 does.
        Assert.Null(ClusterBenchFigures.HeldBy(new Journal().Batch(0, 0, 1).Dispatch(0.1, 1, Victim).Events, "-5001-"));
        Assert.Equal(3, ((TrialDispatched)ClusterBenchFigures.HeldBy(journal.Events, "-5001-")!.Event).TrialId);

        var killedAt = T0.AddSeconds(10.4);
        journal.Trained(11, 4, Survivor).Reward(11.01, 4)
            .Add(20.1, new TrialLeaseExpired(3, WorkKind.Train, 1, Victim, "lease timed out"))
            .Dispatch(20.2, 3, Survivor, attempt: 2).Trained(21.2, 3, Survivor, attempt: 2).Reward(21.21, 3);

        var f = ClusterBenchFigures.TrainerFailover(journal.Events, "-5001-", killedAt);

        Assert.Equal(3, f.TrialId);
        Assert.Equal(Victim, f.Victim);
        Assert.Equal(0.4, f.DispatchToKillSeconds, 6);
        Assert.Equal(9.7, f.KillToLeaseExpiredSeconds, 6);
        Assert.Equal(9.8, f.KillToRedispatchSeconds, 6);
        Assert.Equal("lease timed out", f.ExpiryReason);
        Assert.Equal(Survivor, f.RedispatchedTo);
        Assert.Equal(4, f.Trials);
        Assert.True(f.OneResultPerTrial);
    }

    [Fact]
    public void AKilledTrainerThatHeldNothingIsReportedNotTimed()
    {
        var journal = new Journal().Batch(0, 0, 1, 2).Trial(0.1, 1, Victim).Trial(0.1, 2, Survivor).Batch(1.2, 1, 3).Trial(2, 3, Victim);

        var e = Assert.Throws<ClusterBenchmarkException>(() => ClusterBenchFigures.TrainerFailover(journal.Events, "-5001-", T0.AddSeconds(3.5)));

        Assert.Contains("held no trial", e.Message);
    }

    [Fact]
    public void ControllerFailoverIsTimedFromTheKillToTheResumeAndTheFirstResultAfterIt()
    {
        var journal = new Journal()
            .Batch(0, 0, 1, 2).Trial(0.1, 1, Victim).Trial(0.1, 2, Survivor)
            .Batch(1.2, 1, 3, 4).Dispatch(1.3, 3, Victim).Dispatch(1.3, 4, Survivor)
            .Add(27.5, new SearchResumed(2, T0.AddSeconds(27.5)))
            .Dispatch(27.6, 3, Victim, attempt: 2).Dispatch(27.6, 4, Survivor, attempt: 2)
            .Trained(28.6, 4, Survivor, attempt: 2).Trained(28.7, 3, Victim, attempt: 2).Trained(28.8, 3, Survivor, attempt: 3);

        var f = ClusterBenchFigures.ControllerFailover(journal.Events, T0.AddSeconds(1.5));

        Assert.Equal(2, f.TrialsRewardedBeforeKill);
        Assert.Equal(26.0, f.KillToResumedSeconds, 6);
        Assert.Equal(27.1, f.KillToFirstResultSeconds, 6);
        Assert.Equal(4, f.Trials);
        Assert.False(f.OneResultPerTrial);

        var completedFirst = new Journal().Batch(0, 0, 1).Trial(0.1, 1, Victim).Add(1.2, new SearchCompleted(1, "h", T0.AddSeconds(1.2)));
        Assert.Contains("completed before", Assert.Throws<ClusterBenchmarkException>(() => ClusterBenchFigures.ControllerFailover(completedFirst.Events, T0.AddSeconds(1.5))).Message);
    }
}
