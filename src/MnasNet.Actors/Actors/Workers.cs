using Akka.Actor;
using Akka.Event;
using MnasNet.Actors.Backends;
using MnasNet.Actors.Protocol;
using MnasNet.Actors.Settings;
using MnasNet.Actors.Timing;

namespace MnasNet.Actors.Actors;

/// <summary>
/// A worker that pulls: it asks for work when free, runs one piece of work off the mailbox thread (PipeTo), reports
/// the result to the controller that offered it, and asks again. A <see cref="CancelWork"/> for its trial cancels the
/// run, and so does the death of the controller that offered it (its node died: the controller that takes the search
/// over dispatches the work again). An offer it cannot take (busy, or the search's settings unknown) is declined, so
/// the controller re-dispatches at once instead of waiting for the lease. Under a virtual clock every message it sends and the work it runs are
/// held on the clock (<see cref="SearchClock.Hold"/>) until handled, so virtual time moves only when all is quiet.
/// </summary>
public abstract class PullWorker<TBackend> : ReceiveActor, IWithTimers
    where TBackend : class
{
    private readonly IActorRef _workSource;
    private readonly WorkKind _kind;
    private readonly WorkerBackends<TBackend> _backends;
    private readonly string? _platform;
    private readonly TimeSpan? _repeatRequest;
    private readonly ILoggingAdapter _log = Context.GetLogger();
    private CancellationTokenSource? _cancel;
    private (long TrialId, IActorRef Controller)? _current;
    private IActorRef? _watched;

    /// <param name="workSource">Where requests go: the controller (one process) or a cluster-wide broadcaster.</param>
    /// <param name="repeatRequest">
    /// In a cluster the controller may move to another node and forget its idle workers: an idle worker then repeats
    /// its request this often. Null (one process) = ask once.
    /// </param>
    protected PullWorker(IActorRef workSource, WorkKind kind, WorkerBackends<TBackend> backends, string? platform, TimeSpan? repeatRequest, SearchClock? clock)
    {
        Clock = clock ?? SearchClock.Real;
        _workSource = workSource;
        _kind = kind;
        _backends = backends;
        _platform = platform;
        _repeatRequest = repeatRequest;
        WorkerId = Self.Path.Name;
        Idle();
    }

    protected string WorkerId { get; }

    protected SearchClock Clock { get; }

    /// <summary>The controller that offered the work being run (read it in RunAsync before its first await).</summary>
    protected IActorRef? WorkController => _current?.Controller;

    public ITimerScheduler Timers { get; set; } = null!;

    protected abstract Task<ISearchCommand> RunAsync(TBackend backend, WorkOffer work, CancellationToken cancellationToken);

    /// <summary>The controller confirmed an epoch of the final training this worker runs (trainers only).</summary>
    protected virtual void EpochJournaled(FinalEpochJournaled journaled)
    {
    }

    protected override void PreStart() => AskForWork();

    protected override void PostStop() => _backends.Dispose();

    private RequestWork Request => new(_kind, WorkerId, _platform);

    private void Send(IActorRef to, object message)
    {
        Clock.Hold();
        to.Tell(message);
    }

    private void AskForWork()
    {
        Send(_workSource, Request);
        if (_repeatRequest is { } every)
        {
            Timers.StartPeriodicTimer("ask", RepeatRequest.Instance, every);
        }
    }

    private void Idle()
    {
        Receive<WorkOffer>(o =>
        {
            Start(o);
            Clock.Release();
        });
        Receive<CancelWork>(_ => Clock.Release());
        Receive<FinalEpochJournaled>(_ => Clock.Release());
        Receive<Terminated>(_ => { });
        Receive<RepeatRequest>(_ => Send(_workSource, Request));
    }

    private void Busy()
    {
        Receive<WorkOffer>(o =>
        {
            Decline(o, $"busy with trial {_current?.TrialId}");
            Clock.Release();
        });
        Receive<CancelWork>(c =>
        {
            if (c.TrialId == _current?.TrialId && _current?.Controller.Equals(Sender) == true)
            {
                _log.Info("worker {Worker}: abandoning trial {TrialId}", WorkerId, c.TrialId);
                _cancel?.Cancel();
            }
            Clock.Release();
        });
        Receive<FinalEpochJournaled>(j =>
        {
            if (j.TrialId == _current?.TrialId && _current?.Controller.Equals(Sender) == true)
            {
                EpochJournaled(j);
            }
            Clock.Release();
        });
        Receive<RepeatRequest>(_ => { });
        Receive<Terminated>(t =>
        {
            if (t.ActorRef.Equals(_current?.Controller))
            {
                _log.Info("worker {Worker}: the controller of trial {TrialId} is gone; abandoning it", WorkerId, _current?.TrialId);
                _cancel?.Cancel();
            }
        });
        Receive<Finished>(f =>
        {
            _cancel?.Dispose();
            var controller = _current!.Value.Controller;
            (_cancel, _current) = (null, null);
            if (f.Result is not null)
            {
                Send(controller, f.Result);
            }
            AskForWork();
            Become(Idle);
            // The run's own hold: everything it caused is held by now.
            Clock.Release();
        });
    }

    private void Decline(WorkOffer offer, string reason)
    {
        _log.Debug("worker {Worker}: declines trial {TrialId} of search {SearchId}: {Reason}", WorkerId, offer.TrialId, offer.SearchId, reason);
        Send(Sender, new WorkDeclined(offer.SearchId, offer.TrialId, offer.Kind, offer.Attempt, WorkerId, reason, offer.Target));
    }

    private void Start(WorkOffer work)
    {
        TBackend backend;
        try
        {
            backend = _backends.For(work);
        }
        catch (Exception e) when (e is SettingsException or System.Text.Json.JsonException)
        {
            Decline(work, e.Message);
            return;
        }
        Timers.Cancel("ask");
        // Other controllers may hold this worker's request too (cluster): tell them it is taken. A work source that is
        // the offering controller itself already took the request off its list when it offered.
        if (!Sender.Equals(_workSource))
        {
            Send(_workSource, new WithdrawWorkRequest(_kind, WorkerId));
        }
        _cancel = new CancellationTokenSource();
        _current = (work.TrialId, Sender);
        // The controller stays watched between its trials (a Terminated of one the worker does not work for is ignored).
        if (!Sender.Equals(_watched))
        {
            if (_watched is not null)
            {
                Context.Unwatch(_watched);
            }
            _watched = Context.Watch(Sender);
        }
        _log.Debug("worker {Worker}: trial {TrialId} {Kind} attempt {Attempt} of search {SearchId}", WorkerId, work.TrialId, work.Kind, work.Attempt, work.SearchId);
        var token = _cancel.Token;
        Clock.Hold();
        Task<ISearchCommand> run;
        try
        {
            run = RunAsync(backend, work, token);
        }
        catch (Exception e)
        {
            run = Task.FromException<ISearchCommand>(e);
        }
        run.PipeTo(Self,
            success: r => new Finished(r),
            failure: e => new Finished((e is OperationCanceledException or TaskCanceledException && token.IsCancellationRequested) || Lost(e)
                ? null
                : new WorkFailed(work.SearchId, work.TrialId, work.Kind, work.Attempt, WorkerId, Reason(e), work.Target, CauseOf(e))));
        Become(Busy);
    }

    private static bool Lost(Exception e) => e is WorkLostException || e.InnerException is WorkLostException;

    /// <summary>Faults of the machines, not of the architecture: the controller tries the work again.</summary>
    private static FailureCause CauseOf(Exception e) => e switch
    {
        AggregateException { InnerException: { } inner } => CauseOf(inner),
        InfrastructureFaultException or TransientDeviceException or IOException or UnauthorizedAccessException => FailureCause.Infrastructure,
        _ => FailureCause.Architecture,
    };

    private static string Reason(Exception e) => e switch
    {
        AggregateException { InnerException: { } inner } => Reason(inner),
        TrialFailureException or InfrastructureFaultException => e.Message,
        _ => $"{e.GetType().Name}: {e.Message}",
    };

    /// <summary>Internal: the run ended; null result = cancelled (nothing to report).</summary>
    private sealed record Finished(ISearchCommand? Result) : INoSerializationVerificationNeeded;

    private sealed record RepeatRequest : INoSerializationVerificationNeeded
    {
        public static RepeatRequest Instance { get; } = new();
    }
}

