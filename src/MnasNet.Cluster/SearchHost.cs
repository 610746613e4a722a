using Akka.Actor;
using Akka.Cluster.Sharding;
using Akka.Cluster.Tools.PublishSubscribe;
using Akka.Event;
using MnasNet.Actors.Actors;
using MnasNet.Actors.Backends;
using MnasNet.Actors.Decisions;
using MnasNet.Actors.Journal;
using MnasNet.Actors.Policy;
using MnasNet.Actors.Protocol;
using MnasNet.Actors.Settings;
using MnasNet.Actors.State;

namespace MnasNet.Cluster;

/// <summary>
/// The shard entity of one search (entity id = search id) on a controller-role node. It reads the journal first: a
/// search that was running (its node died, or it was handed off) restarts its <see cref="SearchController"/> at once;
/// a new, paused or completed one waits for <see cref="StartSearch"/>. It hears workers' requests on the cluster's
/// work topic and forwards them, restarts the controller with backoff while the journal database is unreachable, and
/// passivates when the search completes or pauses (remembered entities then forget it).
/// </summary>
public sealed class SearchHost : ReceiveActor, IWithStash, IWithTimers
{
    public const string WorkTopic = "mnasnet-work";

    private readonly string _searchId;
    private readonly string _connectionString;
    private readonly IActorRef _rewardActor;
    private readonly ILoggingAdapter _log = Context.GetLogger();
    private readonly NodeOptions _node;
    private SearchSettings? _settings;
    private FinalTrainingPlan? _final;
    private WarmStartPlan? _warmStart;
    private IActorRef? _controller;
    private SearchProgress? _last;
    private SearchStopped? _failed;
    private int _restarts;

    public SearchHost(string searchId, string connectionString, IActorRef rewardActor, NodeOptions node)
    {
        _searchId = searchId;
        _connectionString = connectionString;
        _rewardActor = rewardActor;
        _node = node;
        Loading();
    }

    public IStash Stash { get; set; } = null!;

    public ITimerScheduler Timers { get; set; } = null!;

    /// <param name="node">This controller node's options: the search runs with them and its journaled definition.</param>
    public static Props Props(string searchId, string connectionString, IActorRef rewardActor, NodeOptions node) =>
        Akka.Actor.Props.Create(() => new SearchHost(searchId, connectionString, rewardActor, node));

    protected override void PreStart()
    {
        DistributedPubSub.Get(Context.System).Mediator.Tell(new Subscribe(WorkTopic, Self));
        Load();
    }

    private void Load()
    {
        var (id, connection, node) = (_searchId, _connectionString, _node);
        Task.Run(() => JournaledSearch.Read(connection, id, node)).PipeTo(Self, failure: e => new LoadFailed(e.GetBaseException().Message));
    }

    // ---------------------------------------------------------------- behaviours

    private void Loading()
    {
        Receive<JournaledSearch>(j =>
        {
            _restarts = 0;
            _settings = j.Settings;
            _last = j.Progress;
            if (j.Settings is not null && j.Final is not null)
            {
                _log.Info("search {SearchId}: final training was running, continuing it on this node", _searchId);
                _final = j.Final;
                SpawnOrRetry();
            }
            else if (j.Settings is not null && j.Progress?.Status == SearchStatus.Running.Word())
            {
                _log.Info("search {SearchId}: was running, continuing it on this node", _searchId);
                SpawnOrRetry();
            }
            else
            {
                Become(Waiting);
            }
            Stash.UnstashAll();
        });
        Receive<LoadFailed>(f =>
        {
            var delay = Backoff();
            _log.Warning("search {SearchId}: journal unreadable ({Reason}); retrying in {Delay:0.#} s", _searchId, f.Reason, delay.TotalSeconds);
            Timers.StartSingleTimer("load", RetryLoad.Instance, delay);
        });
        Receive<RetryLoad>(_ => Load());
        Receive<SubscribeAck>(_ => { });
        Receive<RequestWork>(_ => { });
        Receive<WithdrawWorkRequest>(_ => { });
        ReceiveAny(_ => Stash.Stash());
    }

