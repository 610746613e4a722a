using Akka.Actor;
using Akka.Event;
using Akka.Persistence;
using MnasNet.Actors.Decisions;
using MnasNet.Actors.Journal;
using MnasNet.Actors.Protocol;
using MnasNet.Actors.Settings;
using MnasNet.Actors.State;

namespace MnasNet.Actors.Actors;

/// <summary>
/// One search as a persistent actor: every command goes to the <see cref="SearchDecider{TWorker}"/>, which decides
/// the events and effects; this actor journals the events and carries out the effects, in order.
/// </summary>
/// <remarks>
/// Events are folded into the session as soon as they are decided and written with PersistAsync, so the journal
/// groups writes. An effect that follows an event runs in that event's persist handler, i.e. once it is durable; an
/// effect that leaves the actor before any event of its decision waits (DeferAsync) for every event already
/// written. Nothing outside ever sees a decision the journal could lose: a crash loses at most events nobody has
/// heard of, and recovery recomputes them. Only logging, timers and death-watch happen at once. On recovery the
/// policy is restored from the newest journaled policy state (journals without states re-run the policy and must
/// reproduce their samples and updates).
/// </remarks>
public sealed class SearchController : ReceivePersistentActor, IWithTimers
{
    private readonly SearchDecider<IActorRef> _decider;
    private readonly IActorRef _rewardActor;
    private readonly IActorRef _subscriber;
    private readonly ILoggingAdapter _log = Context.GetLogger();
    private SearchSession<IActorRef> _session;
    private readonly SearchPolicy _policy;

    /// <param name="final">Set: this run trains the plan's finalists (<c>mnasnet train-final</c>) instead of running the search.</param>
    public SearchController(SearchSettings settings, IActorRef rewardActor, IActorRef subscriber, FinalTrainingPlan? final = null)
    {
        _decider = new SearchDecider<IActorRef>(settings, JournalChain.LoadKey(settings.Journal.KeyFile));
        _rewardActor = rewardActor;
        _subscriber = subscriber;
        _session = _decider.Initial();
        _policy = _decider.NewPolicy();
        PersistenceId = PersistenceIdFor(settings.Id);

        Recover<SnapshotOffer>(offer =>
        {
            var snapshot = (SearchSnapshot)offer.Snapshot;
            if (snapshot.State.EventCount != offer.Metadata.SequenceNr)
            {
                throw new JournalMismatchException($"snapshot of search {settings.Id} at sequence {offer.Metadata.SequenceNr} holds {snapshot.State.EventCount} events");
            }
            _session = _session with { Journaled = snapshot.State };
            _decider.RecoverSnapshot(_policy, snapshot);
        });
        Recover<ISearchEvent>(e =>
        {
            _decider.Recover(_session.Journaled, _policy, e);
            _session = _session with { Journaled = _session.Journaled.Apply(e) };
        });
        // Begin (and its search-started / search-resumed event) before any command: work requests stashed during
        // recovery must not dispatch before the in-flight work of the previous run is re-queued.
        Recover<RecoveryCompleted>(_ => Decide(final is null ? BeginRun.Instance : new BeginFinalRun(final), Self));

        Command<GetSearchStatus>(_ => Sender.Tell(_decider.Progress(_session)));
        Command<Terminated>(t => Decide(WorkerGone.Instance, t.ActorRef));
        Command<SaveSnapshotSuccess>(s =>
        {
            if (s.Metadata.PersistenceId == HeadIdFor(settings.Id))
            {
                SnapshotStore.Tell(new DeleteSnapshots(s.Metadata.PersistenceId, new SnapshotSelectionCriteria(s.Metadata.SequenceNr - 1)));
            }
            else
            {
                DeleteSnapshots(new SnapshotSelectionCriteria(s.Metadata.SequenceNr - 1));
            }
            Decide(SnapshotSettled.Instance, Self);
        });
        Command<SaveSnapshotFailure>(f =>
        {
            _log.Warning("search {SearchId}: snapshot failed: {Reason}", settings.Id, f.Cause.Message);
            Decide(SnapshotSettled.Instance, Self);
        });
        Command<DeleteSnapshotsSuccess>(_ => { });
        Command<DeleteSnapshotsFailure>(_ => { });
        Command<ISearchCommand>(c => Decide(c, Sender), SearchDecider<IActorRef>.Handles);
    }

    public override string PersistenceId { get; }

    public ITimerScheduler Timers { get; set; } = null!;