/// <summary>
/// A worker's backend per search. A single-node search gives one fixed backend; a cluster worker node builds one
/// from the settings that arrive with a search's first offer and keeps the few most recent searches' backends.
/// </summary>
public sealed class WorkerBackends<TBackend> : IDisposable
    where TBackend : class
{
    private readonly TBackend? _fixed;
    private readonly Func<SearchSettings, TBackend>? _create;
    private readonly NodeOptions _node = new();
    private readonly Action<TBackend> _dispose;
    private readonly RecentlyUsed<TBackend> _bySearch;

    private WorkerBackends(TBackend? @fixed, Func<SearchSettings, TBackend>? create, Action<TBackend> dispose, NodeOptions? node = null) =>
        (_fixed, _create, _dispose, _bySearch, _node) = (@fixed, create, dispose, new RecentlyUsed<TBackend>(4, dispose), node ?? new NodeOptions());

    public static WorkerBackends<TBackend> Fixed(TBackend backend, Action<TBackend> dispose) => new(backend, null, dispose);

    /// <summary>Backends built from each search's offered definition, run with this node's options.</summary>
    public static WorkerBackends<TBackend> PerSearch(Func<SearchSettings, TBackend> create, Action<TBackend> dispose, NodeOptions? node = null) => new(null, create, dispose, node);

    /// <exception cref="SettingsException">The search is new to this worker and the offer carries no (valid) settings.</exception>
    public TBackend For(WorkOffer offer)
    {
        if (_fixed is not null)
        {
            return _fixed;
        }
        if (_bySearch.TryGet(offer.SearchId, out var known))
        {
            return known;
        }
        if (offer.SettingsJson is null)
        {
            throw new SettingsException($"settings of search {offer.SearchId} unknown to this worker");
        }
        var backend = _create!(SettingsLoader.FromJson(offer.SettingsJson, _node));
        _bySearch.Add(offer.SearchId, backend);
        return backend;
    }

    public void Dispose()
    {
        foreach (var b in _bySearch.Values.Append(_fixed).OfType<TBackend>())
        {
            _dispose(b);
        }
        _bySearch.Clear();
    }
}

