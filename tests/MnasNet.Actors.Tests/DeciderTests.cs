using MnasNet.Actors.Backends;
using MnasNet.Actors.Decisions;
using MnasNet.Actors.Protocol;
using MnasNet.Actors.Settings;
using MnasNet.Actors.State;
using MnasNet.Controller;

namespace MnasNet.Actors.Tests;

/// <summary>The controller's decisions without an actor system: workers are strings, time is given.</summary>
public sealed class DeciderTests : IDisposable
{
    private static readonly DateTimeOffset T0 = new(2026, 1, 1, 0, 0, 0, TimeSpan.Zero);

    private readonly TempDir _dir = new();

    public void Dispose() => _dir.Dispose();

    private SearchSettings Settings(int batchSize = 2, int batches = 2, int snapshotEvery = 1000) => Simulated.Settings(_dir.Path, "decide", batchSize, batches) with
    {
        Strategy = "ppo-tabular",
        Journal = new JournalSettings { Directory = _dir.Path, SnapshotEvery = snapshotEvery },
    };

    /// <summary>A controller run driven by hand: every decision is kept, the session carried over.</summary>
    private sealed class Run : IDisposable
    {
        public Run(SearchSettings settings, SearchSession<string>? session = null, SearchPolicy? policy = null)
        {
            Decider = new SearchDecider<string>(settings);
            Session = session ?? Decider.Initial();
            Policy = policy ?? Decider.NewPolicy();
        }

        public SearchDecider<string> Decider { get; }

        public SearchSession<string> Session { get; private set; }

        public SearchPolicy Policy { get; }

        public List<ISearchEvent> Journal { get; } = [];

        public Decision<string> Do(object command, string sender = "controller", double atSeconds = 0)
        {
            var d = Decider.Decide(Session, Policy, command, sender, T0.AddSeconds(atSeconds));
            Session = d.Session;
            Journal.AddRange(d.Events);
            return d;
        }

        public void Dispose() => Policy.Dispose();
    }

    private static TrainingRecord Trained(double acc) => new("test", acc, null, [1.0], 1, 0, 0, 0, 0, null, 0);

    private static LatencyRecord Measured(double ms) => new("test", "test", "d", "simulated", 1, 224, 0, 1, "Runs", ms, ms, ms, ms, ms, 0, 0, 0, [ms], 0, 0);

    private static T Only<T>(Decision<string> d) => Assert.Single(d.Steps.OfType<T>());

    private static WorkOffer OfferTo(Decision<string> d, string worker) =>
        (WorkOffer)Assert.Single(d.Steps.OfType<SendToWorker<string>>(), s => s.Worker == worker).Message;

    [Fact]
    public void A_new_search_journals_its_start_and_first_batch_and_sends_nothing()
    {
        using var run = new Run(Settings());

        var d = run.Do(BeginRun.Instance);

        Assert.IsType<StartLeaseChecks>(d.Steps[0]);
        Assert.Collection(d.Events, e => Assert.IsType<SearchStarted>(e), e => Assert.Equal([0L, 1L], ((BatchSampled)e).Trials.Select(t => t.TrialId)));
        Assert.DoesNotContain(d.Steps, s => s.LeavesActor);
        Assert.Equal(SearchStatus.Running, run.Session.Journaled.Status);
    }

    [Fact]
    public void An_offer_follows_its_dispatch_event_and_carries_the_settings_once_per_worker()
    {
        using var run = new Run(Settings());
        run.Do(BeginRun.Instance);

        var first = run.Do(new RequestWork(WorkKind.Train, "t1"), "t1");
        run.Do(new WorkDeclined("decide", 0, WorkKind.Train, 1, "t1", "busy"), "t1");
        var again = run.Do(new RequestWork(WorkKind.Train, "t1"), "t1");
        var second = run.Do(new RequestWork(WorkKind.Train, "t2"), "t2");

        Assert.IsType<WatchWorker<string>>(first.Steps[0]);
        var dispatched = first.Steps.ToList().FindIndex(s => s is JournalEvent { Event: TrialDispatched { TrialId: 0, Attempt: 1 } });
        var offered = first.Steps.ToList().FindIndex(s => s is SendToWorker<string>);
        Assert.True(dispatched >= 0 && offered > dispatched, "the offer comes after its trial-dispatched event");
        Assert.NotNull(OfferTo(first, "t1").SettingsJson);
        Assert.IsType<FirstDispatch>(first.Steps.OfType<Notify>().Single().Message);
        // Declining forgets that the worker has the settings: the next offer carries them again.
        Assert.Equal((0L, 2), (OfferTo(again, "t1").TrialId, OfferTo(again, "t1").Attempt));
        Assert.NotNull(OfferTo(again, "t1").SettingsJson);
        Assert.Equal(1L, OfferTo(second, "t2").TrialId);
        Assert.Empty(second.Steps.OfType<Notify>());
        Assert.Contains(run.Journal, e => e is TrialLeaseExpired { TrialId: 0, Reason: "declined by the worker (busy)" });
    }