    public static string PersistenceIdFor(string searchId) => $"search-{searchId}";

    /// <summary>Where the journal's sealed head is kept (<see cref="JournalHead"/>, a snapshot).</summary>
    public static string HeadIdFor(string searchId) => $"search-{searchId}-head";

    public static Props Props(SearchSettings settings, IActorRef rewardActor, IActorRef subscriber, FinalTrainingPlan? final = null) =>
        Akka.Actor.Props.Create(() => new SearchController(settings, rewardActor, subscriber, final));

    /// <summary>Each trial's seed depends only on the search seed and its id, never on which worker ran it or when.</summary>
    public static ulong TrialSeed(ulong searchSeed, long trialId) => SearchDecider<IActorRef>.TrialSeed(searchSeed, trialId);

    private void Decide(object command, IActorRef sender)
    {
        var decision = _decider.Decide(_session, _policy, command, sender, DateTimeOffset.UtcNow);
        _session = decision.Session;
        var before = decision.Steps.TakeWhile(s => s is not JournalEvent).ToList();
        Carry(before.Where(e => !e.LeavesActor));
        if (before.Any(e => e.LeavesActor))
        {
            DeferAsync(before.Where(e => e.LeavesActor).ToList(), Carry);
        }
        // Each event with the effects that follow it, up to the next event; handlers run in order, once each is durable.
        var written = decision.Steps.Skip(before.Count).Aggregate(new List<(ISearchEvent Event, List<DecisionStep> After)>(), (list, step) =>
        {
            if (step is JournalEvent j)
            {
                list.Add((j.Event, []));
            }
            else
            {
                list[^1].After.Add(step);
            }
            return list;
        });
        var effects = new Queue<List<DecisionStep>>(written.Select(w => w.After));
        if (written.Count > 0)
        {
            PersistAllAsync(written.Select(w => w.Event), _ => Carry(effects.Dequeue()));
        }
    }

    private void Carry(IEnumerable<DecisionStep> effects)
    {
        foreach (var effect in effects)
        {
            switch (effect)
            {
                case SendToWorker<IActorRef> s: s.Worker.Tell(s.Message, Self); break;
                case Notify n: _subscriber.Tell(n.Message); break;
                case RequestReward r: _rewardActor.Tell(r.Request); break;
                case WriteSnapshot w: SnapshotStore.Tell(new SaveSnapshot(new SnapshotMetadata(SnapshotterId, w.Snapshot.State.EventCount, DateTime.UtcNow), w.Snapshot), Self); break;
                case SealHead h: SnapshotStore.Tell(new SaveSnapshot(new SnapshotMetadata(HeadIdFor(_decider.Settings.Id), h.Head.EventCount, DateTime.UtcNow), h.Head), Self); break;
                case WatchWorker<IActorRef> w: Context.Watch(w.Worker); break;
                case StartLeaseChecks t: Timers.StartPeriodicTimer("leases", CheckLeases.Instance, t.Period); break;
                case StartPauseGrace g: Timers.StartSingleTimer("pause-grace", PauseGraceOver.Instance, g.Grace); break;
                case WakeAfter w: Timers.StartSingleTimer(w.Name, CheckLeases.Instance, w.Delay); break;
                case CancelTimers: Timers.CancelAll(); break;
                case LogLine l: _log.Log(l.Level, l.Template, l.Args); break;
            }
        }
    }

    protected override void OnRecoveryFailure(Exception reason, object? message = null)
    {
        _log.Error(reason, "search {SearchId}: recovery failed", _decider.Settings.Id);
        // A journal that disagrees with the code is final; a database that cannot be read may come back.
        _subscriber.Tell(new SearchStopped(_decider.Settings.Id, SearchStatus.Failed.Word(), $"recovery failed: {reason.Message}", Transient: reason is not JournalMismatchException));
        base.OnRecoveryFailure(reason, message);
    }

    protected override void OnPersistFailure(Exception cause, object @event, long sequenceNr)
    {
        _log.Error(cause, "search {SearchId}: journal write failed at {SequenceNr}", _decider.Settings.Id, sequenceNr);
        _subscriber.Tell(new SearchStopped(_decider.Settings.Id, SearchStatus.Failed.Word(), $"journal write failed: {cause.Message}", Transient: true));
        base.OnPersistFailure(cause, @event, sequenceNr);
    }

    protected override void PostStop()
    {
        _policy.Dispose();
        base.PostStop();
    }
}
