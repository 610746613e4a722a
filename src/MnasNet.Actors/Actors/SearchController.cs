using Akka.Actor;
using Akka.Event;
using Akka.Persistence;
using MnasNet.Actors.Backends;
using MnasNet.Actors.Decisions;
using MnasNet.Actors.Journal;
using MnasNet.Actors.Policy;
using MnasNet.Actors.Protocol;
using MnasNet.Actors.Serialization;
using MnasNet.Actors.Settings;
using MnasNet.Actors.State;
using MnasNet.Actors.Timing;

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
/// heard of, and recovery recomputes them. Only logging, timers and death-watch happen at once (under a virtual clock
/// also what goes to the simulated workers in this process, see <see cref="AtOnce"/>). On recovery the
/// policy is restored from the newest journaled policy state (journals without states re-run the policy and must
/// reproduce their samples and updates). Time — <c>now</c> of each decision, timers, event timestamps — comes from the
/// <see cref="SearchClock"/>; under a virtual clock every command is held on it until handled here, and a snapshot or
/// a message out until it is done, so the clock moves only when every decision due has been made and carried out.
/// </remarks>
public sealed class SearchController : ReceivePersistentActor, IWithTimers
{
    private readonly SearchDecider<IActorRef> _decider;
    private readonly IActorRef _rewardActor;
    private readonly IActorRef _subscriber;
    private readonly ILoggingAdapter _log = Context.GetLogger();
    private SearchSession<IActorRef> _session;
    private readonly SearchPolicy _policy;
    private readonly SearchClock _clock;
    private readonly Dictionary<string, IDisposable> _virtualTimers = [];
    private readonly bool _eagerEffects;