    [Fact]
    public void The_reward_is_asked_for_only_after_its_inputs_are_journaled_and_only_once()
    {
        using var run = new Run(Settings(batchSize: 1));
        run.Do(BeginRun.Instance);
        run.Do(new RequestWork(WorkKind.Train, "t"), "t");
        run.Do(new RequestWork(WorkKind.Measure, "d", "simulated"), "d");

        var trained = run.Do(new TrainingDone("decide", 0, 1, "t", Trained(0.75)), "t");
        var measured = run.Do(new MeasurementDone("decide", 0, 1, "d", Measured(90)), "d");
        var duplicate = run.Do(new MeasurementDone("decide", 0, 1, "d", Measured(91)), "d");

        Assert.Empty(trained.Steps.OfType<RequestReward>());
        Assert.IsType<JournalEvent>(measured.Steps[0]);
        var request = Only<RequestReward>(measured).Request;
        Assert.Equal((0L, 0.75, 90.0, 80.0), (request.TrialId, request.Accuracy, request.Devices[0].LatencyMs, request.Devices[0].TargetMs));
        Assert.Empty(duplicate.Events);
        Assert.DoesNotContain(duplicate.Steps, s => s.LeavesActor);

        var reply = run.Do(new RewardReply(0, MnasNetReward.Compute(request.Accuracy, request.Devices, request.Alpha, request.Beta, request.Failed)));
        Assert.IsType<RewardComputed>(reply.Events.First());
        Assert.Equal(1, ((SearchProgress)reply.Steps.OfType<Notify>().First().Message).TrialsDone);
        Assert.DoesNotContain(run.Do(new RewardReply(0, MnasNetReward.Compute(0, 1, 80, -0.07, -0.07, true))).Steps, s => s is not LogLine);
    }

    [Fact]
    public void An_expired_lease_is_journaled_and_the_work_goes_to_the_next_idle_worker()
    {
        using var run = new Run(Settings(batchSize: 1));
        run.Do(BeginRun.Instance);
        run.Do(new RequestWork(WorkKind.Train, "slow"), "slow");
        run.Do(new RequestWork(WorkKind.Train, "spare"), "spare");

        Assert.Empty(run.Do(CheckLeases.Instance, atSeconds: 29).Steps);
        var expiry = run.Do(CheckLeases.Instance, atSeconds: 31);

        Assert.Equal(new TrialLeaseExpired(0, WorkKind.Train, 1, "slow", "lease timed out"), Assert.IsType<TrialLeaseExpired>(expiry.Events.First()) with { Link = null });
        Assert.Equal((0L, 2), (OfferTo(expiry, "spare").TrialId, OfferTo(expiry, "spare").Attempt));
    }

    [Fact]
    public void After_the_grace_period_the_pause_is_journaled_before_workers_are_told_to_cancel()
    {
        using var run = new Run(Settings());
        run.Do(BeginRun.Instance);
        run.Do(new RequestWork(WorkKind.Train, "t"), "t");

        var pausing = run.Do(new PauseSearch("test", 5));
        Assert.Equal(TimeSpan.FromSeconds(5), Only<StartPauseGrace>(pausing).Grace);
        Assert.Empty(pausing.Events);
        Assert.Empty(run.Do(new RequestWork(WorkKind.Train, "late"), "late").Events);

        var over = run.Do(PauseGraceOver.Instance);
        Assert.IsType<SearchPaused>(Assert.IsType<JournalEvent>(over.Steps[0]).Event);
        Assert.Equal(1, ((SearchPaused)over.Events.Single()).AbandonedInFlight);
        var cancel = over.Steps.ToList().FindIndex(s => s is SendToWorker<string> { Worker: "t", Message: CancelWork { TrialId: 0 } });
        var seal = over.Steps.ToList().FindIndex(s => s is SealHead);
        Assert.True(cancel > 0 && seal > 0, "cancel and the head's seal after the pause is journaled");
        Assert.Equal(run.Session.Journaled.EventCount, Only<SealHead>(over).Head.EventCount);
        // The stop is announced once the sealed head is written: whoever hears it may stop the actor system.
        Assert.DoesNotContain(over.Steps, s => s is Notify { Message: SearchStopped });
        Assert.Equal(new SearchStopped("decide", "paused", "test"), Assert.IsType<SearchStopped>(Only<Notify>(run.Do(SnapshotSettled.Instance)).Message));
        Assert.Equal(SearchStatus.Paused, run.Session.Journaled.Status);
    }

