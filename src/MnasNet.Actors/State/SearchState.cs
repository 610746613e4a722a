using System.Collections.Immutable;
using MnasNet.Actors.Protocol;

namespace MnasNet.Actors.State;

public enum SearchStatus
{
    New,
    Running,
    Paused,
    Completed,
}

public enum WorkStatus
{
    Pending,
    InFlight,
    Done,
    Failed,
}

/// <summary>A trial of the current batch as the controller sees it.</summary>
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
    RewardInputs? Reward = null)
{
    public WorkStatus StatusOf(WorkKind kind) => kind == WorkKind.Train ? Train : Measure;

    public int AttemptsOf(WorkKind kind) => kind == WorkKind.Train ? TrainAttempts : MeasureAttempts;

    public bool IsFailed => Train == WorkStatus.Failed || Measure == WorkStatus.Failed;

    /// <summary>Both results are in, or one failed (a failed trial needs no more work).</summary>
    public bool ReadyForReward => IsFailed || (Train == WorkStatus.Done && Measure == WorkStatus.Done);

    public bool NeedsWork(WorkKind kind) => !IsFailed && StatusOf(kind) == WorkStatus.Pending;

    public TrialState With(WorkKind kind, WorkStatus status, int? attempts = null) => kind == WorkKind.Train
        ? this with { Train = status, TrainAttempts = attempts ?? TrainAttempts }
        : this with { Measure = status, MeasureAttempts = attempts ?? MeasureAttempts };
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
    long EventCount)
{
    public static SearchState Empty(string searchId) =>
        new(searchId, SearchStatus.New, null, -1, 0, 0, ImmutableSortedDictionary<long, TrialState>.Empty, "", 0, 0, 0, 0, null, null, 0);

    public bool BatchComplete => Trials.Count > 0 && Trials.Values.All(t => t.Reward is not null) && BatchesUpdated <= Batch;

    public int InFlight => Trials.Values.Sum(t => (t.Train == WorkStatus.InFlight ? 1 : 0) + (t.Measure == WorkStatus.InFlight ? 1 : 0));

    /// <summary>A result for a trial of an earlier batch, or a task already finished: ignore it.</summary>
    public bool IsDuplicate(long trialId, WorkKind kind) =>
        !Trials.TryGetValue(trialId, out var t) || t.StatusOf(kind) is WorkStatus.Done or WorkStatus.Failed || t.IsFailed;

    /// <summary>The lowest trial id with pending work of this kind, so dispatch order is reproducible.</summary>
    public TrialState? NextPending(WorkKind kind) => Trials.Values.FirstOrDefault(t => t.NeedsWork(kind));

    public IEnumerable<TrialState> AwaitingReward => Trials.Values.Where(t => t.ReadyForReward && t.Reward is null);

    public SearchState Apply(ISearchEvent e)
    {
        var next = e switch
        {
            SearchStarted s => this with { Status = SearchStatus.Running, SettingsJson = s.SettingsJson, PolicyVersion = s.PolicyVersion },
            BatchSampled b => this with
            {
                Batch = b.Batch,
                PolicyVersion = b.PolicyVersion,
                BatchFirstTrialId = b.Trials.Count > 0 ? b.Trials[0].TrialId : NextTrialId,
                NextTrialId = b.Trials.Count > 0 ? b.Trials[^1].TrialId + 1 : NextTrialId,
                Trials = b.Trials.ToImmutableSortedDictionary(t => t.TrialId, t => new TrialState(t.TrialId, b.Batch, t.Tokens, t.LogProb, t.ArchitectureId, t.Seed)),
            },
            TrialDispatched d => Update(d.TrialId, t => t.With(d.Kind, WorkStatus.InFlight, d.Attempt)),
            TrialLeaseExpired x => Update(x.TrialId, t => t.StatusOf(x.Kind) == WorkStatus.InFlight ? t.With(x.Kind, WorkStatus.Pending) : t),
            TrialTrained t => Update(t.TrialId, s => s.With(WorkKind.Train, WorkStatus.Done) with { Accuracy = t.Record.Accuracy }),
            LatencyMeasured m => Update(m.TrialId, s => s.With(WorkKind.Measure, WorkStatus.Done) with { LatencyMs = m.Record.MedianMs }),
            TrialFailed f => Update(f.TrialId, s => s.With(f.Kind, WorkStatus.Failed) with { Failure = f.Reason }),
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
            _ => throw new ArgumentException($"unknown event {e.GetType().Name}", nameof(e)),
        };
        return next with { EventCount = EventCount + 1 };
    }

    /// <summary>In-flight work whose worker is gone (crash or pause) goes back to pending.</summary>
    private static TrialState Requeue(TrialState t) => t
        .With(WorkKind.Train, t.Train == WorkStatus.InFlight ? WorkStatus.Pending : t.Train)
        .With(WorkKind.Measure, t.Measure == WorkStatus.InFlight ? WorkStatus.Pending : t.Measure);

    private SearchState Update(long trialId, Func<TrialState, TrialState> change) =>
        Trials.TryGetValue(trialId, out var t) ? this with { Trials = Trials.SetItem(trialId, change(t)) } : this;
}
