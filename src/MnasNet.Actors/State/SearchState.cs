using System.Collections.Immutable;
using MnasNet.Actors.Protocol;

namespace MnasNet.Actors.State;

/// <summary>
/// Where a search stands. The journal gives New, Running, Paused or Completed; Failed is a controller that stopped on
/// an error, Starting a cluster host (re)starting its controller: neither is journaled.
/// </summary>
public enum SearchStatus
{
    New,
    Running,
    Paused,
    Completed,
    Failed,
    Starting,
}

public static class SearchStatusWords
{
    /// <summary>The lower-case word messages and JSON outputs carry ("running", "paused", …).</summary>
    public static string Word(this SearchStatus status) => status switch
    {
        SearchStatus.New => "new",
        SearchStatus.Running => "running",
        SearchStatus.Paused => "paused",
        SearchStatus.Completed => "completed",
        SearchStatus.Failed => "failed",
        SearchStatus.Starting => "starting",
        _ => throw new ArgumentOutOfRangeException(nameof(status), status, null),
    };

    /// <summary>The status a word names, or null for another word (such as a host's "starting").</summary>
    public static SearchStatus? FromWord(string? word) => Enum.GetValues<SearchStatus>().Where(s => s.Word() == word).Select(s => (SearchStatus?)s).FirstOrDefault();
}

public enum WorkStatus
{
    Pending,
    InFlight,
    Done,
    Failed,
}

/// <summary>
/// Whether a trial's latency is measured: always (a search without a predictor), or, with one, awaiting the batch's
/// selection, then chosen for the device or skipped (its reward uses the predicted latency).
/// </summary>
public enum MeasureChoice
{
    Always,
    Awaiting,
    Chosen,
    Skipped,
}

/// <summary>One target platform's measurement of a trial (targets after the first; the first is in TrialState itself).</summary>
public sealed record MeasureState(WorkStatus Status = WorkStatus.Pending, int Attempts = 0, double? LatencyMs = null);

/// <summary>
/// A trial of the current batch as the controller sees it. Measure, MeasureAttempts and LatencyMs are the first
/// target platform's; <paramref name="OtherMeasures"/> the others' (null with one target, the shape of older snapshots).
/// <see cref="Excluded"/>: failed for the infrastructure's reasons after every attempt (no reward, not learned from).
/// </summary>
public sealed record TrialState(
    long TrialId,
    int Batch,
    IReadOnlyList<int> Tokens,
    double LogProb,
    string ArchitectureId,
    ulong Seed,
    WorkStatus Train = WorkStatus.Pending,
    int TrainAttempts = 0,
    WorkStatus Measure = WorkStatus.Pending,
    int MeasureAttempts = 0,
    double? Accuracy = null,
    double? LatencyMs = null,
    string? Failure = null,
    RewardInputs? Reward = null,
    ImmutableList<MeasureState>? OtherMeasures = null,
    bool Excluded = false,
    double? PredictedMs = null,
    MeasureChoice Choice = MeasureChoice.Always)
{

    public int Targets => 1 + (OtherMeasures?.Count ?? 0);

    /// <summary>A target beyond <see cref="Targets"/> (a read of a journal whose target count the reader does not know) is pending.</summary>
    public MeasureState MeasureOf(int target) => target == 0 ? new MeasureState(Measure, MeasureAttempts, LatencyMs)
        : OtherMeasures is { } others && target <= others.Count ? others[target - 1] : new MeasureState();

    public IEnumerable<MeasureState> Measures => Enumerable.Range(0, Targets).Select(MeasureOf);

    public WorkStatus StatusOf(WorkKind kind, int target = 0) => kind == WorkKind.Train ? Train : target == 0 ? Measure : MeasureOf(target).Status;

    public int AttemptsOf(WorkKind kind, int target = 0) => kind == WorkKind.Train ? TrainAttempts : MeasureOf(target).Attempts;

    // The dispatcher asks these for every trial of the batch per idle worker: no enumerators for the first target.
    public bool IsFailed => Train == WorkStatus.Failed || Measure == WorkStatus.Failed || (OtherMeasures?.Any(m => m.Status == WorkStatus.Failed) ?? false);

    /// <summary>Every result is in (training and each target's latency), or one failed (a failed trial needs no more work).</summary>
    public bool ReadyForReward => IsFailed || (Train == WorkStatus.Done && (Choice == MeasureChoice.Skipped
        || (Choice != MeasureChoice.Awaiting && Measure == WorkStatus.Done && (OtherMeasures?.All(m => m.Status == WorkStatus.Done) ?? true))));

    /// <summary>Measurements wait for the batch's selection in a search with a predictor, and only the chosen are measured.</summary>
    public bool NeedsWork(WorkKind kind, int target = 0) => !IsFailed && StatusOf(kind, target) == WorkStatus.Pending
        && (kind != WorkKind.Measure || Choice is MeasureChoice.Always or MeasureChoice.Chosen);

    /// <summary>The latency its reward uses (the predicted one for a skipped trial) and, with a predictor, which one that is.</summary>
    public (double? LatencyMs, string? Source) RewardLatency(int target) => Choice switch
    {
        MeasureChoice.Skipped => (PredictedMs, LatencySources.Predicted),
        MeasureChoice.Chosen => (MeasureOf(target).LatencyMs, LatencySources.Measured),
        _ => (MeasureOf(target).LatencyMs, null),
    };

    public TrialState With(WorkKind kind, WorkStatus status, int? attempts = null, int target = 0) => kind == WorkKind.Train
        ? this with { Train = status, TrainAttempts = attempts ?? TrainAttempts }
        : WithMeasure(target, m => m with { Status = status, Attempts = attempts ?? m.Attempts });

    public TrialState WithMeasure(int target, Func<MeasureState, MeasureState> change)
    {
        var m = change(MeasureOf(target));
        return target == 0
            ? this with { Measure = m.Status, MeasureAttempts = m.Attempts, LatencyMs = m.LatencyMs }
            : this with { OtherMeasures = Enumerable.Range(0, Math.Max(0, target - (OtherMeasures?.Count ?? 0))).Aggregate(OtherMeasures ?? [], (o, _) => o.Add(new MeasureState())).SetItem(target - 1, m) };
    }
}