    [Fact]
    public void A_stop_waits_for_the_snapshot_in_flight()
    {
        using var run = new Run(Settings(batchSize: 1, batches: 1, snapshotEvery: 1));
        run.Do(BeginRun.Instance);
        run.Do(new RequestWork(WorkKind.Train, "t"), "t");
        run.Do(new RequestWork(WorkKind.Measure, "d", "simulated"), "d");
        run.Do(new TrainingDone("decide", 0, 1, "t", Trained(0.5)), "t");
        var request = Only<RequestReward>(run.Do(new MeasurementDone("decide", 0, 1, "d", Measured(70)), "d")).Request;

        var last = run.Do(new RewardReply(0, MnasNetReward.Compute(request.Accuracy, request.Devices, request.Alpha, request.Beta, request.Failed)));

        Assert.Collection(last.Events, e => Assert.IsType<RewardComputed>(e), e => Assert.IsType<PolicyUpdated>(e), e => Assert.IsType<SearchCompleted>(e));
        Assert.Equal(run.Session.Journaled.EventCount - 1, Only<WriteSnapshot>(last).Snapshot.State.EventCount);
        Assert.Equal(run.Session.Journaled.EventCount, Only<SealHead>(last).Head.EventCount);
        Assert.DoesNotContain(last.Steps, s => s is Notify { Message: SearchStopped });
        Assert.DoesNotContain(run.Do(SnapshotSettled.Instance).Steps, s => s is Notify { Message: SearchStopped });
        Assert.Equal("completed", Assert.IsType<SearchStopped>(Only<Notify>(run.Do(SnapshotSettled.Instance)).Message).Status);
    }

    /// <summary>A whole search driven to its end by one trainer and one device, answering at once.</summary>
    private static List<ISearchEvent> Complete(Run run)
    {
        var pending = new Queue<(object Message, string Sender)>();
        void Carry(Decision<string> d)
        {
            foreach (var step in d.Steps)
            {
                switch (step)
                {
                    case SendToWorker<string> { Message: WorkOffer o } s when o.Kind == WorkKind.Train:
                        pending.Enqueue((new TrainingDone(o.SearchId, o.TrialId, o.Attempt, s.Worker, Trained(0.5 + o.TrialId % 5 * 0.05)), s.Worker));
                        pending.Enqueue((new RequestWork(WorkKind.Train, s.Worker), s.Worker));
                        break;
                    case SendToWorker<string> { Message: WorkOffer o } s:
                        pending.Enqueue((o.TrialId % 3 == 2 ? new WorkFailed(o.SearchId, o.TrialId, o.Kind, o.Attempt, s.Worker, "too large") : new MeasurementDone(o.SearchId, o.TrialId, o.Attempt, s.Worker, Measured(60 + o.TrialId)), s.Worker));
                        pending.Enqueue((new RequestWork(WorkKind.Measure, s.Worker, "simulated"), s.Worker));
                        break;
                    case RequestReward r:
                        pending.Enqueue((new RewardReply(r.Request.TrialId, MnasNetReward.Compute(r.Request.Accuracy, r.Request.Devices, r.Request.Alpha, r.Request.Beta, r.Request.Failed)), "reward"));
                        break;
                }
            }
        }
        Carry(run.Do(BeginRun.Instance));
        Carry(run.Do(new RequestWork(WorkKind.Train, "t"), "t"));
        Carry(run.Do(new RequestWork(WorkKind.Measure, "d", "simulated"), "d"));
        while (pending.TryDequeue(out var next) && run.Session.Journaled.Status == SearchStatus.Running)
        {
            Carry(run.Do(next.Message, next.Sender));
        }
        return run.Journal;
    }

