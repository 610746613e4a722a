using Akka.Actor;
using Akka.Event;
using Akka.Persistence;
using MnasNet.Actors.Backends;
using MnasNet.Actors.Journal;
using MnasNet.Actors.Policy;
using MnasNet.Actors.Protocol;
using MnasNet.Actors.Settings;
using MnasNet.Actors.State;
using MnasNet.Controller;
using MnasNet.SearchSpace;

namespace MnasNet.Actors.Actors;

/// <summary>
/// One search: owns the policy, samples batches, hands out work to pulling workers under leases, collects results,
/// asks for rewards, updates the policy when a batch is complete and journals every step.
/// </summary>
/// <remarks>
/// Events are applied to the in-memory state when emitted and persisted with PersistAsync, so the journal groups
/// writes (throughput); every side effect that leaves the actor (work offers, progress, snapshots) happens only in
/// the persist callback, i.e. after the event is durable. A crash loses at most events nobody outside has seen, and
/// recovery recomputes them deterministically. On recovery the policy is re-run against the journal (samples and
/// updates must reproduce the journaled tokens and parameter hashes), starting from the latest snapshot.
/// </remarks>
public sealed class SearchController : ReceivePersistentActor, IWithTimers
{
    private readonly SearchSettings _settings;
    private readonly IActorRef _rewardActor;
    private readonly IActorRef _subscriber;
    private readonly MnasNetSearchSpace _space = MnasNetSearchSpace.Default;
    private readonly ILoggingAdapter _log = Context.GetLogger();
    // Leases per (trial, kind, target platform index); targets other than 0 exist only for measurements.
    private readonly Dictionary<(long TrialId, WorkKind Kind, int Target), Lease> _leases = [];
    private readonly Dictionary<WorkKind, List<(IActorRef Worker, string Id, string? Platform)>> _idle = new() { [WorkKind.Train] = [], [WorkKind.Measure] = [] };
    private readonly HashSet<long> _rewardRequested = [];
    // Workers that already have this search's settings (sent with their first offer).
    private readonly HashSet<IActorRef> _briefed = [];
    private readonly Dictionary<(string Platform, int Target), bool> _platformMatches = [];
    private readonly IReadOnlyList<MeasureTarget> _targets;
    private readonly string _settingsJson;
    private readonly (double Alpha, double Beta) _exponents;
    private SearchState _state;
    private ISearchPolicy? _policy;
    // Recovery keeps the newest journaled policy state and the samples drawn since, and restores the policy from
    // them only once it is needed: nothing the journal already says is recomputed.
    private (IReadOnlyList<PolicyCheckpoint> Chain, long Step, int SkippedSamples)? _journaledPolicy;
    // The raw policy state journaled last: the base of the next journaled state (stored as a difference to it).
    private byte[]? _lastJournaledState;
    private bool _policyStatesJournaled;
    private readonly byte[]? _chainKey;
    private ComputePlatform? _platform;
    private bool _pausing;
    private bool _stopped;
    private bool _dispatchedSinceStart;

    private sealed record Lease(IActorRef Worker, string WorkerId, int Attempt, DateTime Deadline);