/// <summary>Trains one trial at a time (several per node).</summary>
public sealed class TrainerWorker(IActorRef workSource, WorkerBackends<ITrainerBackend> backends, TimeSpan? repeatRequest = null, SearchClock? clock = null)
    : PullWorker<ITrainerBackend>(workSource, WorkKind.Train, backends, null, repeatRequest, clock)
{
    protected override async Task<ISearchCommand> RunAsync(ITrainerBackend backend, WorkOffer work, CancellationToken cancellationToken)
    {
        if (work.Kind != WorkKind.Final)
        {
            return new TrainingDone(work.SearchId, work.TrialId, work.Attempt, WorkerId, await backend.TrainAsync(work, cancellationToken));
        }
        // Epochs are reported as they finish, from the training thread; the result follows them from the same sender, so it arrives after them.
        var (controller, self, id) = (WorkController!, Self, WorkerId);
        var journaled = new JournaledEpoch(work.Attempt, work.Final?.ResumeFrom?.Epoch ?? 0);
        _journaled = journaled;
        var record = await backend.TrainFinalAsync(work, epoch => controller.Tell(new FinalEpochDone(work.SearchId, work.TrialId, work.Attempt, id, epoch), self), journaled.Read, cancellationToken);
        return new FinalTrainingDone(work.SearchId, work.TrialId, work.Attempt, WorkerId, record);
    }

    private JournaledEpoch? _journaled;

    protected override void EpochJournaled(FinalEpochJournaled journaled)
    {
        if (_journaled is { } current && current.Attempt == journaled.Attempt)
        {
            current.Advance(journaled.Epoch);
        }
    }

    /// <summary>The newest journaled epoch of the running attempt: written by the worker's mailbox, read by the training thread.</summary>
    private sealed class JournaledEpoch(int attempt, int epoch)
    {
        private int _epoch = epoch;

        public int Attempt { get; } = attempt;

        public int Read() => Volatile.Read(ref _epoch);

        public void Advance(int epoch) => Volatile.Write(ref _epoch, Math.Max(Read(), epoch));
    }

    public static Props Props(IActorRef controller, ITrainerBackend backend, SearchClock? clock = null) =>
        Props(controller, WorkerBackends<ITrainerBackend>.Fixed(backend, b => b.Dispose()), clock: clock);

    public static Props Props(IActorRef workSource, WorkerBackends<ITrainerBackend> backends, TimeSpan? repeatRequest = null, SearchClock? clock = null) =>
        Akka.Actor.Props.Create(() => new TrainerWorker(workSource, backends, repeatRequest, clock));
}

