using Akka.Event;
using MnasNet.Actors.Protocol;

namespace MnasNet.Actors.Decisions;

/// <summary>
/// One step of a <see cref="Decision{TWorker}"/>, carried out in order by the controller: an event to journal or an
/// effect. An effect after an event runs once that event is durable; an effect that leaves the actor
/// (<see cref="LeavesActor"/>) and comes before the decision's first event waits for every earlier event instead.
/// </summary>
public abstract record DecisionStep
{
    public virtual bool LeavesActor => false;
}

/// <summary>An event to journal; <see cref="Payload"/>: its stored bytes, serialized once when it was chained (null: serialize when written).</summary>
public sealed record JournalEvent(ISearchEvent Event) : DecisionStep
{
    public byte[]? Payload { get; init; }

    // The payload is derived from the event: steps are equal when their events are.
    public bool Equals(JournalEvent? other) => other is not null && Event.Equals(other.Event);

    public override int GetHashCode() => Event.GetHashCode();
}

/// <summary>A message to a worker (a work offer, a cancellation).</summary>
public sealed record SendToWorker<TWorker>(TWorker Worker, ISearchCommand Message) : DecisionStep
{
    public override bool LeavesActor => true;
}

/// <summary>A message to whoever started the search (progress, first dispatch, stopped).</summary>
public sealed record Notify(ISearchCommand Message) : DecisionStep
{
    public override bool LeavesActor => true;
}

/// <summary>Ask the reward actor; its inputs are all journaled by the time this runs.</summary>
public sealed record RequestReward(ComputeReward Request) : DecisionStep
{
    public override bool LeavesActor => true;
}

public sealed record WriteSnapshot(SearchSnapshot Snapshot) : DecisionStep
{
    public override bool LeavesActor => true;
}

/// <summary>Seal the journal's head (a snapshot under <c>search-ID-head</c>) when the search stops at rest.</summary>
public sealed record SealHead(JournalHead Head) : DecisionStep
{
    public override bool LeavesActor => true;
}

/// <summary>Learn when the worker stops (its leases then expire).</summary>
public sealed record WatchWorker<TWorker>(TWorker Worker) : DecisionStep;

public sealed record StartLeaseChecks(TimeSpan Period) : DecisionStep;

public sealed record StartPauseGrace(TimeSpan Grace) : DecisionStep;

/// <summary>Look for work to dispatch again once a back-off is over (named by the work, so back-offs do not replace each other).</summary>
public sealed record WakeAfter(string Name, TimeSpan Delay) : DecisionStep;

public sealed record CancelTimers : DecisionStep;

public sealed record LogLine(LogLevel Level, string Template, params object?[] Args) : DecisionStep;

/// <summary>What the decider decided: the session after it, and the steps to carry out.</summary>
public sealed record Decision<TWorker>(SearchSession<TWorker> Session, IReadOnlyList<DecisionStep> Steps)
    where TWorker : notnull
{
    public IEnumerable<ISearchEvent> Events => Steps.OfType<JournalEvent>().Select(j => j.Event);
}

/// <summary>Inputs of the decider that are no protocol message.</summary>
public sealed record BeginRun
{
    public static BeginRun Instance { get; } = new();
}

/// <summary>The sender (a watched worker) stopped.</summary>
public sealed record WorkerGone
{
    public static WorkerGone Instance { get; } = new();
}

/// <summary>A snapshot save finished, well or not.</summary>
public sealed record SnapshotSettled
{
    public static SnapshotSettled Instance { get; } = new();
}