    public SearchController(SearchSettings settings, IActorRef rewardActor, IActorRef subscriber)
    {
        _settings = settings;
        _rewardActor = rewardActor;
        _subscriber = subscriber;
        _exponents = SettingsValidation.Exponents(settings.Reward);
        _targets = DevicePlatform.TargetsOf(settings);
        _settingsJson = SettingsLoader.ToJson(settings);
        _state = SearchState.Empty(settings.Id);
        _chainKey = JournalChain.LoadKey(settings.Journal.KeyFile);
        PersistenceId = PersistenceIdFor(settings.Id);

        Recover<SnapshotOffer>(offer =>
        {
            var snapshot = (SearchSnapshot)offer.Snapshot;
            if (snapshot.State.EventCount != offer.Metadata.SequenceNr)
            {
                throw new JournalMismatchException($"snapshot of search {_settings.Id} at sequence {offer.Metadata.SequenceNr} holds {snapshot.State.EventCount} events");
            }
            _state = snapshot.State;
            _journaledPolicy = null;
            _policyStatesJournaled = snapshot.State.Chain is not null;
            _lastJournaledState = Convert.FromBase64String(snapshot.PolicyState);
            _policy = SearchPolicies.Restore(_settings, _space, _lastJournaledState, snapshot.State.PolicyStep);
        });
        Recover<ISearchEvent>(e =>
        {
            ReplayPolicy(e);
            _state = _state.Apply(e);
        });
        // Start (and its search-started / search-resumed event) before any command: work requests stashed during
        // recovery must not dispatch before the in-flight work of the previous run is re-queued.
        Recover<RecoveryCompleted>(_ => Start());

        Command<RequestWork>(OnRequestWork);
        Command<WithdrawWorkRequest>(w => _idle[w.Kind].RemoveAll(i => i.Worker.Equals(Sender)));
        Command<WorkDeclined>(OnDeclined);
        Command<TrainingDone>(m => OnResult(m.TrialId, WorkKind.Train, 0, m.WorkerId, new TrialTrained(m.TrialId, m.Attempt, m.WorkerId, m.Record)));
        Command<MeasurementDone>(m => OnResult(m.TrialId, WorkKind.Measure, m.Target, m.WorkerId, new LatencyMeasured(m.TrialId, m.Attempt, m.WorkerId, m.Record, m.Target)));
        Command<WorkFailed>(m => OnResult(m.TrialId, m.Kind, m.Target, m.WorkerId, new TrialFailed(m.TrialId, m.Kind, m.Attempt, m.WorkerId, m.Reason, m.Target)));
        Command<RewardReply>(OnReward);
        Command<PauseSearch>(OnPause);
        Command<PauseGraceOver>(_ => AbandonInFlight());
        Command<CheckLeases>(_ => ExpireLeases());
        Command<Terminated>(t => WorkerGone(t.ActorRef));
        Command<GetSearchStatus>(_ => Sender.Tell(Progress()));
        Command<SaveSnapshotSuccess>(s =>
        {
            if (s.Metadata.PersistenceId == HeadIdFor(_settings.Id))
            {
                SnapshotStore.Tell(new DeleteSnapshots(s.Metadata.PersistenceId, new SnapshotSelectionCriteria(s.Metadata.SequenceNr - 1)));
            }
            else
            {
                DeleteSnapshots(new SnapshotSelectionCriteria(s.Metadata.SequenceNr - 1));
            }
            SnapshotWritten();
        });
        Command<SaveSnapshotFailure>(f =>
        {
            _log.Warning("search {SearchId}: snapshot failed: {Reason}", _settings.Id, f.Cause.Message);
            SnapshotWritten();
        });
        Command<DeleteSnapshotsSuccess>(_ => { });
        Command<DeleteSnapshotsFailure>(_ => { });
    }

    public override string PersistenceId { get; }

    public ITimerScheduler Timers { get; set; } = null!;

    public static string PersistenceIdFor(string searchId) => $"search-{searchId}";

    /// <summary>Where the journal's sealed head is kept (<see cref="JournalHead"/>, a snapshot).</summary>
    public static string HeadIdFor(string searchId) => $"search-{searchId}-head";

    public static Props Props(SearchSettings settings, IActorRef rewardActor, IActorRef subscriber) =>
        Akka.Actor.Props.Create(() => new SearchController(settings, rewardActor, subscriber));

    // ---------------------------------------------------------------- recovery