    /// <summary>New, paused or completed: answers status from the journal until asked to run.</summary>
    private void Waiting()
    {
        Receive<StartSearch>(s =>
        {
            var fresh = _settings is null;
            _settings ??= SettingsLoader.FromJson(s.SettingsJson, _node);
            // Used only while the search is new: once search-started is journaled, it holds what the warm start took.
            _warmStart = s.WarmStart;
            if (TrySpawn(Sender))
            {
                _controller!.Tell(GetSearchStatus.Instance, Sender);
            }
            else if (fresh)
            {
                // Nothing is journaled: the next StartSearch (the table in place) starts it afresh.
                (_settings, _warmStart) = (null, null);
            }
        });
        Receive<StartFinalTraining>(s =>
        {
            _settings ??= SettingsLoader.FromJson(s.SettingsJson, _node);
            _final = s.Plan;
            TrySpawn(Sender);
            _controller!.Tell(GetSearchStatus.Instance, Sender);
        });
        Receive<GetSearchStatus>(_ => Sender.Tell(_last ?? new SearchProgress(_searchId, SearchStatus.New.Word(), 0, 0, 0, null, null, 0, 0)));
        Receive<SubscribeAck>(_ => { });
        ReceiveAny(_ => { });
    }

    private void Running()
    {
        Receive<StartSearch>(_ => Ask(Sender));
        Receive<StartFinalTraining>(_ => Ask(Sender));
        Receive<GetSearchStatus>(_ => Ask(Sender));
        // The follower polls the status; the finalists' epochs are in the journal.
        Receive<FinalTrainingProgress>(_ => { });
        Receive<SearchProgress>(p =>
        {
            _last = p;
            _restarts = 0;
        });
        Receive<FirstDispatch>(_ => { });
        Receive<SearchStopped>(OnStopped);
        Receive<Terminated>(t =>
        {
            if (!t.ActorRef.Equals(_controller))
            {
                return;
            }
            _controller = null;
            if (_failed is null)
            {
                var delay = Backoff();
                _log.Warning("search {SearchId}: controller stopped; restarting it from the journal in {Delay:0.#} s", _searchId, delay.TotalSeconds);
                Timers.StartSingleTimer("restart", RetryLoad.Instance, delay);
            }
        });
        Receive<RetryLoad>(_ => SpawnOrRetry());
        Receive<SubscribeAck>(_ => { });
        ReceiveAny(m => _controller?.Forward(m));
    }

    private void Failed()
    {
        Receive<StartSearch>(_ => Sender.Tell(_failed));
        Receive<StartFinalTraining>(_ => Sender.Tell(_failed));
        Receive<GetSearchStatus>(_ => Sender.Tell(_failed));
        ReceiveAny(_ => { });
    }

    // ---------------------------------------------------------------- helpers

    /// <summary>
    /// Starts the search's controller, with <c>latency.predictor</c>'s table as this node reads it (final training
    /// measures nothing and loads none). A table this node cannot read (missing, unreadable, not fitting the search)
    /// starts nothing: the asker is told why, naming this node, instead of the controller failing on its first decision
    /// at every restart.
    /// </summary>
    private bool TrySpawn(IActorRef? asker)
    {
        LatencyPredictor? predictor = null;
        try
        {
            predictor = _final is null ? LatencyPredictor.For(_settings!) : null;
        }
        catch (Exception e) when (e is FileNotFoundException or SettingsException)
        {
            var reason = $"{e.Message} on controller node {Akka.Cluster.Cluster.Get(Context.System).SelfAddress}: every controller-role node reads the table at that path";
            _log.Error("search {SearchId}: {Reason}", _searchId, reason);
            asker?.Tell(new SearchStopped(_searchId, SearchStatus.Failed.Word(), reason));
            return false;
        }
        _controller = Context.Watch(Context.ActorOf(SearchController.Props(_settings!, _rewardActor, Self, _warmStart, final: _final, predictor: predictor), "controller"));
        Become(Running);
        return true;
    }