    /// <param name="final">Set: this run trains the plan's finalists (<c>mnasnet train-final</c>) instead of running the search.</param>
    /// <param name="predictor">The latency predictor the caller already loaded and checked (default: loaded from the file the settings name).</param>
    public SearchController(SearchSettings settings, IActorRef rewardActor, IActorRef subscriber, WarmStartPlan? warmStart = null, SearchClock? clock = null, FinalTrainingPlan? final = null,
        LatencyPredictor? predictor = null)
    {
        _clock = clock ?? SearchClock.Real;
        var simulation = settings.Simulation;
        _eagerEffects = _clock.IsVirtual && JournalOutage.Parse(simulation.JournalOutages).Count == 0
            && (simulation.TrainSeconds > 0 || simulation.MeasureSeconds > 0 || simulation.Cost.Enabled);
        _decider = new SearchDecider<IActorRef>(settings, JournalChain.LoadKey(settings.Journal.KeyFile), warmStart: warmStart, virtualTime: _clock.IsVirtual, predictor: predictor);
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
            _clock.Release();
        });
        Command<SaveSnapshotFailure>(f =>
        {
            _log.Warning("search {SearchId}: snapshot failed: {Reason}", settings.Id, f.Cause.Message);
            Decide(SnapshotSettled.Instance, Self);
            _clock.Release();
        });
        Command<DeleteSnapshotsSuccess>(_ => { });
        Command<DeleteSnapshotsFailure>(_ => { });
        Command<ISearchCommand>(c =>
        {
            Decide(c, Sender);
            _clock.Release();
        }, SearchDecider<IActorRef>.Handles);
    }

    public override string PersistenceId { get; }

    public ITimerScheduler Timers { get; set; } = null!;

    public static string PersistenceIdFor(string searchId) => $"search-{searchId}";

    /// <summary>Where the journal's sealed head is kept (<see cref="JournalHead"/>, a snapshot).</summary>
    public static string HeadIdFor(string searchId) => $"search-{searchId}-head";

    /// <param name="warmStart">Used only if the search is new (see <see cref="SearchDecider{TWorker}"/>).</param>
    public static Props Props(SearchSettings settings, IActorRef rewardActor, IActorRef subscriber, WarmStartPlan? warmStart = null, SearchClock? clock = null, FinalTrainingPlan? final = null,
        LatencyPredictor? predictor = null) =>
        Akka.Actor.Props.Create(() => new SearchController(settings, rewardActor, subscriber, warmStart, clock, final, predictor));

    /// <summary>Each trial's seed depends only on the search seed and its id, never on which worker ran it or when.</summary>
    public static ulong TrialSeed(ulong searchSeed, long trialId) => SearchDecider<IActorRef>.TrialSeed(searchSeed, trialId);

    private void Decide(object command, IActorRef sender)
    {
        var decision = _decider.Decide(_session, _policy, command, sender, _clock.Now);
        _session = decision.Session;
        // One pass over the steps: what runs now, what leaves before the first event (after every earlier write), and
        // each event with the effects that follow it up to the next event (run in order, once each is durable).
        List<DecisionStep>? atOnce = null, deferred = null;
        List<object>? written = null;
        Queue<List<DecisionStep>>? effects = null;
        List<DecisionStep>? after = null;
        var holds = !_eagerEffects;
        foreach (var step in decision.Steps)
        {
            if (AtOnce(step))
            {
                (atOnce ??= []).Add(step);
            }
            else if (step is JournalEvent j)
            {
                (written ??= []).Add(j.Payload is { } payload ? new SerializedEvent(j.Event, payload) : j.Event);
                (effects ??= new Queue<List<DecisionStep>>()).Enqueue(after = []);
            }
            else if (after is not null)
            {
                after.Add(step);
                // Under the virtual clock a write holds it only when a snapshot waits for it (SnapshotSettled is a command).
                holds |= step is WriteSnapshot or SealHead;
            }
            else if (step.LeavesActor)
            {
                (deferred ??= []).Add(step);
            }
            else
            {
                (atOnce ??= []).Add(step);
            }
        }
        if (atOnce is not null)
        {
            Carry(atOnce);
        }
        if (deferred is not null)
        {
            _clock.Hold();
            DeferAsync(deferred, steps =>
            {
                Carry(steps);
                _clock.Release();
            });
        }
        if (written is not null)
        {
            if (holds)
            {
                _clock.Hold();
            }
            PersistAllAsync(written, _ =>
            {
                Carry(effects!.Dequeue());
                if (effects.Count == 0 && holds)
                {
                    _clock.Release();
                }
            });
        }
    }

    /// <summary>
    /// Under the virtual clock the workers are simulated in this process and die with it: offers and cancellations to
    /// them, reward requests and timers cannot be seen outside it, so they are carried out as decided and the clock
    /// does not wait for journal writes (which then group the events of many of its points in time). What can be
    /// seen outside — notifications (progress, stopped) and snapshots — still waits until its events are durable.
    /// Under the real clock only steps before a decision's first event that stay in the actor run at once.
    /// </summary>
    /// <remarks>
    /// Not with <c>simulation.journalOutages</c>: whether a write fails then depends on the virtual time it is made
    /// at, so writes hold the clock (made at the time of their decision, as under the real clock's rules) and what
    /// follows an event waits for it, exactly as in real time. Nor when work takes no virtual time (no fixed
    /// durations, no cost model): nothing then waits for the clock, so only its writes pace the search, which keeps
    /// a pause or an interrupt landing within a few events instead of after the whole search.
    /// </remarks>
    private bool AtOnce(DecisionStep step) => _eagerEffects && step is not (JournalEvent or Notify or WriteSnapshot or SealHead);

    private void Carry(List<DecisionStep> effects)
    {
        foreach (var effect in effects)
        {
            switch (effect)
            {
                case SendToWorker<IActorRef> s: Send(s.Worker, s.Message); break;
                case Notify n: _subscriber.Tell(n.Message); break;
                case RequestReward r: Send(_rewardActor, r.Request); break;
                case WriteSnapshot w: Send(SnapshotStore, new SaveSnapshot(new SnapshotMetadata(SnapshotterId, w.Snapshot.State.EventCount, _clock.Now.UtcDateTime), w.Snapshot)); break;
                case SealHead h: Send(SnapshotStore, new SaveSnapshot(new SnapshotMetadata(HeadIdFor(_decider.Settings.Id), h.Head.EventCount, _clock.Now.UtcDateTime), h.Head)); break;
                case WatchWorker<IActorRef> w: Context.Watch(w.Worker); break;
                case StartLeaseChecks t: StartTimer("leases", CheckLeases.Instance, t.Period, periodic: true); break;
                case StartPauseGrace g: StartTimer("pause-grace", PauseGraceOver.Instance, g.Grace); break;
                case WakeAfter w: StartTimer(w.Name, CheckLeases.Instance, w.Delay); break;
                case CancelTimers: CancelAllTimers(); break;
                case LogLine l: _log.Log(l.Level, l.Template, l.Args); break;
            }
        }
    }

    /// <summary>A message out that comes back as a command (or a snapshot reply), held on the clock until handled.</summary>
    private void Send(IActorRef to, object message)
    {
        _clock.Hold();
        to.Tell(message, Self);
    }

    private void StartTimer(string name, ISearchCommand message, TimeSpan delay, bool periodic = false)
    {
        if (_clock is not VirtualSearchClock clock)
        {
            if (periodic)
            {
                Timers.StartPeriodicTimer(name, message, delay);
            }
            else
            {
                Timers.StartSingleTimer(name, message, delay);
            }
            return;
        }
        if (_virtualTimers.Remove(name, out var previous))
        {
            previous.Dispose();
        }
        var self = Self;
        _virtualTimers[name] = clock.Schedule(delay, () => self.Tell(message, self), periodic ? delay : null);
    }

    private void CancelAllTimers()
    {
        Timers.CancelAll();
        foreach (var timer in _virtualTimers.Values)
        {
            timer.Dispose();
        }
        _virtualTimers.Clear();
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
        CancelAllTimers();
        _policy.Dispose();
        base.PostStop();
    }
}