    private void ReplayPolicy(ISearchEvent e)
    {
        switch (e)
        {
            case SearchStarted { Policy: { } initial }:
                _journaledPolicy = ([initial], 0, 0);
                _policyStatesJournaled = true;
                break;
            case SearchStarted:
                _policy = SearchPolicies.Create(_settings, _space);
                break;
            case BatchSampled b when _journaledPolicy is { } journaled:
                _journaledPolicy = journaled with { SkippedSamples = journaled.SkippedSamples + b.Trials.Count };
                break;
            case BatchSampled b when _policyStatesJournaled:
                Policy().SkipSamples(b.Trials.Count);
                break;
            case BatchSampled b:
                // A journal written before policy states were journaled: the policy is re-derived and must match it.
                var samples = Policy().Sample(b.Trials.Count);
                for (var i = 0; i < samples.Count; i++)
                {
                    if (!samples[i].Tokens.SequenceEqual(b.Trials[i].Tokens) || BitConverter.DoubleToInt64Bits(samples[i].LogProb) != BitConverter.DoubleToInt64Bits(b.Trials[i].LogProb))
                    {
                        throw new JournalMismatchException($"journal of search {_settings.Id}: batch {b.Batch} trial {b.Trials[i].TrialId} does not match what policy {b.PolicyVersion} samples; the journal or the code changed");
                    }
                }
                break;
            case PolicyUpdated { Policy: { } after } p:
                DisposePolicy();
                _journaledPolicy = after.Base is null || _journaledPolicy is not { } chain
                    ? ([after], p.Step, 0)
                    : ([.. chain.Chain, after], p.Step, 0);
                break;
            case PolicyUpdated p:
                var result = Policy().Update(Feedback());
                if (result.ParameterHash != p.ParameterHash)
                {
                    throw new JournalMismatchException($"journal of search {_settings.Id}: policy update {p.Step} gives hash {result.ParameterHash}, journal has {p.ParameterHash}");
                }
                break;
        }
    }

    private ISearchPolicy Policy()
    {
        if (_journaledPolicy is { } journaled)
        {
            _journaledPolicy = null;
            _policy = RestoreJournaled(journaled.Chain, journaled.Step);
            if (journaled.SkippedSamples > 0)
            {
                _policy.SkipSamples(journaled.SkippedSamples);
            }
        }
        return _policy ?? throw new InvalidOperationException("policy used before the search started");
    }

    /// <summary>Decodes the journaled states from the last whole one (or the snapshot's) and restores the newest.</summary>
    private ISearchPolicy RestoreJournaled(IReadOnlyList<PolicyCheckpoint> chain, long step)
    {
        var state = chain[0].Base is null ? null : _lastJournaledState;
        try
        {
            foreach (var checkpoint in chain)
            {
                state = checkpoint.Decode(state);
            }
        }
        catch (InvalidDataException x)
        {
            throw new JournalMismatchException($"journal of search {_settings.Id}: policy state of step {step}: {x.Message}");
        }
        _lastJournaledState = state;
        return SearchPolicies.Restore(_settings, _space, state!, step);
    }

    private void DisposePolicy()
    {
        (_policy as IDisposable)?.Dispose();
        _policy = null;
    }

    protected override void PostStop()
    {
        DisposePolicy();
        base.PostStop();
    }

    private ComputePlatform Platform() => _platform ??= ComputePlatform.Current(_settings.Threads);

    private List<PolicyFeedback> Feedback() =>
        _state.Trials.Values.Select(t => new PolicyFeedback(t.Tokens, t.LogProb, t.Reward!.Reward, t.Reward.Failed)).ToList();

    protected override void OnRecoveryFailure(Exception reason, object? message = null)
    {
        _log.Error(reason, "search {SearchId}: recovery failed", _settings.Id);
        // A journal that disagrees with the code is final; a database that cannot be read may come back.
        _subscriber.Tell(new SearchStopped(_settings.Id, "failed", $"recovery failed: {reason.Message}", Transient: reason is not JournalMismatchException));
        base.OnRecoveryFailure(reason, message);
    }

    protected override void OnPersistFailure(Exception cause, object @event, long sequenceNr)
    {
        _log.Error(cause, "search {SearchId}: journal write failed at {SequenceNr}", _settings.Id, sequenceNr);
        _subscriber.Tell(new SearchStopped(_settings.Id, "failed", $"journal write failed: {cause.Message}", Transient: true));
        base.OnPersistFailure(cause, @event, sequenceNr);
    }

    // ---------------------------------------------------------------- start / advance