    private static string Json(SearchState state) => System.Text.Json.JsonSerializer.Serialize(state, Serialization.SearchJson.Options);

    private static string Text(IEnumerable<ISearchEvent> events) =>
        string.Join("\n", events.Select(e => System.Text.Json.JsonSerializer.Serialize(e, e.GetType(), Serialization.SearchJson.Options)));

    [Fact]
    public void The_same_settings_decide_the_same_journal_and_recovery_replays_it()
    {
        using var a = new Run(Settings(batchSize: 3, batches: 3));
        using var b = new Run(Settings(batchSize: 3, batches: 3));

        var journal = Complete(a);

        Assert.Equal(Text(journal), Text(Complete(b)));
        Assert.IsType<SearchCompleted>(journal[^1]);
        Assert.Equal(3, journal.OfType<PolicyUpdated>().Count());
        Assert.Equal(9, journal.OfType<RewardComputed>().Count());
        Assert.Equal(3, journal.OfType<TrialFailed>().Count());

        var recovering = new SearchDecider<string>(Settings(batchSize: 3, batches: 3));
        var state = recovering.Initial().Journaled;
        using var policy = recovering.NewPolicy();
        foreach (var e in journal)
        {
            recovering.Recover(state, policy, e);
            state = state.Apply(e);
        }
        Assert.Equal(Json(a.Session.Journaled), Json(state));
        Assert.Equal(a.Policy.Live.Version, policy.Live.Version);
        Assert.Equal(a.Policy.Live.SaveState(), policy.Live.SaveState());
    }