/// <summary>
/// A finalist's full training as journaled: what it trains with, its status, the epochs done (each with its
/// checkpoint) and, once finished, its record or failure.
/// </summary>
public sealed record FinalState(
    long TrialId,
    IReadOnlyList<int> Tokens,
    string ArchitectureId,
    string RecipeJson,
    int Epochs,
    string Dataset,
    int? Resolution,
    int? TrainSize,
    ulong Seed,
    WorkStatus Status = WorkStatus.Pending,
    int Attempts = 0,
    ImmutableList<FinalEpoch>? Curve = null,
    FinalTrainingRecord? Result = null,
    string? Failure = null)
{
    public ImmutableList<FinalEpoch> EpochsDone => Curve ?? [];

    public FinalEpoch? LastEpoch => EpochsDone.Count > 0 ? EpochsDone[^1] : null;

    /// <summary>The first epoch with the highest accuracy.</summary>
    public FinalEpoch? BestEpoch => EpochsDone.Aggregate((FinalEpoch?)null, (best, e) => best is null || e.Accuracy > best.Accuracy ? e : best);

    public bool Finished => Status is WorkStatus.Done or WorkStatus.Failed;
}

/// <summary>
/// The controller's state: only the current batch is kept (earlier batches live in the journal), so snapshots stay
/// small and recovery is fast however long the search. Changed only by <see cref="Apply"/>, a pure function.
/// </summary>
public sealed record SearchState(
    string SearchId,
    SearchStatus Status,
    string? SettingsJson,
    int Batch,
    long NextTrialId,
    long BatchFirstTrialId,
    ImmutableSortedDictionary<long, TrialState> Trials,
    string PolicyVersion,
    long PolicyStep,
    int BatchesUpdated,
    long TrialsRewarded,
    long TrialsFailed,
    double? BestReward,
    long? BestTrial,
    long EventCount,
    int MeasureTargets = 1,
    string? Chain = null,
    string? LastLink = null,
    ImmutableSortedDictionary<long, FinalState>? Finals = null,
    ImmutableSortedSet<long>? FinalRunTrials = null,
    SearchStatus? FinalStatus = null,
    PredictorIdentity? Predictor = null)
{
    /// <summary>The search predicts every trained trial's latency and measures only the batch's chosen trials.</summary>
    public bool Predicting => Predictor is not null;

    /// <summary>Every finalist ever chosen (none in a journal without final training).</summary>
    public ImmutableSortedDictionary<long, FinalState> Finalists => Finals ?? ImmutableSortedDictionary<long, FinalState>.Empty;

    /// <summary>The finalists of the latest train-final run, in trial-id order.</summary>
    public IEnumerable<FinalState> FinalRun => (FinalRunTrials ?? []).Where(Finalists.ContainsKey).Select(id => Finalists[id]);

    public int FinalInFlight => Finalists.Values.Count(f => f.Status == WorkStatus.InFlight);

    /// <param name="measureTargets">How many target platforms each trial is measured on (the search's settings say).</param>
    public static SearchState Empty(string searchId, int measureTargets = 1) =>
        new(searchId, SearchStatus.New, null, -1, 0, 0, ImmutableSortedDictionary<long, TrialState>.Empty, "", 0, 0, 0, 0, null, null, 0, measureTargets);

    public bool BatchComplete
    {
        get
        {
            if (Trials.Count == 0 || BatchesUpdated > Batch)
            {
                return false;
            }
            // Asked after every result: the dictionary's own enumerator, no LINQ over Values.
            foreach (var (_, t) in Trials)
            {
                if (t.Reward is null && !t.Excluded)
                {
                    return false;
                }
            }
            return true;
        }
    }

    /// <summary>The trials of the batch the policy learns from, in trial-id order (not those the infrastructure failed).</summary>
    public IEnumerable<TrialState> Learned => Trials.Values.Where(t => !t.Excluded);

    public int InFlight => Trials.Values.Sum(t => (t.Train == WorkStatus.InFlight ? 1 : 0) + t.Measures.Count(m => m.Status == WorkStatus.InFlight));

    /// <summary>A result for a trial of an earlier batch, or a task already finished: ignore it.</summary>
    public bool IsDuplicate(long trialId, WorkKind kind, int target = 0) =>
        !Trials.TryGetValue(trialId, out var t) || (kind == WorkKind.Measure && (target < 0 || target >= t.Targets))
        || t.StatusOf(kind, target) is WorkStatus.Done or WorkStatus.Failed || t.IsFailed;

    /// <summary>The lowest trial id with pending work of this kind, so dispatch order is reproducible.</summary>
    public TrialState? NextPending(WorkKind kind) => Trials.Values.FirstOrDefault(t => t.NeedsWork(kind));

    /// <summary>The lowest (trial id, target) with pending work of this kind that <paramref name="eligible"/> accepts.</summary>
    public (TrialState Trial, int Target)? NextPending(WorkKind kind, Func<TrialState, int, bool> eligible)
    {
        foreach (var (_, t) in Trials)
        {
            for (var target = 0; target < (kind == WorkKind.Train ? 1 : t.Targets); target++)
            {
                if (t.NeedsWork(kind, target) && eligible(t, target))
                {
                    return (t, target);
                }
            }
        }
        return null;
    }

    /// <summary>Trained trials of a search with a predictor whose prediction is not journaled yet.</summary>
    public IEnumerable<TrialState> AwaitingPrediction => Predicting
        ? Trials.Values.Where(t => t.Train == WorkStatus.Done && t.PredictedMs is null && !t.IsFailed)
        : [];

    /// <summary>
    /// The batch barrier of a search with a predictor: every trial is trained and predicted, or failed, and the
    /// selection of the ones to measure is not made yet.
    /// </summary>
    public bool SelectionDue => Predicting
        && Trials.Values.Any(t => t.Choice == MeasureChoice.Awaiting && !t.IsFailed)
        && Trials.Values.All(t => t.IsFailed || (t.Train == WorkStatus.Done && t.PredictedMs is not null));

    public IEnumerable<TrialState> AwaitingReward => Trials.Values.Where(t => t.ReadyForReward && t.Reward is null && !t.Excluded);

    public SearchState Apply(ISearchEvent e)
    {
        var next = e switch
        {
            SearchStarted s => this with
            {
                Status = SearchStatus.Running,
                SettingsJson = s.SettingsJson,
                PolicyVersion = s.PolicyVersion,
                Chain = s.Chain,
                Predictor = s.Predictor,
            },
            BatchSampled b => this with
            {
                Batch = b.Batch,
                PolicyVersion = b.PolicyVersion,
                BatchFirstTrialId = b.Trials.Count > 0 ? b.Trials[0].TrialId : NextTrialId,
                NextTrialId = b.Trials.Count > 0 ? b.Trials[^1].TrialId + 1 : NextTrialId,
                Trials = b.Trials.ToImmutableSortedDictionary(t => t.TrialId, t => new TrialState(t.TrialId, b.Batch, t.Tokens, t.LogProb, t.ArchitectureId, t.Seed,
                    OtherMeasures: MeasureTargets > 1 ? [.. Enumerable.Repeat(new MeasureState(), MeasureTargets - 1)] : null,
                    Choice: Predicting ? MeasureChoice.Awaiting : MeasureChoice.Always)),
            },
            TrialDispatched { Kind: WorkKind.Final } d => UpdateFinal(d.TrialId, f => f with { Status = WorkStatus.InFlight, Attempts = d.Attempt }),
            TrialLeaseExpired { Kind: WorkKind.Final } x => UpdateFinal(x.TrialId, f => f.Status == WorkStatus.InFlight ? f with { Status = WorkStatus.Pending } : f),
            TrialDispatched d => Update(d.TrialId, t => t.With(d.Kind, WorkStatus.InFlight, d.Attempt, d.Target)),
            TrialLeaseExpired x => Update(x.TrialId, t => t.StatusOf(x.Kind, x.Target) == WorkStatus.InFlight ? t.With(x.Kind, WorkStatus.Pending, target: x.Target) : t),
            TrialTrained t => Update(t.TrialId, s => s.With(WorkKind.Train, WorkStatus.Done) with { Accuracy = t.Record.Accuracy }),
            LatencyMeasured m => Update(m.TrialId, s => s.WithMeasure(m.Target, x => x with { Status = WorkStatus.Done, LatencyMs = m.Record.MedianMs })),
            TrialFailed f => Update(f.TrialId, s => s.With(f.Kind, WorkStatus.Failed, target: f.Target) with { Failure = f.Reason, Excluded = f.Cause == FailureCause.Infrastructure }),
            LatencyPredicted p => Update(p.TrialId, s => s with { PredictedMs = p.PredictedMs }),
            MeasurementSelected m => m.Ranked.Aggregate(this, (state, r) => state.Update(r.TrialId, t => t with { Choice = m.Chosen.Contains(r.TrialId) ? MeasureChoice.Chosen : MeasureChoice.Skipped })),
            RewardComputed r => Update(r.TrialId, s => s with { Reward = r.Inputs }) with
            {
                TrialsRewarded = TrialsRewarded + 1,
                TrialsFailed = TrialsFailed + (r.Inputs.Failed ? 1 : 0),
                BestReward = !r.Inputs.Failed && (BestReward is null || r.Inputs.Reward > BestReward) ? r.Inputs.Reward : BestReward,
                BestTrial = !r.Inputs.Failed && (BestReward is null || r.Inputs.Reward > BestReward) ? r.TrialId : BestTrial,
            },
            PolicyUpdated p => this with { PolicyStep = p.Step, PolicyVersion = p.ParameterHash, BatchesUpdated = p.Batch + 1 },
            SearchPaused => this with { Status = SearchStatus.Paused },
            SearchResumed => this with
            {
                Status = SearchStatus.Running,
                Trials = Trials.ToImmutableSortedDictionary(kv => kv.Key, kv => Requeue(kv.Value)),
            },
            SearchCompleted => this with { Status = SearchStatus.Completed },
            FinalTrainingStarted f => this with
            {
                Finals = Finalists.SetItem(f.TrialId, new FinalState(f.TrialId, f.Tokens, f.ArchitectureId, f.RecipeJson, f.Epochs, f.Dataset, f.Resolution, f.TrainSize, f.Seed)),
            },
            FinalRunStarted r => (this with
            {
                FinalRunTrials = [.. r.Trials],
                FinalStatus = SearchStatus.Running,
                Finals = Finalists.ToImmutableSortedDictionary(kv => kv.Key, kv => kv.Value.Status == WorkStatus.InFlight ? kv.Value with { Status = WorkStatus.Pending } : kv.Value),
            }).FinalRunSettled(),
            FinalEpochCompleted c => UpdateFinal(c.TrialId, f => f with { Curve = f.EpochsDone.Add(c.Epoch) }),
            FinalTrained t => UpdateFinal(t.TrialId, f => f with { Status = WorkStatus.Done, Result = t.Record }).FinalRunSettled(),
            FinalTrainingFailed x => UpdateFinal(x.TrialId, f => f with { Status = WorkStatus.Failed, Failure = x.Reason }).FinalRunSettled(),
            FinalRunPaused => this with { FinalStatus = SearchStatus.Paused },
            _ => throw new ArgumentException($"unknown event {e.GetType().Name}", nameof(e)),
        };
        return next with { EventCount = EventCount + 1, LastLink = (e as JournaledEvent)?.Link ?? LastLink };
    }

    /// <summary>In-flight work whose worker is gone (crash or pause) goes back to pending.</summary>
    private static TrialState Requeue(TrialState t) => Enumerable.Range(0, t.Targets).Aggregate(
        t.With(WorkKind.Train, t.Train == WorkStatus.InFlight ? WorkStatus.Pending : t.Train),
        (s, target) => s.WithMeasure(target, m => m.Status == WorkStatus.InFlight ? m with { Status = WorkStatus.Pending } : m));

    private SearchState UpdateFinal(long trialId, Func<FinalState, FinalState> change) =>
        Finalists.TryGetValue(trialId, out var f) ? this with { Finals = Finalists.SetItem(trialId, change(f)) } : this;

    /// <summary>The run is completed once each of its finalists is trained or failed.</summary>
    private SearchState FinalRunSettled() => FinalStatus == SearchStatus.Running && FinalRun.All(f => f.Finished) ? this with { FinalStatus = SearchStatus.Completed } : this;

    private SearchState Update(long trialId, Func<TrialState, TrialState> change) =>
        Trials.TryGetValue(trialId, out var t) ? this with { Trials = Trials.SetItem(trialId, change(t)) } : this;
}