    private void Start()
    {
        var period = TimeSpan.FromSeconds(Math.Clamp(_settings.Workers.LeaseTimeoutSeconds / 4, 0.05, 5));
        Timers.StartPeriodicTimer("leases", CheckLeases.Instance, period);
        switch (_state.Status)
        {
            case SearchStatus.New:
                _policy = SearchPolicies.Create(_settings, _space);
                _lastJournaledState = _policy.SaveState();
                Emit(new SearchStarted(_settings.Id, SettingsLoader.ToJson(_settings), _settings.Seed, _settings.Strategy, _policy.Version,
                    CodeVersion, MnasNetSearchSpace.Version, MnasNetReward.FormulaId, DateTimeOffset.UtcNow,
                    PolicyCheckpoint.Of(_lastJournaledState, null, Platform()), JournalChain.Algorithm(_chainKey)));
                _log.Info("search {SearchId} started: {Trials} trials in batches of {BatchSize}, strategy {Strategy}, mode {Mode}",
                    _settings.Id, _settings.TrialBudget, _settings.BatchSize, _settings.Strategy, _settings.Mode);
                break;
            case SearchStatus.Completed:
                _log.Info("search {SearchId} is already completed", _settings.Id);
                Stop("completed", null);
                return;
            case var _ when _state.Chain == JournalChain.HmacSha256 && _chainKey is null:
                _log.Error("search {SearchId}: its journal is chained under an HMAC key; set {Variable} or journal.keyFile to resume it", _settings.Id, JournalChain.KeyVariable);
                Stop("failed", $"the journal is chained under an HMAC key: set {JournalChain.KeyVariable} or journal.keyFile to resume it");
                return;
            default:
                var inFlight = _state.InFlight;
                Emit(new SearchResumed(inFlight, DateTimeOffset.UtcNow));
                _log.Info("search {SearchId} resumed at batch {Batch}: {Done} trials done, {InFlight} in-flight trials re-queued",
                    _settings.Id, _state.Batch, _state.TrialsRewarded, inFlight);
                break;
        }
        Advance();
    }

    private void Advance()
    {
        if (_state.Status != SearchStatus.Running || _stopped)
        {
            return;
        }
        foreach (var t in _state.AwaitingReward)
        {
            if (_rewardRequested.Add(t.TrialId))
            {
                var devices = _targets.Select((x, i) => new DeviceLatency(x.Platform.ToString(), t.MeasureOf(i).LatencyMs ?? 0, x.TargetMs, 0)).ToList();
                _rewardActor.Tell(new ComputeReward(t.TrialId, t.Accuracy ?? 0, devices, t.IsFailed, _exponents.Alpha, _exponents.Beta));
            }
        }
        if (_state.BatchComplete)
        {
            UpdatePolicy();
        }
        if (_state.BatchesUpdated == _state.Batch + 1)
        {
            if (_state.BatchesUpdated >= _settings.Batches)
            {
                Emit(new SearchCompleted(_state.NextTrialId, Policy().Version, DateTimeOffset.UtcNow), () =>
                {
                    _log.Info("search {SearchId} completed: {Trials} trials, best reward {BestReward:F4} (trial {BestTrial})",
                        _settings.Id, _state.TrialsRewarded, _state.BestReward, _state.BestTrial);
                    Stop("completed", null);
                });
                return;
            }
            if (_pausing)
            {
                MaybeFinishPause();
                return;
            }
            SampleBatch();
        }
        Dispatch();
        MaybeFinishPause();
    }

    private void SampleBatch()
    {
        var batch = _state.Batch + 1;
        var version = Policy().Version;
        var samples = Policy().Sample(_settings.BatchSize);
        var first = _state.NextTrialId;
        var trials = samples.Select((s, i) =>
        {
            var id = first + i;
            return new SampledTrial(id, s.Tokens, s.LogProb, _space.Decode(s.Tokens).Id, TrialSeed(_settings.Seed, id));
        }).ToList();
        _rewardRequested.Clear();
        Emit(new BatchSampled(batch, version, trials));
    }

    /// <summary>Each trial's seed depends only on the search seed and its id, never on which worker ran it or when.</summary>
    public static ulong TrialSeed(ulong searchSeed, long trialId) => SeededRandom.Derive(searchSeed, $"trial/{trialId}");