    [Fact]
    public void Recovery_rejects_a_journal_changed_after_it_was_written()
    {
        using var run = new Run(Settings(batchSize: 3, batches: 2));
        var journal = Complete(run);
        var batch = journal.OfType<BatchSampled>().First();
        var tampered = journal.Select(e => ReferenceEquals(e, batch) ? batch with { Trials = [batch.Trials[0] with { Tokens = [.. batch.Trials[0].Tokens.Reverse()] }, .. batch.Trials.Skip(1)] } : e);

        var error = Assert.Throws<JournalMismatchException>(() => RecoverAll(Settings(batchSize: 3, batches: 2), tampered));
        Assert.Contains($"event {journal.IndexOf(batch) + 1} (batch-sampled.", error.Message, StringComparison.Ordinal);
        Assert.Contains("does not carry its chain link", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Recovery_of_a_journal_without_policy_states_rejects_what_the_policy_does_not_reproduce()
    {
        using var run = new Run(Settings(batchSize: 3, batches: 2));
        // As journals were written before policy states and chain links: the policy is re-derived and checked.
        var journal = Complete(run).Select(Unlinked).ToList();
        var batch = journal.OfType<BatchSampled>().First();
        var tampered = journal.Select(e => ReferenceEquals(e, batch) ? batch with { Trials = [batch.Trials[0] with { Tokens = [.. batch.Trials[0].Tokens.Reverse()] }, .. batch.Trials.Skip(1)] } : e);

        RecoverAll(Settings(batchSize: 3, batches: 2), journal);
        var error = Assert.Throws<JournalMismatchException>(() => RecoverAll(Settings(batchSize: 3, batches: 2), tampered));
        Assert.Contains("batch 0 trial 0 does not match", error.Message, StringComparison.Ordinal);
    }

    private static ISearchEvent Unlinked(ISearchEvent e) => e switch
    {
        SearchStarted s => s with { Policy = null, Chain = null, Link = null },
        PolicyUpdated p => p with { Policy = null, Link = null },
        JournaledEvent j => j with { Link = null },
        _ => e,
    };

    private static SearchState RecoverAll(SearchSettings settings, IEnumerable<ISearchEvent> journal)
    {
        var recovering = new SearchDecider<string>(settings);
        var state = recovering.Initial().Journaled;
        using var policy = recovering.NewPolicy();
        foreach (var e in journal)
        {
            recovering.Recover(state, policy, e);
            state = state.Apply(e);
        }
        _ = policy.Live;
        return state;
    }

    [Fact]
    public void An_infrastructure_fault_is_tried_again_after_its_back_off_on_whichever_worker_asks()
    {
        using var run = new Run(Settings(batchSize: 1) with { Workers = new WorkerSettings { LeaseTimeoutSeconds = 30, MaxAttempts = 3, RetryDelaySeconds = 2 } });
        run.Do(BeginRun.Instance);
        run.Do(new RequestWork(WorkKind.Train, "t1"), "t1");

        var fault = run.Do(new WorkFailed("decide", 0, WorkKind.Train, 1, "t1", "dataset unreadable", 0, FailureCause.Infrastructure), "t1");
        var early = run.Do(new RequestWork(WorkKind.Train, "t2"), "t2", atSeconds: 1.5);
        var due = run.Do(CheckLeases.Instance, atSeconds: 2.5);

        var expired = Assert.IsType<TrialLeaseExpired>(Assert.Single(fault.Events));
        Assert.Equal((0L, 1, "infrastructure fault, attempt 1 of 3: dataset unreadable"), (expired.TrialId, expired.Attempt, expired.Reason));
        Assert.Empty(early.Events);
        Assert.Equal((0L, 2), (OfferTo(due, "t2").TrialId, OfferTo(due, "t2").Attempt));
        Assert.DoesNotContain(run.Journal, e => e is TrialFailed or RewardComputed);
    }

    [Fact]
    public void A_trial_the_infrastructure_fails_on_every_attempt_gets_no_reward_and_is_left_out_of_the_update()
    {
        var settings = Settings(batchSize: 2, batches: 1) with { Workers = new WorkerSettings { LeaseTimeoutSeconds = 30, MaxAttempts = 2, RetryDelaySeconds = 1 } };
        using var run = new Run(settings);
        run.Do(BeginRun.Instance);
        run.Do(new RequestWork(WorkKind.Train, "t"), "t");
        run.Do(new WorkFailed("decide", 0, WorkKind.Train, 1, "t", "disk gone", 0, FailureCause.Infrastructure), "t");
        run.Do(new RequestWork(WorkKind.Train, "t"), "t");
        run.Do(new TrainingDone("decide", 1, 1, "t", Trained(0.6)), "t");
        run.Do(new RequestWork(WorkKind.Measure, "d", "simulated"), "d");
        var request = Only<RequestReward>(run.Do(new MeasurementDone("decide", 1, 1, "d", Measured(70)), "d")).Request;
        run.Do(new RewardReply(1, MnasNetReward.Compute(request.Accuracy, request.Devices, request.Alpha, request.Beta, request.Failed)));
        var retry = run.Do(new RequestWork(WorkKind.Train, "t"), "t", atSeconds: 1.5);
        Assert.Equal((0L, 2), (OfferTo(retry, "t").TrialId, OfferTo(retry, "t").Attempt));

        var last = run.Do(new WorkFailed("decide", 0, WorkKind.Train, 2, "t", "disk gone", 0, FailureCause.Infrastructure), "t", atSeconds: 2);

        var failed = Assert.IsType<TrialFailed>(last.Events.First());
        Assert.Equal((0L, FailureCause.Infrastructure, "infrastructure fault on every one of 2 attempts: disk gone"), (failed.TrialId, failed.Cause, failed.Reason));
        Assert.Empty(last.Steps.OfType<RequestReward>());
        var update = Assert.Single(last.Events.OfType<PolicyUpdated>());
        Assert.Equal([1L], update.TrialIds);
        Assert.IsType<SearchCompleted>(last.Events.Last());
        Assert.DoesNotContain(run.Journal, e => e is RewardComputed { TrialId: 0 });

        Assert.Equal(Json(run.Session.Journaled), Json(RecoverAll(settings, run.Journal)));
    }

    [Fact]
    public void A_resumed_search_requeues_in_flight_work_and_dispatches_it_again()
    {
        using var first = new Run(Settings());
        first.Do(BeginRun.Instance);
        first.Do(new RequestWork(WorkKind.Train, "t"), "t");

        var resumed = new Run(Settings(), SearchSession<string>.Of(first.Session.Journaled), first.Policy);
        var begin = resumed.Do(BeginRun.Instance);
        var offer = resumed.Do(new RequestWork(WorkKind.Train, "t2"), "t2");

        Assert.Equal(1, Assert.IsType<SearchResumed>(begin.Events.Single()).RequeuedInFlight);
        Assert.Equal((0L, 2), (OfferTo(offer, "t2").TrialId, OfferTo(offer, "t2").Attempt));
    }
}
