using System.Collections.Immutable;
using MnasNet.Actors.Journal;
using MnasNet.Actors.Protocol;

namespace MnasNet.Actors.State;

/// <summary>Everything the journal says about one trial, each fact with the sequence number of the event that said it.</summary>
public sealed record TrialHistory(SampledTrial Sampled, int Batch, long SampledAt)
{
    public (long Seq, TrainingRecord Record)? Trained { get; init; }

    /// <summary>Latency records with the index of the target platform they measured for (0 in single-device searches).</summary>
    public ImmutableList<(long Seq, LatencyRecord Record, int Target)> Latencies { get; init; } = [];

    public ImmutableList<(long Seq, TrialFailed Event)> Failures { get; init; } = [];

    public ImmutableList<(long Seq, RewardInputs Inputs)> Rewards { get; init; } = [];

    public int Dispatches { get; init; }

    /// <summary>The latency the search's lookup table predicted (searches with a predictor).</summary>
    public (long Seq, LatencyPredicted Event)? Predicted { get; init; }

    /// <summary>Which latency the reward used: "measured" or "predicted" in a search with a predictor, else null.</summary>
    public string? LatencySource => Reward?.LatencySource;

    public double? Advantage { get; init; }

    /// <summary>The reward the controller learned from (the first journaled; a second one is a divergence the auditor names).</summary>
    public RewardInputs? Reward => Rewards.Count > 0 ? Rewards[0].Inputs : null;

    public bool Failed => Failures.Count > 0 || Rewards.Any(r => r.Inputs.Failed);

    /// <summary>The median latency measured for one target platform (the latest measurement of it), or null.</summary>
    public double? LatencyMs(int target) => Latencies.LastOrDefault(l => l.Target == target).Record?.MedianMs;

    /// <summary>Per target platform, index by index: as many entries as targets were measured.</summary>
    public IReadOnlyList<double?> LatenciesMs(int targets) => [.. Enumerable.Range(0, targets).Select(LatencyMs)];
}

/// <summary>A target platform of the search and its latency target T (ms).</summary>
public sealed record TargetPlatform(string Platform, double TargetMs);

/// <summary>
/// The read model: one pure fold of a search's whole event stream, for status, list, report, export, the auditor,
/// the cluster's search host and the benchmarks. Status, counters and the best trial come from the same
/// <see cref="SearchState.Apply"/> the controller recovers with (<see cref="Current"/>); every trial of every batch
/// is kept with the sequence numbers of its facts, and per-target latencies stay per target.
/// </summary>
public sealed record SearchHistory(
    string SearchId,
    SearchState Current,
    SearchStarted? Started,
    long StartedSeq,
    ImmutableSortedDictionary<long, TrialHistory> Trials,
    ImmutableList<(long Seq, BatchSampled Batch)> Batches,
    ImmutableList<(long Seq, PolicyUpdated Update)> Updates,
    string? FinalPolicyHash,
    int Pauses,
    int Resumes,
    int LeaseExpiries,
    DateTime? LastWrittenAt)
{
    /// <summary>Each batch's measurement selection (searches with a predictor), in journal order.</summary>
    public ImmutableList<(long Seq, MeasurementSelected Selection)> Selections { get; init; } = [];

    public static SearchHistory Empty(string searchId) =>
        new(searchId, SearchState.Empty(searchId), null, 0, ImmutableSortedDictionary<long, TrialHistory>.Empty, [], [], null, 0, 0, 0, null);

    public static SearchHistory From(string searchId, IEnumerable<JournalEntry> entries) => entries.Aggregate(Empty(searchId), (h, e) => h.Apply(e));

    public SearchStatus Status => Current.Status;

    public long Events => Current.EventCount;

    /// <summary>How many target platforms the trials were measured on (from the measurements themselves).</summary>
    public int MeasureTargets => Math.Max(1, Trials.Values.SelectMany(t => t.Latencies).Select(l => l.Target + 1).DefaultIfEmpty(1).Max());

    /// <summary>
    /// The target platforms with their latency targets T, in target order, as the journaled rewards state them (a
    /// single-device reward names no platform: the measurement does). Empty until a trial has been rewarded.
    /// </summary>
    public IReadOnlyList<TargetPlatform> Targets()
    {
        var rewards = Trials.Values.SelectMany(t => t.Rewards).Select(r => r.Inputs).ToList();
        if (rewards.FirstOrDefault(r => r.Devices is { Count: > 0 })?.Devices is { } devices)
        {
            return [.. devices.Select(d => new TargetPlatform(d.Platform, d.TargetMs))];
        }
        if (rewards.FirstOrDefault(r => !r.Failed) is not { } single)
        {
            return [];
        }
        var platform = Trials.Values.SelectMany(t => t.Latencies).FirstOrDefault(l => l.Target == 0).Record?.Platform ?? "target";
        return [new TargetPlatform(platform, single.TargetMs)];
    }

    public SearchHistory Apply(JournalEntry entry)
    {
        var seq = entry.SequenceNr;
        var next = this with { Current = Current.Apply(entry.Event), LastWrittenAt = entry.WrittenAt ?? LastWrittenAt };
        return entry.Event switch
        {
            SearchStarted s => next with { Started = Started ?? s, StartedSeq = Started is null ? seq : StartedSeq, FinalPolicyHash = s.PolicyVersion },
            BatchSampled b => next with
            {
                Batches = Batches.Add((seq, b)),
                Trials = Trials.SetItems(b.Trials.Select(t => KeyValuePair.Create(t.TrialId, new TrialHistory(t, b.Batch, seq)))),
            },
            TrialDispatched d => next.Update(d.TrialId, t => t with { Dispatches = t.Dispatches + 1 }),
            TrialTrained t => next.Update(t.TrialId, h => h with { Trained = (seq, t.Record) }),
            LatencyMeasured m => next.Update(m.TrialId, h => h with { Latencies = h.Latencies.Add((seq, m.Record, m.Target)) }),
            TrialFailed f => next.Update(f.TrialId, h => h with { Failures = h.Failures.Add((seq, f)) }),
            RewardComputed r => next.Update(r.TrialId, h => h with { Rewards = h.Rewards.Add((seq, r.Inputs)) }),
            LatencyPredicted p => next.Update(p.TrialId, h => h with { Predicted = h.Predicted ?? (seq, p) }),
            MeasurementSelected m => next with { Selections = Selections.Add((seq, m)) },
            PolicyUpdated p => p.TrialIds.Select((id, i) => (id, i)).Where(x => x.i < p.Advantages.Count).Aggregate(
                next with { Updates = Updates.Add((seq, p)), FinalPolicyHash = p.ParameterHash },
                (h, x) => h.Update(x.id, t => t with { Advantage = p.Advantages[x.i] })),
            TrialLeaseExpired => next with { LeaseExpiries = LeaseExpiries + 1 },
            SearchPaused => next with { Pauses = Pauses + 1 },
            SearchResumed => next with { Resumes = Resumes + 1 },
            SearchCompleted c => next with { FinalPolicyHash = c.FinalPolicyHash },
            _ => next,
        };
    }

    private SearchHistory Update(long trialId, Func<TrialHistory, TrialHistory> change) =>
        Trials.TryGetValue(trialId, out var t) ? this with { Trials = Trials.SetItem(trialId, change(t)) } : this;
}