    private void UpdatePolicy()
    {
        var trials = _state.Trials.Values.ToList();
        var r = Policy().Update(Feedback());
        var saved = Policy().SaveState();
        var checkpoint = PolicyCheckpoint.Of(saved, r.Step % PolicyCheckpoint.KeyframeEvery == 0 ? null : _lastJournaledState, Platform());
        _lastJournaledState = saved;
        var snapshotDue = r.Step % _settings.Journal.SnapshotEvery == 0;
        var policyState = snapshotDue ? Convert.ToBase64String(saved) : null;
        var e = new PolicyUpdated(_state.Batch, r.Step, r.VersionBefore, r.ParameterHash, trials.Select(t => t.TrialId).ToList(),
            trials.Select(t => t.Reward!.Reward).ToList(), trials.Select(t => t.Reward!.Failed).ToList(), r.Advantages,
            r.PolicyLoss, r.Entropy, r.ApproxKl, r.ClipFraction, r.BaselineBefore, r.BaselineAfter, checkpoint);
        // The snapshot's sequence number is the event count of the state it holds (events are numbered from 1 and never
        // deleted), so it is exact even though PersistAsync numbers events only when their batch is written.
        var snapshot = policyState is null ? null : new SearchSnapshot(_state.Apply(Link(e)), policyState);
        Emit(e, snapshot is null ? null : () =>
        {
            var sequenceNr = snapshot.State.EventCount;
            _snapshotsInFlight++;
            SnapshotStore.Tell(new SaveSnapshot(new SnapshotMetadata(SnapshotterId, sequenceNr, DateTime.UtcNow), snapshot), Self);
        });
        _log.Info("search {SearchId}: batch {Batch} done, policy step {Step} {Hash}, mean reward {MeanReward:F4}",
            _settings.Id, _state.Batch, r.Step, r.ParameterHash, e.Rewards.Average());
    }

    // ---------------------------------------------------------------- work

    private void OnRequestWork(RequestWork request)
    {
        var platform = request.Kind == WorkKind.Measure ? request.Platform : null;
        if (platform is not null && !Enumerable.Range(0, _targets.Count).Any(t => Serves(platform, t)))
        {
            return;
        }
        var idle = _idle[request.Kind];
        if (!idle.Any(w => w.Worker.Equals(Sender)))
        {
            Context.Watch(Sender);
            idle.Add((Sender, request.WorkerId, platform));
        }
        Dispatch();
    }

    /// <summary>Whether a device of this platform measures for target <paramref name="target"/> (no platform: any target).</summary>
    private bool Serves(string? platform, int target)
    {
        if (platform is null)
        {
            return true;
        }
        if (!_platformMatches.TryGetValue((platform, target), out var matches))
        {
            try
            {
                matches = DevicePlatform.Parse(platform).Satisfies(_targets[target].Platform);
            }
            catch (SettingsException e)
            {
                _log.Warning("search {SearchId}: device platform {Platform} ignored: {Reason}", _settings.Id, platform, e.Message);
                matches = false;
            }
            _platformMatches[(platform, target)] = matches;
            if (!matches && target == _targets.Count - 1 && !Enumerable.Range(0, _targets.Count - 1).Any(t => _platformMatches.GetValueOrDefault((platform, t))))
            {
                _log.Info("search {SearchId}: devices of platform {Platform} satisfy none of the targets {Targets}: not used", _settings.Id, platform, string.Join("; ", _targets.Select(x => x.Platform)));
            }
        }
        return matches;
    }

    private void OnDeclined(WorkDeclined declined)
    {
        _idle[declined.Kind].RemoveAll(i => i.Worker.Equals(Sender));
        _briefed.Remove(Sender);
        if (_leases.TryGetValue((declined.TrialId, declined.Kind, declined.Target), out var lease) && lease.Worker.Equals(Sender) && lease.Attempt == declined.Attempt)
        {
            Expire(declined.TrialId, declined.Kind, declined.Target, lease, $"declined by the worker ({declined.Reason})");
            Dispatch();
        }
    }

