using MnasNet.Actors.Journal;
using MnasNet.Actors.Protocol;

namespace MnasNet.Bench;

/// <summary>A journaled event with the time its row was written (Akka.Persistence.Sql's <c>created</c> column, UTC).</summary>
public sealed record TimedEvent(long SequenceNr, DateTime At, ISearchEvent Event);

/// <summary>One throughput run: <see cref="Trials"/> trials timed over <see cref="WallSeconds"/>.</summary>
public sealed record ThroughputRun(int TrainerProcesses, int Trials, double WallSeconds)
{
    public double TrialsPerMinute => Trials * 60 / WallSeconds;
}

/// <summary>A row of the scaling table: speed-up over the run with the fewest processes, and that over the process ratio.</summary>
public sealed record ScalingRow(int TrainerProcesses, int Trials, double WallSeconds, double TrialsPerMinute, double SpeedUp, double Efficiency, double IdealTrialsPerMinute);

/// <summary>A trainer process SIGKILLed while it held a trial: when the trial's lease expired and it was dispatched again.</summary>
public sealed record TrainerFailoverFigures(
    long TrialId,
    string Victim,
    double DispatchToKillSeconds,
    double KillToLeaseExpiredSeconds,
    double KillToRedispatchSeconds,
    string ExpiryReason,
    string RedispatchedTo,
    int Trials,
    bool OneResultPerTrial);

/// <summary>The controller's process SIGKILLed with a standby controller-role node up: when the search resumed there and produced again.</summary>
public sealed record ControllerFailoverFigures(
    int TrialsRewardedBeforeKill,
    double KillToResumedSeconds,
    double KillToFirstResultSeconds,
    int Trials,
    bool OneResultPerTrial);

/// <summary>The pure half of the cluster benchmark: figures from journals and kill times.</summary>
public static class ClusterBenchFigures
{
    /// <summary>
    /// Trials per minute after the warm-up: from the first training dispatch of the second batch (by then every worker
    /// has joined and asked for work) to the last reward of the search; the first batch is not counted.
    /// </summary>
    public static ThroughputRun Throughput(int trainerProcesses, IReadOnlyList<TimedEvent> journal)
    {
        var batches = journal.Select(e => e.Event).OfType<BatchSampled>().ToList();
        if (batches.Count < 2)
        {
            throw new ClusterBenchmarkException($"the journal has {batches.Count} batch(es); the measurement needs a warm-up batch and at least one timed batch");
        }
        var timed = batches.Skip(1).SelectMany(b => b.Trials).Select(t => t.TrialId).ToHashSet();
        var start = journal.FirstOrDefault(e => e.Event is TrialDispatched { Kind: WorkKind.Train } d && timed.Contains(d.TrialId))
            ?? throw new ClusterBenchmarkException("no trial of the timed batches was dispatched");
        var rewards = journal.Where(e => e.Event is RewardComputed r && timed.Contains(r.TrialId)).ToList();
        var rewarded = rewards.Select(e => ((RewardComputed)e.Event).TrialId).Distinct().Count();
        if (rewarded != timed.Count)
        {
            throw new ClusterBenchmarkException($"{rewarded} of the {timed.Count} timed trials have a reward");
        }
        return new ThroughputRun(trainerProcesses, timed.Count, (rewards[^1].At - start.At).TotalSeconds);
    }

    public static IReadOnlyList<ScalingRow> Scaling(IReadOnlyList<ThroughputRun> runs, double trialSeconds)
    {
        if (runs.Count == 0)
        {
            return [];
        }
        var baseline = runs.MinBy(r => r.TrainerProcesses)!;
        return [.. runs.Select(r =>
        {
            var speedUp = r.TrialsPerMinute / baseline.TrialsPerMinute;
            var efficiency = speedUp / ((double)r.TrainerProcesses / baseline.TrainerProcesses);
            return new ScalingRow(r.TrainerProcesses, r.Trials, r.WallSeconds, r.TrialsPerMinute, speedUp, efficiency, r.TrainerProcesses * 60 / trialSeconds);
        })];
    }