    /// <summary>A search this node runs without an asker (taken over, or restarted): started, or tried again after a back-off while its table is unreadable here.</summary>
    private void SpawnOrRetry()
    {
        if (!TrySpawn(null))
        {
            Become(Running);
            Timers.StartSingleTimer("restart", RetryLoad.Instance, Backoff());
        }
    }

    private void Ask(IActorRef asker)
    {
        if (_controller is null)
        {
            asker.Tell(_last ?? new SearchProgress(_searchId, SearchStatus.Starting.Word(), 0, 0, 0, null, null, 0, 0));
            return;
        }
        _controller.Tell(GetSearchStatus.Instance, asker);
    }

    private void OnStopped(SearchStopped stopped)
    {
        if (stopped.Transient)
        {
            _log.Warning("search {SearchId}: {Reason}", _searchId, stopped.Reason);
            return;
        }
        if (stopped.Status == SearchStatus.Failed.Word())
        {
            _failed = stopped;
            _log.Error("search {SearchId} failed: {Reason}", _searchId, stopped.Reason);
            if (_controller is not null)
            {
                Context.Stop(_controller);
            }
            Become(Failed);
            return;
        }
        _log.Info("search {SearchId} {Status}; its controller stops on this node", _searchId, stopped.Status);
        // A stopped search is no longer remembered: only StartSearch (resume) brings it back.
        Context.Parent.Tell(new Passivate(PoisonPill.Instance));
    }

    private TimeSpan Backoff() => TimeSpan.FromSeconds(Math.Min(15, Math.Pow(2, _restarts++) * 0.5));

    private sealed record LoadFailed(string Reason) : INoSerializationVerificationNeeded;

    private sealed record RetryLoad : INoSerializationVerificationNeeded
    {
        public static RetryLoad Instance { get; } = new();
    }
}

/// <summary>
/// What the journal says about a search: its settings (null if it never started), its progress, and the final run
/// that was going on (null: none).
/// </summary>
public sealed record JournaledSearch(SearchSettings? Settings, SearchProgress? Progress, FinalTrainingPlan? Final = null) : INoSerializationVerificationNeeded
{
    public static JournaledSearch Read(string connectionString, string searchId, NodeOptions? node = null)
    {
        var events = PostgresJournal.ReadEvents(connectionString, searchId);
        var history = SearchHistory.From(searchId, events);
        if (history.Started is not { } started)
        {
            return new JournaledSearch(null, null);
        }
        var settings = SettingsLoader.FromJson(started.SettingsJson, node);
        var state = history.Current;
        return new JournaledSearch(settings, new SearchProgress(searchId, state.Status.Word(), state.TrialsRewarded, settings.TrialBudget,
            state.Batch, state.BestReward, state.BestTrial, 0, state.EventCount, state.FinalStatus?.Word()), FinalTrainingPlan.Running(history, events.Select(e => e.Event)));
    }
}

/// <summary>
/// Search entities are addressed with <see cref="ShardingEnvelope"/> (entity id = search id), which Akka.NET unwraps
/// itself; every other message has no entity.
/// </summary>
public sealed class SearchMessageExtractor() : HashCodeMessageExtractor(MaxShards)
{
    public const int MaxShards = 32;

    public override string? EntityId(object message) => null;

    public override object EntityMessage(object message) => message;
}

/// <summary>
/// A worker's door to every search on the cluster: work requests (and their withdrawal) go to the work topic that
/// all search entities subscribe to; the sender stays the worker, so offers come straight back to it.
/// </summary>
public sealed class WorkBroadcaster : ReceiveActor
{
    public WorkBroadcaster()
    {
        var mediator = DistributedPubSub.Get(Context.System).Mediator;
        Receive<RequestWork>(r => mediator.Tell(new Publish(SearchHost.WorkTopic, r), Sender));
        Receive<WithdrawWorkRequest>(w => mediator.Tell(new Publish(SearchHost.WorkTopic, w), Sender));
    }

    public static Props Props() => Akka.Actor.Props.Create(() => new WorkBroadcaster());
}