    private void Dispatch()
    {
        if (_pausing || _stopped || _state.Status != SearchStatus.Running)
        {
            return;
        }
        foreach (var kind in new[] { WorkKind.Train, WorkKind.Measure })
        {
            var idle = _idle[kind];
            var i = 0;
            while (i < idle.Count)
            {
                var (worker, workerId, platform) = idle[i];
                if (_state.NextPending(kind, target => Serves(platform, target)) is not { } work)
                {
                    i++;
                    continue;
                }
                idle.RemoveAt(i);
                var (trial, target) = work;
                var attempt = trial.AttemptsOf(kind, target) + 1;
                _leases[(trial.TrialId, kind, target)] = new Lease(worker, workerId, attempt, DateTime.UtcNow.AddSeconds(_settings.Workers.LeaseTimeoutSeconds));
                var offer = new WorkOffer(_settings.Id, trial.TrialId, kind, attempt, trial.Tokens, trial.Seed, _briefed.Add(worker) ? _settingsJson : null, target);
                var first = !_dispatchedSinceStart;
                _dispatchedSinceStart = true;
                Emit(new TrialDispatched(trial.TrialId, kind, attempt, workerId, target), () =>
                {
                    worker.Tell(offer, Self);
                    if (first)
                    {
                        _subscriber.Tell(new FirstDispatch(_settings.Id, offer.TrialId, offer.Kind));
                    }
                });
            }
        }
    }

    private void OnResult(long trialId, WorkKind kind, int target, string workerId, ISearchEvent e)
    {
        if (_state.IsDuplicate(trialId, kind, target))
        {
            _log.Debug("search {SearchId}: duplicate {Kind} result for trial {TrialId} from {Worker} ignored", _settings.Id, kind, trialId, workerId);
            return;
        }
        _leases.Remove((trialId, kind, target));
        if (e is TrialFailed f)
        {
            _log.Warning("search {SearchId}: trial {TrialId} failed ({Kind}): {Reason}", _settings.Id, trialId, kind, f.Reason);
        }
        Emit(e);
        Advance();
    }

    private void OnReward(RewardReply reply)
    {
        if (_stopped || _state.Status != SearchStatus.Running || !_state.Trials.TryGetValue(reply.TrialId, out var trial) || trial.Reward is not null)
        {
            return;
        }
        Emit(new RewardComputed(reply.TrialId, reply.Inputs), () => _subscriber.Tell(Progress()));
        _log.Debug("search {SearchId}: trial {TrialId} reward {Reward:F4} (acc {Accuracy:F4}, lat {LatencyMs:F2} ms)",
            _settings.Id, reply.TrialId, reply.Inputs.Reward, reply.Inputs.Accuracy, reply.Inputs.LatencyMs);
        Advance();
    }

    private void ExpireLeases()
    {
        var now = DateTime.UtcNow;
        foreach (var ((trialId, kind, target), lease) in _leases.Where(kv => kv.Value.Deadline < now).ToList())
        {
            Expire(trialId, kind, target, lease, "lease timed out");
        }
        Dispatch();
    }

    private void WorkerGone(IActorRef worker)
    {
        _briefed.Remove(worker);
        foreach (var list in _idle.Values)
        {
            list.RemoveAll(w => w.Worker.Equals(worker));
        }
        foreach (var ((trialId, kind, target), lease) in _leases.Where(kv => kv.Value.Worker.Equals(worker)).ToList())
        {
            Expire(trialId, kind, target, lease, "worker terminated");
        }
        Dispatch();
        MaybeFinishPause();
    }

    private void Expire(long trialId, WorkKind kind, int target, Lease lease, string reason)
    {
        _leases.Remove((trialId, kind, target));
        _log.Warning("search {SearchId}: trial {TrialId} {Kind} attempt {Attempt} on {Worker}: {Reason}; dispatching again", _settings.Id, trialId, kind, lease.Attempt, lease.WorkerId, reason);
        Emit(new TrialLeaseExpired(trialId, kind, lease.Attempt, lease.WorkerId, reason, target));
    }

    // ---------------------------------------------------------------- pause / stop