/// <summary>How a device worker retries a transient device fault: up to MaxAttempts tries, the delay doubling from FirstDelay.</summary>
public sealed record DeviceRetry(int MaxAttempts, TimeSpan FirstDelay)
{
    public static DeviceRetry Default { get; } = new(3, TimeSpan.FromSeconds(2));

    public static DeviceRetry Of(SearchSettings settings) => new(settings.Workers.MaxAttempts, TimeSpan.FromSeconds(settings.Workers.RetryDelaySeconds));

    public TimeSpan DelayAfter(int attempt) => FirstDelay * Math.Pow(2, attempt - 1);
}

/// <summary>
/// Owns one device: measures one model at a time (devices are exclusive) and advertises its platform. A transient
/// device fault (<see cref="TransientDeviceException"/>) is retried with back-off here, so a phone that drops off
/// for a moment does not fail the trial; when the attempts are spent the trial fails with the last fault.
/// </summary>
public sealed class DeviceWorker(IActorRef workSource, WorkerBackends<IDeviceBackend> backends, DevicePlatform platform, TimeSpan? repeatRequest = null, DeviceRetry? retry = null, SearchClock? clock = null)
    : PullWorker<IDeviceBackend>(workSource, WorkKind.Measure, backends, platform.ToString(), repeatRequest, clock)
{
    private readonly DeviceRetry _retry = retry ?? DeviceRetry.Default;
    private readonly ILoggingAdapter _retryLog = Context.GetLogger();

    protected override async Task<ISearchCommand> RunAsync(IDeviceBackend backend, WorkOffer work, CancellationToken cancellationToken)
    {
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                return new MeasurementDone(work.SearchId, work.TrialId, work.Attempt, WorkerId, await backend.MeasureAsync(work, cancellationToken), work.Target);
            }
            catch (TransientDeviceException e) when (attempt < _retry.MaxAttempts)
            {
                _retryLog.Warning("worker {Worker}: trial {TrialId}: device fault ({Reason}); attempt {Attempt} of {MaxAttempts} in {Delay}", WorkerId, work.TrialId, e.Message, attempt + 1, _retry.MaxAttempts, _retry.DelayAfter(attempt));
                await Clock.Delay(_retry.DelayAfter(attempt), cancellationToken);
            }
            catch (TransientDeviceException e)
            {
                throw new InfrastructureFaultException($"device unavailable after {attempt} attempt{(attempt == 1 ? "" : "s")}: {e.Message}", e);
            }
        }
    }

    public static Props Props(IActorRef controller, IDeviceBackend backend, DevicePlatform platform, DeviceRetry? retry = null, SearchClock? clock = null) =>
        Props(controller, WorkerBackends<IDeviceBackend>.Fixed(backend, DisposeDevice), platform, retry: retry, clock: clock);

    public static Props Props(IActorRef workSource, WorkerBackends<IDeviceBackend> backends, DevicePlatform platform, TimeSpan? repeatRequest = null, DeviceRetry? retry = null, SearchClock? clock = null) =>
        Akka.Actor.Props.Create(() => new DeviceWorker(workSource, backends, platform, repeatRequest, retry, clock));

    public static void DisposeDevice(IDeviceBackend backend) => backend.DisposeAsync().AsTask().GetAwaiter().GetResult();
}
