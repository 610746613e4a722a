using System.Collections.Immutable;
using MnasNet.Actors.Protocol;
using MnasNet.Actors.State;

namespace MnasNet.Actors.Decisions;

/// <summary>One piece of work: a trial's training (target 0) or its measurement for one target platform.</summary>
public readonly record struct WorkKey(long TrialId, WorkKind Kind, int Target) : IComparable<WorkKey>
{
    public int CompareTo(WorkKey other) => (TrialId, Kind, Target).CompareTo((other.TrialId, other.Kind, other.Target));
}

/// <summary>Work handed to a worker, valid until <see cref="Deadline"/>.</summary>
public sealed record Lease<TWorker>(TWorker Worker, string WorkerId, int Attempt, DateTime Deadline);

/// <summary>A worker that asked for work and has none; <see cref="Platform"/> is a device's (null: any target).</summary>
public sealed record IdleWorker<TWorker>(TWorker Worker, string WorkerId, string? Platform);

/// <summary>
/// Everything the decider decides on: the journaled <see cref="SearchState"/> (rebuilt by recovery) and what this
/// run of the controller knows beyond the journal (leases, idle workers, pause, snapshots in flight), which a
/// restart forgets on purpose: in-flight work is re-queued by search-resumed.
/// </summary>
/// <typeparam name="TWorker">How a worker is addressed: an actor ref in the actor, anything equatable in tests.</typeparam>
public sealed record SearchSession<TWorker>(
    SearchState Journaled,
    ImmutableSortedDictionary<WorkKey, Lease<TWorker>> Leases,
    ImmutableList<IdleWorker<TWorker>> IdleTrainers,
    ImmutableList<IdleWorker<TWorker>> IdleDevices,
    ImmutableHashSet<TWorker> Briefed,
    ImmutableHashSet<long> RewardRequested,
    ImmutableDictionary<(string Platform, int Target), bool> PlatformMatches,
    string? PauseReason,
    bool Stopped,
    bool DispatchedSinceStart,
    int SnapshotsInFlight,
    SearchStopped? StopNotice)
    where TWorker : notnull
{
    public static SearchSession<TWorker> Of(SearchState journaled) => new(journaled, ImmutableSortedDictionary<WorkKey, Lease<TWorker>>.Empty,
        [], [], [], [], ImmutableDictionary<(string, int), bool>.Empty, null, false, false, 0, null);

    public bool Pausing => PauseReason is not null;

    /// <summary>Work an infrastructure fault sent back, not to be dispatched again before its back-off is over.</summary>
    public ImmutableDictionary<WorkKey, DateTimeOffset> RetryAt { get; init; } = ImmutableDictionary<WorkKey, DateTimeOffset>.Empty;

    /// <summary>No work is dispatched before this time (a simulated policy update takes its time).</summary>
    public DateTimeOffset? DispatchFrom { get; init; }


    /// <summary>Set when this run of the controller does final training (<c>mnasnet train-final</c>) instead of the search.</summary>
    public FinalTrainingPlan? FinalPlan { get; init; }

    public bool FinalMode => FinalPlan is not null;

    /// <summary>Trainers do final training too.</summary>
    public ImmutableList<IdleWorker<TWorker>> Idle(WorkKind kind) => kind == WorkKind.Measure ? IdleDevices : IdleTrainers;

    public SearchSession<TWorker> WithIdle(WorkKind kind, ImmutableList<IdleWorker<TWorker>> idle) =>
        kind == WorkKind.Measure ? this with { IdleDevices = idle } : this with { IdleTrainers = idle };

    public SearchSession<TWorker> WithoutIdle(TWorker worker) => this with
    {
        IdleTrainers = IdleTrainers.RemoveAll(w => w.Worker.Equals(worker)),
        IdleDevices = IdleDevices.RemoveAll(w => w.Worker.Equals(worker)),
    };

    /// <summary>Running and neither pausing nor stopped: work may be handed out.</summary>
    public bool Dispatching => !Pausing && !Stopped && (FinalMode ? Journaled.FinalStatus == SearchStatus.Running : Journaled.Status == SearchStatus.Running);
}