    private void OnPause(PauseSearch pause)
    {
        if (_pausing || _stopped || _state.Status != SearchStatus.Running)
        {
            return;
        }
        _pausing = true;
        _pauseReason = pause.Reason;
        _log.Info("search {SearchId}: pausing ({Reason}); {InFlight} trials in flight, grace {Grace} s", _settings.Id, pause.Reason, _leases.Count, pause.GraceSeconds);
        if (_leases.Count > 0)
        {
            Timers.StartSingleTimer("pause-grace", PauseGraceOver.Instance, TimeSpan.FromSeconds(pause.GraceSeconds));
        }
        MaybeFinishPause();
    }

    private string _pauseReason = "";

    private void MaybeFinishPause()
    {
        if (_pausing && !_stopped && _leases.Count == 0 && !_state.AwaitingReward.Any() && _state.Status == SearchStatus.Running)
        {
            FinishPause(0);
        }
    }

    private void AbandonInFlight()
    {
        if (!_pausing || _stopped || _state.Status != SearchStatus.Running)
        {
            return;
        }
        foreach (var ((trialId, _, _), lease) in _leases)
        {
            lease.Worker.Tell(new CancelWork(trialId));
        }
        FinishPause(_leases.Count);
    }

    private void FinishPause(int abandoned)
    {
        Emit(new SearchPaused(_pauseReason, abandoned, DateTimeOffset.UtcNow), () =>
        {
            _log.Info("search {SearchId} paused: {Done} trials done, {Abandoned} in-flight trials abandoned (re-run on resume)", _settings.Id, _state.TrialsRewarded, abandoned);
            Stop("paused", _pauseReason);
        });
    }

    private void Stop(string status, string? reason)
    {
        _stopped = true;
        Timers.CancelAll();
        if (status is "paused" or "completed")
        {
            // The journal's head at rest: an audit finds a journal cut short after it.
            var mac = _state.Chain == JournalChain.HmacSha256 ? JournalChain.HeadMac(_state.EventCount, _state.LastLink, _chainKey) : null;
            _snapshotsInFlight++;
            SnapshotStore.Tell(new SaveSnapshot(new SnapshotMetadata(HeadIdFor(_settings.Id), _state.EventCount, DateTime.UtcNow),
                new JournalHead(_state.EventCount, _state.LastLink, mac)), Self);
        }
        _subscriber.Tell(Progress());
        // Whoever hears "stopped" may stop the actor system: a snapshot still being written would be rolled back.
        _stopNotice = new SearchStopped(_settings.Id, status, reason);
        if (_snapshotsInFlight == 0)
        {
            _subscriber.Tell(_stopNotice);
        }
    }

    private int _snapshotsInFlight;
    private SearchStopped? _stopNotice;

    private void SnapshotWritten()
    {
        _snapshotsInFlight--;
        if (_snapshotsInFlight == 0 && _stopNotice is not null)
        {
            _subscriber.Tell(_stopNotice);
        }
    }

    private SearchProgress Progress() => new(_settings.Id, _state.Status.ToString().ToLowerInvariant(), _state.TrialsRewarded, _settings.TrialBudget,
        _state.Batch, _state.BestReward, _state.BestTrial, _leases.Count, _state.EventCount);

    private void Emit(ISearchEvent e, Action? afterDurable = null)
    {
        e = Link(e);
        _state = _state.Apply(e);
        PersistAsync(e, _ => afterDurable?.Invoke());
    }

    /// <summary>The event chained to the last one (sequence numbers are the event count: events are never deleted).</summary>
    private ISearchEvent Link(ISearchEvent e)
    {
        var keyed = e is SearchStarted s ? s.Chain == JournalChain.HmacSha256 : _state.Chain == JournalChain.HmacSha256;
        return JournalChain.WithLink(e, _state.LastLink, _state.EventCount + 1, keyed ? _chainKey : null);
    }

    private static readonly string CodeVersion =
        typeof(SearchController).Assembly.GetName().Version?.ToString() ?? "0.0.0";
}

/// <summary>The journal does not match what this code computes from it (edited journal or changed code): not retried.</summary>
public sealed class JournalMismatchException(string message) : Exception(message);
