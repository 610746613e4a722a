using Akka.Actor;
using Akka.Event;
using MnasNet.Actors.Backends;
using MnasNet.Actors.Protocol;

namespace MnasNet.Actors.Actors;

/// <summary>
/// A worker that pulls: it asks the controller for work when free, runs one piece of work off the mailbox thread
/// (PipeTo), reports the result, and asks again. A <see cref="CancelWork"/> for its trial cancels the run.
/// </summary>
public abstract class PullWorker : ReceiveActor, IWithTimers
{
    private readonly IActorRef _controller;
    private readonly WorkKind _kind;
    private readonly ILoggingAdapter _log = Context.GetLogger();
    private CancellationTokenSource? _cancel;
    private long? _current;

    private readonly TimeSpan? _repeatRequest;

    /// <param name="repeatRequest">
    /// In a cluster the controller may move to another node and forget its idle workers: an idle worker then repeats
    /// its request this often. Null (one process) = ask once.
    /// </param>
    protected PullWorker(IActorRef controller, WorkKind kind, TimeSpan? repeatRequest = null)
    {
        _controller = controller;
        _kind = kind;
        _repeatRequest = repeatRequest;
        WorkerId = Self.Path.Name;
        Idle();
    }

    protected string WorkerId { get; }

    public ITimerScheduler Timers { get; set; } = null!;

    protected abstract Task<ISearchCommand> RunAsync(WorkOffer work, CancellationToken cancellationToken);

    protected override void PreStart() => AskForWork();

    private void AskForWork()
    {
        _controller.Tell(new RequestWork(_kind, WorkerId));
        if (_repeatRequest is { } every)
        {
            Timers.StartPeriodicTimer("ask", RepeatRequest.Instance, every);
        }
    }

    private void Idle()
    {
        Receive<WorkOffer>(Start);
        Receive<CancelWork>(_ => { });
        Receive<RepeatRequest>(_ => _controller.Tell(new RequestWork(_kind, WorkerId)));
    }

    private void Busy()
    {
        Receive<WorkOffer>(o => _log.Warning("worker {Worker} busy with trial {Current}: offer of trial {TrialId} ignored", WorkerId, _current, o.TrialId));
        Receive<CancelWork>(c =>
        {
            if (c.TrialId == _current)
            {
                _log.Info("worker {Worker}: abandoning trial {TrialId}", WorkerId, c.TrialId);
                _cancel?.Cancel();
            }
        });
        Receive<RepeatRequest>(_ => { });
        Receive<Finished>(f =>
        {
            _cancel?.Dispose();
            (_cancel, _current) = (null, null);
            if (f.Result is not null)
            {
                _controller.Tell(f.Result);
            }
            AskForWork();
            Become(Idle);
        });
    }

    private void Start(WorkOffer work)
    {
        Timers.Cancel("ask");
        _cancel = new CancellationTokenSource();
        _current = work.TrialId;
        _log.Debug("worker {Worker}: trial {TrialId} {Kind} attempt {Attempt}", WorkerId, work.TrialId, work.Kind, work.Attempt);
        var token = _cancel.Token;
        Task<ISearchCommand> run;
        try
        {
            run = RunAsync(work, token);
        }
        catch (Exception e)
        {
            run = Task.FromException<ISearchCommand>(e);
        }
        run.PipeTo(Self,
            success: r => new Finished(r),
            failure: e => new Finished(e is OperationCanceledException or TaskCanceledException && token.IsCancellationRequested
                ? null
                : new WorkFailed(work.SearchId, work.TrialId, work.Kind, work.Attempt, WorkerId, Reason(e))));
        Become(Busy);
    }

    private static string Reason(Exception e) => e switch
    {
        AggregateException { InnerException: { } inner } => Reason(inner),
        TrialFailureException f => f.Message,
        _ => $"{e.GetType().Name}: {e.Message}",
    };

    /// <summary>Internal: the run ended; null result = cancelled (nothing to report).</summary>
    private sealed record Finished(ISearchCommand? Result) : INoSerializationVerificationNeeded;

    private sealed record RepeatRequest : INoSerializationVerificationNeeded
    {
        public static RepeatRequest Instance { get; } = new();
    }
}

/// <summary>Trains one trial at a time (several per node).</summary>
public sealed class TrainerWorker(IActorRef controller, ITrainerBackend backend, TimeSpan? repeatRequest = null) : PullWorker(controller, WorkKind.Train, repeatRequest)
{
    protected override async Task<ISearchCommand> RunAsync(WorkOffer work, CancellationToken cancellationToken) =>
        new TrainingDone(work.SearchId, work.TrialId, work.Attempt, WorkerId, await backend.TrainAsync(work, cancellationToken));

    protected override void PostStop() => backend.Dispose();

    public static Props Props(IActorRef controller, ITrainerBackend backend, TimeSpan? repeatRequest = null) =>
        Akka.Actor.Props.Create(() => new TrainerWorker(controller, backend, repeatRequest));
}

/// <summary>Owns one device: measures one model at a time (devices are exclusive).</summary>
public sealed class DeviceWorker(IActorRef controller, IDeviceBackend backend, TimeSpan? repeatRequest = null) : PullWorker(controller, WorkKind.Measure, repeatRequest)
{
    protected override async Task<ISearchCommand> RunAsync(WorkOffer work, CancellationToken cancellationToken) =>
        new MeasurementDone(work.SearchId, work.TrialId, work.Attempt, WorkerId, await backend.MeasureAsync(work, cancellationToken));

    protected override void PostStop() => backend.DisposeAsync().AsTask().GetAwaiter().GetResult();

    public static Props Props(IActorRef controller, IDeviceBackend backend, TimeSpan? repeatRequest = null) =>
        Akka.Actor.Props.Create(() => new DeviceWorker(controller, backend, repeatRequest));
}