    /// <summary>The training dispatch of a timed batch that a worker (its id contains <paramref name="workerMarker"/>) holds: dispatched, not yet trained by it.</summary>
    public static TimedEvent? HeldBy(IReadOnlyList<TimedEvent> journal, string workerMarker)
    {
        var warmUp = journal.Select(e => e.Event).OfType<BatchSampled>().FirstOrDefault()?.Trials.Select(t => t.TrialId).ToHashSet() ?? [];
        var trained = journal.Select(e => e.Event).OfType<TrialTrained>().Where(t => t.Worker.Contains(workerMarker, StringComparison.Ordinal)).Select(t => t.TrialId).ToHashSet();
        return journal.LastOrDefault(e => e.Event is TrialDispatched { Kind: WorkKind.Train } d
            && d.Worker.Contains(workerMarker, StringComparison.Ordinal) && !warmUp.Contains(d.TrialId) && !trained.Contains(d.TrialId));
    }

    public static TrainerFailoverFigures TrainerFailover(IReadOnlyList<TimedEvent> journal, string victimMarker, DateTime killedAt)
    {
        bool IsVictim(string worker) => worker.Contains(victimMarker, StringComparison.Ordinal);
        var trainedByVictim = journal.Select(e => e.Event).OfType<TrialTrained>().Where(t => IsVictim(t.Worker)).Select(t => t.TrialId).ToHashSet();
        // The victim may have finished the trial seen just before the kill and started another: take what it really lost.
        var lost = journal.Where(e => e.At <= killedAt && e.Event is TrialDispatched { Kind: WorkKind.Train } d && IsVictim(d.Worker) && !trainedByVictim.Contains(d.TrialId)).ToList();
        if (lost.Count == 0)
        {
            throw new ClusterBenchmarkException("the killed trainer held no trial (it finished its trial just before the kill); run again");
        }
        var dispatch = lost[^1];
        var held = (TrialDispatched)dispatch.Event;
        var expiry = journal.FirstOrDefault(e => e.SequenceNr > dispatch.SequenceNr && e.Event is TrialLeaseExpired { Kind: WorkKind.Train } x && x.TrialId == held.TrialId && IsVictim(x.Worker))
            ?? throw new ClusterBenchmarkException($"trial {held.TrialId}, held by the killed trainer, never had its lease expire");
        var again = journal.FirstOrDefault(e => e.SequenceNr > expiry.SequenceNr && e.Event is TrialDispatched { Kind: WorkKind.Train } d && d.TrialId == held.TrialId)
            ?? throw new ClusterBenchmarkException($"trial {held.TrialId} was never dispatched again after its lease expired");
        var (trials, single) = Results(journal);
        return new TrainerFailoverFigures(held.TrialId, held.Worker, (killedAt - dispatch.At).TotalSeconds, (expiry.At - killedAt).TotalSeconds, (again.At - killedAt).TotalSeconds,
            ((TrialLeaseExpired)expiry.Event).Reason, ((TrialDispatched)again.Event).Worker, trials, single);
    }

    public static ControllerFailoverFigures ControllerFailover(IReadOnlyList<TimedEvent> journal, DateTime killedAt)
    {
        if (journal.Any(e => e.At <= killedAt && e.Event is SearchCompleted))
        {
            throw new ClusterBenchmarkException("the search completed before its controller's process was killed: give it longer trials (--trial-seconds) or more --trials");
        }
        var resumed = journal.FirstOrDefault(e => e.At > killedAt && e.Event is SearchResumed)
            ?? throw new ClusterBenchmarkException("the search was never resumed after its controller's process was killed");
        var result = journal.FirstOrDefault(e => e.SequenceNr > resumed.SequenceNr && e.Event is TrialTrained)
            ?? throw new ClusterBenchmarkException("no trial result after the search resumed");
        var before = journal.Count(e => e.SequenceNr < resumed.SequenceNr && e.Event is RewardComputed);
        var (trials, single) = Results(journal);
        return new ControllerFailoverFigures(before, (resumed.At - killedAt).TotalSeconds, (result.At - killedAt).TotalSeconds, trials, single);
    }

    private static (int Trials, bool OneResultEach) Results(IReadOnlyList<TimedEvent> journal)
    {
        var results = journal.Select(e => e.Event).OfType<TrialTrained>().GroupBy(t => t.TrialId).ToList();
        return (results.Count, results.All(g => g.Count() == 1));
    }

    /// <summary>A search's events with the times their rows were written; empty while the journal table does not exist.</summary>
    public static IReadOnlyList<TimedEvent> ReadJournal(string connectionString, string searchId) =>
        [.. PostgresJournal.ReadEvents(connectionString, searchId).Select(e => new TimedEvent(e.SequenceNr, e.WrittenAt ?? DateTime.MinValue, e.Event))];
}
