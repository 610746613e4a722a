using System.Diagnostics;
using Akka.Event;
using MnasNet.Actors.Backends;
using MnasNet.Actors.Journal;
using MnasNet.Actors.Policy;
using MnasNet.Actors.Protocol;
using MnasNet.Actors.Settings;
using MnasNet.Actors.State;
using MnasNet.Controller;
using MnasNet.SearchSpace;

namespace MnasNet.Actors.Decisions;

/// <summary>
/// Every decision of a search: given the session, the policy and one command (with its sender and the time), which
/// events to journal and which effects to carry out, in order. Nothing here talks to an actor, a clock or the
/// journal. The one object it changes is the policy: sampling a batch and updating on a complete one advance it
/// exactly as the journaled batch-sampled and policy-updated events say, and every update journals the policy state
/// it ends in, from which recovery restores the policy (<see cref="Recover"/>). Each event is chained to the one
/// before it (<see cref="JournalChain"/>).
/// </summary>
/// <param name="chainKey">The HMAC key of the journal's hash chain (none: SHA-256).</param>
/// <param name="platform">Where policy states are computed (journaled with each state); asked once, when first needed.</param>
/// <param name="warmStart">A new search's warm start (<c>search --warm-start</c>): its starting policy and what it took.</param>
/// <param name="virtualTime">The search runs on a virtual clock: its events carry the virtual time of their decision.</param>
/// <param name="predictor">The latency predictor of <c>latency.predictor</c> (default: loaded from the file the settings name).</param>
public sealed class SearchDecider<TWorker>(SearchSettings settings, byte[]? chainKey = null, Func<ComputePlatform>? platform = null, WarmStartPlan? warmStart = null, bool virtualTime = false,
    LatencyPredictor? predictor = null)
    where TWorker : notnull
{
    // Loaded when a search run begins (not for train-final, which measures nothing).
    private readonly Lazy<LatencyPredictor?> _latencyPredictor = new(() => predictor ?? LatencyPredictor.For(settings));

    private LatencyPredictor? Predictor => _latencyPredictor.Value;

    private readonly Lazy<ComputePlatform> _platform = new(platform ?? (() => ComputePlatform.Current(settings.PolicyThreads)));

    private readonly IReadOnlyList<MeasureTarget> _targets = DevicePlatform.TargetsOf(settings);
    private readonly (double Alpha, double Beta) _exponents = SettingsValidation.Exponents(settings.Reward);
    private readonly string _settingsJson = SettingsLoader.DefinitionJson(settings);
    private readonly MnasNetSearchSpace _space = MnasNetSearchSpace.Default;
    private readonly byte[]? _chainKey = chainKey;
    private readonly WarmStartPlan? _warmStart = warmStart;
    private readonly bool _virtualTime = virtualTime;

    /// <summary>What search-started's Clock says of a search on a virtual clock.</summary>
    public const string VirtualClock = "virtual";

    public static readonly string CodeVersion = typeof(SearchDecider<>).Assembly.GetName().Version?.ToString() ?? "0.0.0";

    public SearchSettings Settings => settings;

    public SearchSession<TWorker> Initial() => SearchSession<TWorker>.Of(SearchState.Empty(settings.Id, _targets.Count));

    /// <summary>The search's policy holder, empty until search-started (new or recovered) fills it.</summary>
    public SearchPolicy NewPolicy() => new(settings.Id, state => SearchPolicies.Restore(settings, _space, state, settings.PolicyThreads));

    /// <summary>Recovery from a snapshot (taken at a policy update).</summary>
    public void RecoverSnapshot(SearchPolicy policy, SearchSnapshot snapshot) =>
        policy.FromSnapshot(Convert.FromBase64String(snapshot.PolicyState), statesJournaled: snapshot.State.Chain is not null);

    /// <summary>
    /// Recovery of one journaled event, before it is folded into <paramref name="state"/>. A journaled policy state is
    /// kept (and decoded only when needed), the batches sampled after it are skipped, not re-sampled, and the updates
    /// after it that journaled no state are re-run once the policy is needed. A journal
    /// written before policy states were journaled re-derives the policy: it re-runs every batch and update and must
    /// reproduce them bit for bit (a mismatch is a <see cref="JournalMismatchException"/>).
    /// </summary>
    public void Recover(SearchState state, SearchPolicy policy, ISearchEvent e)
    {
        VerifyLink(state, e);
        switch (e)
        {
            case SearchStarted { Policy: { } initial }:
                policy.Journaled(initial, 0);
                break;
            case SearchStarted:
                policy.Begin(SearchPolicies.Create(settings, _space), statesJournaled: false);
                break;
            case BatchSampled b when policy.StatesJournaled:
                policy.Skip(b.Trials.Count);
                break;
            case BatchSampled b when Resample(policy, b) is { } m:
                throw new JournalMismatchException($"journal of search {settings.Id}: batch {b.Batch}{(m.TrialId is { } t ? $" trial {t}" : "")} does not match what policy {b.PolicyVersion} samples ({m.Expected}, journal has {m.Found}); the journal or the code changed");
            case PolicyUpdated { Policy: { } after } p:
                policy.Journaled(after, p.Step);
                break;
            case PolicyUpdated p when policy.StatesJournaled:
                policy.Rerun(Feedback(state), p);
                break;
            case PolicyUpdated p when Rerun(policy, state, p) is { } m:
                throw new JournalMismatchException($"journal of search {settings.Id}: policy update {p.Step} gives {m.Expected}, journal has {m.Found}");
        }
    }

    // A journal without policy states written on another platform re-runs within the auditor's tolerance: its float
    // arithmetic differs in the last bits there, and it holds nothing else to go on from.
    private static ReplayMismatch? Resample(SearchPolicy policy, BatchSampled b)
    {
        var exact = policy.Live.ExactArithmetic;
        if (b.PolicyVersion != policy.Live.Version && (exact || !policy.Drifted))
        {
            return new ReplayMismatch(null, $"policy version {policy.Live.Version}", $"policy version {b.PolicyVersion}");
        }
        return PolicyReplay.Resample(policy.Live, b, exact ? null : PolicyReplay.CrossPlatformTolerance).Mismatch;
    }

    private static ReplayMismatch? Rerun(SearchPolicy policy, SearchState state, PolicyUpdated p)
    {
        var mismatch = PolicyReplay.Update(policy.Live, Feedback(state), p, policy.Live.ExactArithmetic ? null : PolicyReplay.CrossPlatformTolerance, out var drifted);
        policy.Drifted |= drifted;
        return mismatch;
    }

    /// <summary>
    /// A linked event must carry the link this code computes for it: a journal changed after it was written is not
    /// resumed. Without the key of a keyed chain nothing can be checked (and the search will not resume).
    /// </summary>
    private void VerifyLink(SearchState state, ISearchEvent e)
    {
        if (e is not JournaledEvent { Link: { } link })
        {
            return;
        }
        var keyed = e is SearchStarted s ? s.Chain == JournalChain.HmacSha256 : state.Chain == JournalChain.HmacSha256;
        if (keyed && _chainKey is null)
        {
            return;
        }
        var sequenceNr = state.EventCount + 1;
        if (JournalChain.Link(state.LastLink, sequenceNr, e, keyed ? _chainKey : null) != link)
        {
            throw new JournalMismatchException($"journal of search {settings.Id}: event {sequenceNr} ({Serialization.SearchJson.Manifest(e)}) does not carry its chain link: the journal was changed after it was written");
        }
    }

    public SearchProgress Progress(SearchSession<TWorker> s) => new(settings.Id, s.Journaled.Status.Word(), s.Journaled.TrialsRewarded, settings.TrialBudget,
        s.Journaled.Batch, s.Journaled.BestReward, s.Journaled.BestTrial, s.Leases.Count, s.Journaled.EventCount, s.Journaled.FinalStatus?.Word());

    /// <summary>Each trial's seed depends only on the search seed and its id, never on which worker ran it or when.</summary>
    public static ulong TrialSeed(ulong searchSeed, long trialId) => SeededRandom.Derive(searchSeed, $"trial/{trialId}");

    /// <summary>The commands <see cref="Decide"/> takes besides the decider's own inputs (<see cref="BeginRun"/>, <see cref="WorkerGone"/>, <see cref="SnapshotSettled"/>).</summary>
    public static bool Handles(object command) => command is RequestWork or WithdrawWorkRequest or WorkDeclined or TrainingDone or MeasurementDone
        or WorkFailed or RewardReply or PauseSearch or PauseGraceOver or CheckLeases or FinalEpochDone or FinalTrainingDone;

    public Decision<TWorker> Decide(SearchSession<TWorker> session, SearchPolicy policy, object command, TWorker sender, DateTimeOffset now)
    {
        var d = new Deciding(this, session, policy, now);
        switch (command)
        {
            case BeginRun: d.Begin(); break;
            case BeginFinalRun b: d.BeginFinal(b.Plan); break;
            case FinalEpochDone e: d.FinalEpoch(e); break;
            case FinalTrainingDone f: d.FinalDone(f); break;
            case WorkFailed { Kind: WorkKind.Final } m: d.FinalFailed(m); break;
            case RequestWork r: d.RequestWork(sender, r); break;
            case WithdrawWorkRequest w: d.Session = d.Session.WithIdle(w.Kind, d.Session.Idle(w.Kind).RemoveAll(i => i.Worker.Equals(sender))); break;
            case WorkDeclined w: d.Declined(sender, w); break;
            case TrainingDone m: d.Result(new WorkKey(m.TrialId, WorkKind.Train, 0), m.WorkerId, new TrialTrained(m.TrialId, m.Attempt, m.WorkerId, m.Record)); break;
            case MeasurementDone m: d.Result(new WorkKey(m.TrialId, WorkKind.Measure, m.Target), m.WorkerId, new LatencyMeasured(m.TrialId, m.Attempt, m.WorkerId, m.Record, m.Target)); break;
            case WorkFailed m: d.Failed(m); break;
            case RewardReply r: d.Reward(r); break;
            case PauseSearch p: d.Pause(p); break;
            case PauseGraceOver: d.AbandonInFlight(); break;
            case CheckLeases: d.ExpireLeases(); break;
            case WorkerGone: d.WorkerGone(sender); break;
            case SnapshotSettled: d.SnapshotSettled(); break;
            default: throw new ArgumentException($"the search decider has no decision for {command.GetType().Name}", nameof(command));
        }
        return new Decision<TWorker>(d.Session, d.Steps);
    }

    private static List<ScoredSample> Feedback(SearchState state) =>
        state.Learned.Select(t => PolicyReplay.Feedback(t.Tokens, t.LogProb, t.Reward!.Reward, t.Reward.Failed)).ToList();

    /// <summary>One decision being made: events are folded into the session as they are decided, as the actor will journal them.</summary>
    private sealed class Deciding(SearchDecider<TWorker> decider, SearchSession<TWorker> session, SearchPolicy policy, DateTimeOffset now)
    {
        private static readonly WorkKind[] WorkKinds = [WorkKind.Train, WorkKind.Measure];

        private readonly SearchSettings _settings = decider.Settings;
        private readonly string _id = decider.Settings.Id;

        public SearchSession<TWorker> Session { get; set; } = session;

        public List<DecisionStep> Steps { get; } = [];

        private SearchState State => Session.Journaled;

        private IArchitectureSampler Policy => policy.Live;

        /// <summary>Chains the event to the last one (its sequence number is the event count: events are never deleted) and folds it in.</summary>
        private void Emit(ISearchEvent e)
        {
            var keyed = e is SearchStarted s ? s.Chain == JournalChain.HmacSha256 : State.Chain == JournalChain.HmacSha256;
            if (decider._virtualTime)
            {
                e = Stamped(e, now);
            }
            (e, var payload) = JournalChain.Seal(e, State.LastLink, State.EventCount + 1, keyed ? decider._chainKey : null);
            Session = Session with { Journaled = State.Apply(e) };
            Steps.Add(new JournalEvent(e) { Payload = payload });
        }

        private static ISearchEvent Stamped(ISearchEvent e, DateTimeOffset at) => e switch
        {
            SearchStarted x => x with { Clock = VirtualClock },
            BatchSampled x => x with { At = at },
            TrialDispatched x => x with { At = at },
            TrialLeaseExpired x => x with { At = at },
            TrialTrained x => x with { At = at },
            LatencyMeasured x => x with { At = at },
            TrialFailed x => x with { At = at },
            PolicyUpdated x => x with { At = at },
            LatencyPredicted x => x with { At = at },
            MeasurementSelected x => x with { At = at },
            _ => e,
        };

        private void Log(LogLevel level, string template, params object?[] args) => Steps.Add(new LogLine(level, template, args));

        // ------------------------------------------------------------ start / advance

        public void Begin()
        {
            // Every check is a point the virtual clock stops at: in virtual time a quarter lease is soon enough.
            var quarter = _settings.Workers.LeaseTimeoutSeconds / 4;
            Steps.Add(new StartLeaseChecks(TimeSpan.FromSeconds(decider._virtualTime ? quarter : Math.Clamp(quarter, 0.05, 5))));
            switch (State.Status)
            {
                case SearchStatus.New:
                    var warm = decider._warmStart;
                    policy.Begin(warm is null ? SearchPolicies.Create(_settings, decider._space) : SearchPolicies.Create(_settings, decider._space, warm.Record, warm.PolicyState),
                        statesJournaled: true);
                    policy.LastJournaledState = Policy.SaveState();
                    Emit(new SearchStarted(_id, decider._settingsJson, _settings.Seed, _settings.Strategy, Policy.Version,
                        CodeVersion, MnasNetSearchSpace.Version, MnasNetReward.FormulaId, now,
                        PolicyCheckpoint.Of(policy.LastJournaledState, null, decider._platform.Value), JournalChain.Algorithm(decider._chainKey), warm?.Record,
                        Predictor: decider.Predictor?.Identity));
                    Log(LogLevel.InfoLevel, "search {SearchId} started: {Trials} trials in batches of {BatchSize}, strategy {Strategy}, mode {Mode}",
                        _id, _settings.TrialBudget, _settings.BatchSize, _settings.Strategy, _settings.Mode.Word());
                    if (warm is not null)
                    {
                        Log(LogLevel.InfoLevel, "search {SearchId} warm-started from search {Source} ({SourceStatus}, {SourceEvents} events): took {Taken}",
                            _id, warm.Record.SourceSearchId, warm.Record.SourceStatus, warm.Record.SourceEvents,
                            warm.Record.Taken == WarmStartKind.PolicyState ? $"its policy state of step {warm.Record.SourceStep}" : $"{warm.Record.Trials?.Count ?? 0} of its {warm.Record.SourceTrials} trials");
                    }
                    break;
                case SearchStatus.Completed:
                    Log(LogLevel.InfoLevel, "search {SearchId} is already completed", _id);
                    Stop(SearchStatus.Completed, null);
                    return;
                case var _ when State.Chain == JournalChain.HmacSha256 && decider._chainKey is null:
                    Log(LogLevel.ErrorLevel, "search {SearchId}: its journal is chained under an HMAC key; set {Variable} or journal.keyFile to resume it", _id, JournalChain.KeyVariable);
                    Stop(SearchStatus.Failed, $"the journal is chained under an HMAC key: set {JournalChain.KeyVariable} or journal.keyFile to resume it");
                    return;
                case var _ when State.Predictor is { } journaled && decider.Predictor?.Identity.Sha256 != journaled.Sha256:
                    var found = decider.Predictor?.Identity.Sha256 ?? "none";
                    Log(LogLevel.ErrorLevel, "search {SearchId}: latency table {File} changed since the search started (SHA-256 {Journaled}, now {Found})", _id, journaled.File, journaled.Sha256, found);
                    Stop(SearchStatus.Failed, $"latency table '{journaled.File}' changed since the search started: journaled SHA-256 {journaled.Sha256}, the file now {found}");
                    return;
                default:
                    var inFlight = State.InFlight;
                    Emit(new SearchResumed(inFlight, now));
                    Log(LogLevel.InfoLevel, "search {SearchId} resumed at batch {Batch}: {Done} trials done, {InFlight} in-flight trials re-queued",
                        _id, State.Batch, State.TrialsRewarded, inFlight);
                    break;
            }
            Advance();
        }

        private void Advance()
        {
            if (State.Status != SearchStatus.Running || Session.Stopped || Session.FinalMode)
            {
                return;
            }
            if (decider.Predictor is { } predictor)
            {
                foreach (var t in State.AwaitingPrediction.ToList())
                {
                    Emit(new LatencyPredicted(t.TrialId, predictor.PredictMs(t.Tokens), predictor.Identity));
                }
                if (State.SelectionDue)
                {
                    SelectForMeasurement();
                }
            }
            foreach (var (_, t) in State.Trials)
            {
                if (!t.ReadyForReward || t.Reward is not null || t.Excluded || Session.RewardRequested.Contains(t.TrialId))
                {
                    continue;
                }
                Session = Session with { RewardRequested = Session.RewardRequested.Add(t.TrialId) };
                var devices = decider._targets.Select((x, i) => new DeviceLatency(x.Platform.ToString(), t.RewardLatency(i).LatencyMs ?? 0, x.TargetMs, 0)).ToList();
                Steps.Add(new RequestReward(new ComputeReward(t.TrialId, t.Accuracy ?? 0, devices, t.IsFailed, decider._exponents.Alpha, decider._exponents.Beta, t.RewardLatency(0).Source)));
            }
            if (State.BatchComplete)
            {
                UpdatePolicy();
            }
            if (State.BatchesUpdated == State.Batch + 1)
            {
                if (State.BatchesUpdated >= _settings.Batches)
                {
                    Emit(new SearchCompleted(State.NextTrialId, Policy.Version, now));
                    Log(LogLevel.InfoLevel, "search {SearchId} completed: {Trials} trials, best reward {BestReward:F4} (trial {BestTrial})",
                        _id, State.TrialsRewarded, State.BestReward, State.BestTrial);
                    Stop(SearchStatus.Completed, null);
                    return;
                }
                if (Session.Pausing)
                {
                    MaybeFinishPause();
                    return;
                }
                SampleBatch();
            }
            Dispatch();
            MaybeFinishPause();
        }

        /// <summary>The batch barrier passed: the trials worth the device are chosen by their predicted rewards, once per batch.</summary>
        private void SelectForMeasurement()
        {
            var trained = State.Trials.Values.Where(t => !t.IsFailed).Select(t => (t.TrialId, t.Accuracy ?? 0, t.PredictedMs!.Value));
            var fraction = _settings.Latency.MeasureTop;
            var (ranked, chosen) = MeasurementSelection.Select(trained, fraction, decider._targets[0].TargetMs, decider._exponents.Alpha, decider._exponents.Beta);
            Emit(new MeasurementSelected(State.Batch, MeasurementSelection.Rule, fraction, ranked, chosen));
            Log(LogLevel.InfoLevel, "search {SearchId}: batch {Batch}: measuring {Chosen} of {Trained} trained trials ({Trials}), the rest by predicted latency",
                _id, State.Batch, chosen.Count, ranked.Count, string.Join(", ", chosen));
        }

        private void SampleBatch()
        {
            var version = Policy.Version;
            var first = State.NextTrialId;
            var started = Stopwatch.GetTimestamp();
            var proposals = Policy.Sample(_settings.BatchSize);
            PolicyCosts.Sampled(started);
            var trials = proposals.Select((s, i) =>
                new SampledTrial(first + i, s.Tokens, PolicyReplay.LogProb(s), decider._space.Decode(s.Tokens).Id, TrialSeed(_settings.Seed, first + i))).ToList();
            Session = Session with { RewardRequested = [], RetryAt = Session.RetryAt.Clear() };
            Emit(new BatchSampled(State.Batch + 1, version, trials));
        }

        private void UpdatePolicy()
        {
            var trials = State.Learned.ToList();
            // A batch the infrastructure failed entirely teaches nothing: the policy stays as it is.
            var started = Stopwatch.GetTimestamp();
            var r = trials.Count > 0 ? Policy.Observe(Feedback(State)) : SamplerStep.Unchanged(Policy.Version);
            PolicyCosts.Updated(started);
            var step = State.PolicyStep + 1;
            var snapshot = step % _settings.Journal.SnapshotEvery == 0;
            var journalState = JournalsState(step, Policy.ExactArithmetic, snapshot, State.Batch + 1 >= _settings.Batches);
            byte[]? saved = null;
            PolicyCheckpoint? checkpoint = null;
            if (journalState || snapshot)
            {
                started = Stopwatch.GetTimestamp();
                saved = Policy.SaveState();
                if (journalState)
                {
                    var keyframe = step % _settings.Journal.PolicyStateEvery == 0 && step / _settings.Journal.PolicyStateEvery % PolicyCheckpoint.KeyframeEvery == 0;
                    checkpoint = PolicyCheckpoint.Of(saved, keyframe ? null : policy.LastJournaledState, decider._platform.Value);
                    policy.LastJournaledState = saved;
                }
                PolicyCosts.StateSaved(started);
            }
            var e = new PolicyUpdated(State.Batch, step, r.VersionBefore, r.ParameterHash, trials.Select(t => t.TrialId).ToList(),
                trials.Select(t => t.Reward!.Reward).ToList(), trials.Select(t => t.Reward!.Failed).ToList(), r.Advantages,
                r.PolicyLoss, r.Entropy, r.ApproxKl, r.ClipFraction, r.BaselineBefore, r.BaselineAfter, checkpoint);
            Emit(e);
            if (_settings.Simulated && _settings.Simulation.Cost is { Enabled: true, UpdateSeconds: > 0 } cost)
            {
                // The simulated update takes its time: the next batch goes out once it is over.
                var delay = TimeSpan.FromSeconds(cost.UpdateSeconds);
                Session = Session with { DispatchFrom = now + delay };
                Steps.Add(new WakeAfter("policy-update", delay));
            }
            if (snapshot)
            {
                // The snapshot's sequence number is the event count of the state it holds (events are numbered from 1
                // and never deleted), so it is exact before the journal has numbered the event.
                Session = Session with { SnapshotsInFlight = Session.SnapshotsInFlight + 1 };
                Steps.Add(new WriteSnapshot(new SearchSnapshot(State, Convert.ToBase64String(saved!))));
            }
            Log(LogLevel.InfoLevel, "search {SearchId}: batch {Batch} done, policy step {Step} {Hash}, mean reward {MeanReward:F4}",
                _id, State.Batch, step, r.ParameterHash, e.Rewards.DefaultIfEmpty(0).Average());
        }

        /// <summary>
        /// Whether policy update <paramref name="step"/> journals the policy's state: every
        /// <c>journal.policyStateEvery</c>-th update, the search's last, and every update a snapshot is taken at (a
        /// snapshot's state must be one the journal holds, the base of the next journaled difference). The updates
        /// between re-run from the state before them on recovery and in the audit, which reproduces them only for a
        /// policy of exact arithmetic: any other (the libtorch engine) journals its state with every update.
        /// </summary>
        private bool JournalsState(long step, bool exactArithmetic, bool snapshot, bool last) =>
            !exactArithmetic || snapshot || last || step % _settings.Journal.PolicyStateEvery == 0;

        // ------------------------------------------------------------ work

        public void RequestWork(TWorker worker, RequestWork request)
        {
            var platform = request.Kind == WorkKind.Measure ? request.Platform : null;
            if (platform is not null && !Enumerable.Range(0, decider._targets.Count).Any(t => Serves(platform, t)))
            {
                return;
            }
            var idle = Session.Idle(request.Kind);
            if (!idle.Any(w => w.Worker.Equals(worker)))
            {
                Steps.Add(new WatchWorker<TWorker>(worker));
                Session = Session.WithIdle(request.Kind, idle.Add(new IdleWorker<TWorker>(worker, request.WorkerId, platform)));
            }
            Dispatch();
        }

        /// <summary>Whether a device of this platform measures for target <paramref name="target"/> (no platform: any target).</summary>
        private bool Serves(string? platform, int target)
        {
            var targets = decider._targets;
            if (platform is null)
            {
                return true;
            }
            if (Session.PlatformMatches.TryGetValue((platform, target), out var matches))
            {
                return matches;
            }
            try
            {
                matches = DevicePlatform.Parse(platform).Satisfies(targets[target].Platform);
            }
            catch (SettingsException e)
            {
                Log(LogLevel.WarningLevel, "search {SearchId}: device platform {Platform} ignored: {Reason}", _id, platform, e.Message);
                matches = false;
            }
            Session = Session with { PlatformMatches = Session.PlatformMatches.SetItem((platform, target), matches) };
            if (!matches && target == targets.Count - 1 && !Enumerable.Range(0, targets.Count - 1).Any(t => Session.PlatformMatches.GetValueOrDefault((platform, t))))
            {
                Log(LogLevel.InfoLevel, "search {SearchId}: devices of platform {Platform} satisfy none of the targets {Targets}: not used", _id, platform, string.Join("; ", targets.Select(x => x.Platform)));
            }
            return matches;
        }

        public void Declined(TWorker worker, WorkDeclined declined)
        {
            Session = Session.WithIdle(declined.Kind, Session.Idle(declined.Kind).RemoveAll(i => i.Worker.Equals(worker))) with { Briefed = Session.Briefed.Remove(worker) };
            var key = new WorkKey(declined.TrialId, declined.Kind, declined.Target);
            if (Session.Leases.TryGetValue(key, out var lease) && lease.Worker.Equals(worker) && lease.Attempt == declined.Attempt)
            {
                Expire(key, lease, $"declined by the worker ({declined.Reason})");
                Dispatch();
            }
        }

        private void Dispatch()
        {
            if (!Session.Dispatching || Session.DispatchFrom > now)
            {
                return;
            }
            if (Session.FinalMode)
            {
                DispatchFinal();
                return;
            }
            foreach (var kind in WorkKinds)
            {
                // Platforms (trainers: all) with nothing pending for them: the next idle worker of one finds nothing either.
                HashSet<string?>? exhausted = null;
                var i = 0;
                while (i < Session.Idle(kind).Count)
                {
                    var (worker, workerId, platform) = Session.Idle(kind)[i];
                    var eligibility = kind == WorkKind.Train ? null : platform;
                    if (exhausted?.Contains(eligibility) == true
                        || State.NextPending(kind, (t, target) => (kind == WorkKind.Train || Serves(platform, target)) && !BackingOff(new WorkKey(t.TrialId, kind, target))) is not { } work)
                    {
                        (exhausted ??= []).Add(eligibility);
                        i++;
                        continue;
                    }
                    var (trial, target) = work;
                    var attempt = trial.AttemptsOf(kind, target) + 1;
                    var briefed = Session.Briefed.Contains(worker);
                    var first = !Session.DispatchedSinceStart;
                    Session = Session.WithIdle(kind, Session.Idle(kind).RemoveAt(i)) with
                    {
                        Leases = Session.Leases.SetItem(new WorkKey(trial.TrialId, kind, target), new Lease<TWorker>(worker, workerId, attempt, now.UtcDateTime.AddSeconds(_settings.Workers.LeaseTimeoutSeconds))),
                        Briefed = Session.Briefed.Add(worker),
                        DispatchedSinceStart = true,
                    };
                    var offer = new WorkOffer(_id, trial.TrialId, kind, attempt, trial.Tokens, trial.Seed, briefed ? null : decider._settingsJson, target);
                    Emit(new TrialDispatched(trial.TrialId, kind, attempt, workerId, target));
                    Steps.Add(new SendToWorker<TWorker>(worker, offer));
                    if (first)
                    {
                        Steps.Add(new Notify(new FirstDispatch(_id, offer.TrialId, offer.Kind)));
                    }
                }
            }
        }

        public void Result(WorkKey key, string workerId, ISearchEvent e)
        {
            if (State.IsDuplicate(key.TrialId, key.Kind, key.Target))
            {
                Log(LogLevel.DebugLevel, "search {SearchId}: duplicate {Kind} result for trial {TrialId} from {Worker} ignored", _id, key.Kind, key.TrialId, workerId);
                return;
            }
            Session = Session with { Leases = Session.Leases.Remove(key) };
            if (e is TrialFailed f)
            {
                Log(LogLevel.WarningLevel, "search {SearchId}: trial {TrialId} failed ({Kind}): {Reason}", _id, key.TrialId, key.Kind, f.Reason);
            }
            Emit(e);
            Advance();
        }

        private bool BackingOff(WorkKey key) => !Session.RetryAt.IsEmpty && Session.RetryAt.TryGetValue(key, out var at) && at > now;

        /// <summary>
        /// A failure of the architecture fails the trial (reward 0). A fault of the infrastructure sends the work back,
        /// to be tried again after an exponential back-off on whichever worker asks, until <c>workers.maxAttempts</c>
        /// attempts are spent; then the trial fails with cause infrastructure and is left out of the update.
        /// </summary>
        public void Failed(WorkFailed m)
        {
            var key = new WorkKey(m.TrialId, m.Kind, m.Target);
            if (m.Cause == FailureCause.Architecture || State.IsDuplicate(key.TrialId, key.Kind, key.Target) || m.Attempt >= _settings.Workers.MaxAttempts)
            {
                var reason = m.Cause == FailureCause.Infrastructure ? $"infrastructure fault on every one of {m.Attempt} attempts: {m.Reason}" : m.Reason;
                Result(key, m.WorkerId, new TrialFailed(m.TrialId, m.Kind, m.Attempt, m.WorkerId, reason, m.Target, m.Cause));
                return;
            }
            var delay = TimeSpan.FromSeconds(_settings.Workers.RetryDelaySeconds * Math.Pow(2, m.Attempt - 1));
            Session = Session with { Leases = Session.Leases.Remove(key), RetryAt = Session.RetryAt.SetItem(key, now + delay) };
            Log(LogLevel.WarningLevel, "search {SearchId}: trial {TrialId} {Kind} attempt {Attempt} on {Worker}: infrastructure fault ({Reason}); trying again in {Delay} s",
                _id, key.TrialId, key.Kind, m.Attempt, m.WorkerId, m.Reason, delay.TotalSeconds);
            Emit(new TrialLeaseExpired(key.TrialId, key.Kind, m.Attempt, m.WorkerId, $"infrastructure fault, attempt {m.Attempt} of {_settings.Workers.MaxAttempts}: {m.Reason}", key.Target));
            Steps.Add(new WakeAfter($"retry-{key.TrialId}-{key.Kind}-{key.Target}", delay));
            Dispatch();
        }

        public void Reward(RewardReply reply)
        {
            if (Session.Stopped || State.Status != SearchStatus.Running || !State.Trials.TryGetValue(reply.TrialId, out var trial) || trial.Reward is not null)
            {
                return;
            }
            Emit(new RewardComputed(reply.TrialId, reply.Inputs));
            Steps.Add(new Notify(decider.Progress(Session)));
            Log(LogLevel.DebugLevel, "search {SearchId}: trial {TrialId} reward {Reward:F4} (acc {Accuracy:F4}, lat {LatencyMs:F2} ms)",
                _id, reply.TrialId, reply.Inputs.Reward, reply.Inputs.Accuracy, reply.Inputs.LatencyMs);
            Advance();
        }

        public void ExpireLeases()
        {
            foreach (var (key, lease) in Session.Leases.Where(kv => kv.Value.Deadline < now.UtcDateTime).ToList())
            {
                Expire(key, lease, "lease timed out");
            }
            Dispatch();
        }

        public void WorkerGone(TWorker worker)
        {
            Session = Session.WithoutIdle(worker) with { Briefed = Session.Briefed.Remove(worker) };
            foreach (var (key, lease) in Session.Leases.Where(kv => kv.Value.Worker.Equals(worker)).ToList())
            {
                Expire(key, lease, "worker terminated");
            }
            Dispatch();
            MaybeFinishPause();
        }

        private void Expire(WorkKey key, Lease<TWorker> lease, string reason)
        {
            Session = Session with { Leases = Session.Leases.Remove(key) };
            Log(LogLevel.WarningLevel, "search {SearchId}: trial {TrialId} {Kind} attempt {Attempt} on {Worker}: {Reason}; dispatching again", _id, key.TrialId, key.Kind, lease.Attempt, lease.WorkerId, reason);
            Emit(new TrialLeaseExpired(key.TrialId, key.Kind, lease.Attempt, lease.WorkerId, reason, key.Target));
        }

        // ------------------------------------------------------------ final training

        /// <summary>
        /// A train-final run: the plan's new finalists are journaled, the run begins (re-queuing what a killed run
        /// left in flight) and trainers are given the finalists one each. A finalist already journaled keeps the recipe,
        /// epochs and dataset it was begun with: a plan asking for others is refused rather than mixing two runs.
        /// </summary>
        public void BeginFinal(FinalTrainingPlan plan)
        {
            Session = Session with { FinalPlan = plan };
            Steps.Add(new StartLeaseChecks(TimeSpan.FromSeconds(Math.Clamp(_settings.Workers.LeaseTimeoutSeconds / 4, 0.05, 5))));
            if (State.Status == SearchStatus.New)
            {
                Stop(SearchStatus.Failed, $"search {_id} has no journal: nothing to train");
                return;
            }
            if (State.Chain == JournalChain.HmacSha256 && decider._chainKey is null)
            {
                Stop(SearchStatus.Failed, $"the journal is chained under an HMAC key: set {JournalChain.KeyVariable} or journal.keyFile to train its finalists");
                return;
            }
            if (plan.Candidates.Count == 0)
            {
                Stop(SearchStatus.Failed, "no finalists to train");
                return;
            }
            foreach (var c in plan.Candidates)
            {
                if (State.Finalists.TryGetValue(c.TrialId, out var known) && !known.Finished
                    && (known.RecipeJson != plan.RecipeJson || known.Epochs != plan.Epochs || known.Dataset != plan.Dataset || known.Resolution != plan.Resolution || known.TrainSize != plan.TrainSize))
                {
                    Stop(SearchStatus.Failed, $"trial {c.TrialId}'s final training was begun with another recipe, epoch count or dataset ({known.Epochs} epochs on {known.Dataset}); continue it with those");
                    return;
                }
            }
            foreach (var c in plan.Candidates.Where(c => !State.Finalists.ContainsKey(c.TrialId)))
            {
                Emit(new FinalTrainingStarted(c.TrialId, c.Tokens, c.ArchitectureId, plan.RecipeJson, plan.Epochs, plan.Dataset, plan.Resolution, plan.TrainSize,
                    FinalTrainingPlan.SeedOf(c.TrialSeed), c.ProxyAccuracy, c.ProxyReward, now));
            }
            Emit(new FinalRunStarted([.. plan.Candidates.Select(c => c.TrialId)], State.FinalInFlight, now, plan.CheckpointDirectory));
            var done = State.FinalRun.Count(f => f.Finished);
            Log(LogLevel.InfoLevel, "search {SearchId}: final training of {Count} finalists ({Done} already finished): {Epochs} epochs on {Dataset}",
                _id, plan.Candidates.Count, done, plan.Epochs, plan.Dataset);
            if (State.FinalStatus == SearchStatus.Completed)
            {
                Stop(SearchStatus.Completed, null);
                return;
            }
            Dispatch();
        }

        private void DispatchFinal()
        {
            var plan = Session.FinalPlan!;
            while (Session.IdleTrainers.Count > 0
                && State.FinalRun.FirstOrDefault(f => f.Status == WorkStatus.Pending && !BackingOff(new WorkKey(f.TrialId, WorkKind.Final, 0))) is { } final)
            {
                var (worker, workerId, _) = Session.IdleTrainers[0];
                var attempt = final.Attempts + 1;
                var briefed = Session.Briefed.Contains(worker);
                var first = !Session.DispatchedSinceStart;
                Session = Session with
                {
                    IdleTrainers = Session.IdleTrainers.RemoveAt(0),
                    Leases = Session.Leases.SetItem(new WorkKey(final.TrialId, WorkKind.Final, 0), new Lease<TWorker>(worker, workerId, attempt, FinalDeadline(plan))),
                    Briefed = Session.Briefed.Add(worker),
                    DispatchedSinceStart = true,
                };
                var job = new FinalJob(final.RecipeJson, final.Epochs, final.Dataset, final.Resolution, final.TrainSize, plan.CheckpointDirectoryOf(final.TrialId, attempt), final.LastEpoch, final.BestEpoch);
                var offer = new WorkOffer(_id, final.TrialId, WorkKind.Final, attempt, final.Tokens, final.Seed, briefed ? null : decider._settingsJson, 0, job);
                Emit(new TrialDispatched(final.TrialId, WorkKind.Final, attempt, workerId));
                Steps.Add(new SendToWorker<TWorker>(worker, offer));
                Log(LogLevel.InfoLevel, "search {SearchId}: final training of trial {TrialId} on {Worker}{Resume}", _id, final.TrialId, workerId,
                    final.LastEpoch is { } last ? $", resuming after epoch {last.Epoch} of {final.Epochs}" : "");
                if (first)
                {
                    Steps.Add(new Notify(new FirstDispatch(_id, offer.TrialId, offer.Kind)));
                }
            }
        }

        private DateTime FinalDeadline(FinalTrainingPlan plan) => now.UtcDateTime.AddSeconds(Math.Max(_settings.Workers.LeaseTimeoutSeconds, plan.LeaseSeconds));

        /// <summary>The live lease of a final-training report, or null (an earlier attempt's, or no final run).</summary>
        private Lease<TWorker>? FinalLease(long trialId, int attempt) =>
            Session.FinalMode && !Session.Stopped && Session.Leases.TryGetValue(new WorkKey(trialId, WorkKind.Final, 0), out var lease) && lease.Attempt == attempt ? lease : null;

        public void FinalEpoch(FinalEpochDone m)
        {
            if (FinalLease(m.TrialId, m.Attempt) is not { } lease || !State.Finalists.TryGetValue(m.TrialId, out var final)
                || m.Epoch.Epoch != (final.LastEpoch?.Epoch ?? 0) + 1)
            {
                Log(LogLevel.DebugLevel, "search {SearchId}: stale final epoch {Epoch} of trial {TrialId} from {Worker} ignored", _id, m.Epoch.Epoch, m.TrialId, m.WorkerId);
                return;
            }
            Session = Session with { Leases = Session.Leases.SetItem(new WorkKey(m.TrialId, WorkKind.Final, 0), lease with { Deadline = FinalDeadline(Session.FinalPlan!) }) };
            Emit(new FinalEpochCompleted(m.TrialId, m.Attempt, m.WorkerId, m.Epoch));
            // Durable now: the trainer may delete the checkpoints this epoch supersedes.
            Steps.Add(new SendToWorker<TWorker>(lease.Worker, new FinalEpochJournaled(_id, m.TrialId, m.Attempt, m.Epoch.Epoch)));
            Log(LogLevel.InfoLevel, "search {SearchId}: trial {TrialId} final epoch {Epoch}/{Epochs}: accuracy {Accuracy:F4}, loss {Loss:F4}",
                _id, m.TrialId, m.Epoch.Epoch, final.Epochs, m.Epoch.Accuracy, m.Epoch.Loss);
            Steps.Add(new Notify(FinalProgress(m.TrialId, m.Epoch.Epoch, m.Epoch.Accuracy)));
        }

        /// <summary>The journaled epochs are the curve: the record is completed from them (a resumed run saw only its own).</summary>
        public void FinalDone(FinalTrainingDone m)
        {
            if (FinalLease(m.TrialId, m.Attempt) is null || !State.Finalists.TryGetValue(m.TrialId, out var final) || final.Finished)
            {
                return;
            }
            Session = Session with { Leases = Session.Leases.Remove(new WorkKey(m.TrialId, WorkKind.Final, 0)) };
            if (final.BestEpoch is not { } best || final.LastEpoch!.Epoch != final.Epochs)
            {
                Emit(new FinalTrainingFailed(m.TrialId, m.Attempt, m.WorkerId, $"training ended after {final.EpochsDone.Count} of {final.Epochs} journaled epochs", FailureCause.Infrastructure));
            }
            else
            {
                var curve = final.EpochsDone;
                Emit(new FinalTrained(m.TrialId, m.Attempt, m.WorkerId, m.Record with
                {
                    Epochs = curve.Count,
                    Accuracy = curve[^1].Accuracy,
                    BestAccuracy = best.Accuracy,
                    BestEpoch = best.Epoch,
                    BestCheckpoint = best.Checkpoint,
                    BestCheckpointSha256 = best.CheckpointSha256,
                    AccuracyCurve = [.. curve.Select(e => e.Accuracy)],
                    LossCurve = [.. curve.Select(e => e.Loss)],
                    Seconds = curve.Sum(e => e.Seconds),
                }));
                Log(LogLevel.InfoLevel, "search {SearchId}: trial {TrialId} fully trained: accuracy {Accuracy:F4} (best {Best:F4} at epoch {BestEpoch})",
                    _id, m.TrialId, curve[^1].Accuracy, best.Accuracy, best.Epoch);
            }
            SettleFinal(m.TrialId);
        }

        /// <summary>A fault of the architecture fails the finalist; one of the machines sends it back (resumed from its last epoch) until the attempts are spent.</summary>
        public void FinalFailed(WorkFailed m)
        {
            if (FinalLease(m.TrialId, m.Attempt) is null || !State.Finalists.TryGetValue(m.TrialId, out var final) || final.Finished)
            {
                return;
            }
            var key = new WorkKey(m.TrialId, WorkKind.Final, 0);
            Session = Session with { Leases = Session.Leases.Remove(key) };
            if (m.Cause == FailureCause.Architecture || m.Attempt >= _settings.Workers.MaxAttempts)
            {
                Log(LogLevel.WarningLevel, "search {SearchId}: final training of trial {TrialId} failed: {Reason}", _id, m.TrialId, m.Reason);
                Emit(new FinalTrainingFailed(m.TrialId, m.Attempt, m.WorkerId, m.Reason, m.Cause));
                SettleFinal(m.TrialId);
                return;
            }
            var delay = TimeSpan.FromSeconds(_settings.Workers.RetryDelaySeconds * Math.Pow(2, m.Attempt - 1));
            Session = Session with { RetryAt = Session.RetryAt.SetItem(key, now + delay) };
            Emit(new TrialLeaseExpired(m.TrialId, WorkKind.Final, m.Attempt, m.WorkerId, $"infrastructure fault, attempt {m.Attempt} of {_settings.Workers.MaxAttempts}: {m.Reason}"));
            Steps.Add(new WakeAfter($"retry-{m.TrialId}-final", delay));
            Dispatch();
        }

        private void SettleFinal(long trialId)
        {
            var f = State.Finalists[trialId];
            Steps.Add(new Notify(FinalProgress(trialId, f.LastEpoch?.Epoch ?? 0, f.Result?.Accuracy)));
            if (State.FinalStatus == SearchStatus.Completed)
            {
                Log(LogLevel.InfoLevel, "search {SearchId}: final training completed: {Trained} trained, {Failed} failed", _id,
                    State.FinalRun.Count(x => x.Status == WorkStatus.Done), State.FinalRun.Count(x => x.Status == WorkStatus.Failed));
                Stop(SearchStatus.Completed, null);
                return;
            }
            Dispatch();
            MaybeFinishPause();
        }

        private FinalTrainingProgress FinalProgress(long trialId, int epoch, double? accuracy)
        {
            var f = State.Finalists[trialId];
            var status = f.Status switch { WorkStatus.Done => "trained", WorkStatus.Failed => "failed", _ => "training" };
            return new FinalTrainingProgress(_id, trialId, epoch, f.Epochs, accuracy, status, State.FinalRun.Count(x => x.Finished), State.FinalRun.Count());
        }

        // ------------------------------------------------------------ pause / stop

        public void Pause(PauseSearch pause)
        {
            if (!Session.Dispatching)
            {
                return;
            }
            Session = Session with { PauseReason = pause.Reason };
            Log(LogLevel.InfoLevel, "search {SearchId}: pausing ({Reason}); {InFlight} trials in flight, grace {Grace} s", _id, pause.Reason, Session.Leases.Count, pause.GraceSeconds);
            if (Session.Leases.Count > 0)
            {
                Steps.Add(new StartPauseGrace(TimeSpan.FromSeconds(pause.GraceSeconds)));
            }
            MaybeFinishPause();
        }

        private void MaybeFinishPause()
        {
            if (Session.FinalMode ? Session.Pausing && !Session.Stopped && Session.Leases.Count == 0 && State.FinalStatus == SearchStatus.Running
                : Session.Pausing && !Session.Stopped && Session.Leases.Count == 0 && !State.AwaitingReward.Any() && State.Status == SearchStatus.Running)
            {
                FinishPause();
            }
        }

        /// <summary>Grace period over: the pause is journaled first, then the workers are told to drop what they hold.</summary>
        public void AbandonInFlight()
        {
            if (Session.Pausing && !Session.Stopped && (Session.FinalMode ? State.FinalStatus : State.Status) == SearchStatus.Running)
            {
                FinishPause();
            }
        }

        private void FinishPause()
        {
            var abandoned = Session.Leases;
            Emit(Session.FinalMode ? new FinalRunPaused(Session.PauseReason!, abandoned.Count, now) : new SearchPaused(Session.PauseReason!, abandoned.Count, now));
            foreach (var (key, lease) in abandoned)
            {
                Steps.Add(new SendToWorker<TWorker>(lease.Worker, new CancelWork(key.TrialId)));
            }
            Log(LogLevel.InfoLevel, "search {SearchId} paused: {Done} trials done, {Abandoned} in-flight trials abandoned (re-run on resume)", _id, State.TrialsRewarded, abandoned.Count);
            Stop(SearchStatus.Paused, Session.PauseReason);
        }

        private void Stop(SearchStatus status, string? reason)
        {
            var notice = new SearchStopped(_id, status.Word(), reason);
            Session = Session with { Stopped = true, StopNotice = notice };
            Steps.Add(new CancelTimers());
            if (status is SearchStatus.Paused or SearchStatus.Completed)
            {
                // The journal's head at rest: an audit finds a journal cut short after it.
                var mac = State.Chain == JournalChain.HmacSha256 ? JournalChain.HeadMac(State.EventCount, State.LastLink, decider._chainKey) : null;
                Session = Session with { SnapshotsInFlight = Session.SnapshotsInFlight + 1 };
                Steps.Add(new SealHead(new JournalHead(State.EventCount, State.LastLink, mac)));
            }
            Steps.Add(new Notify(decider.Progress(Session)));
            // Whoever hears "stopped" may stop the actor system: a snapshot still being written would be rolled back.
            if (Session.SnapshotsInFlight == 0)
            {
                Steps.Add(new Notify(notice));
            }
        }

        public void SnapshotSettled()
        {
            Session = Session with { SnapshotsInFlight = Session.SnapshotsInFlight - 1 };
            if (Session.SnapshotsInFlight == 0 && Session.StopNotice is { } notice)
            {
                Steps.Add(new Notify(notice));
            }
        }
    }
}

/// <summary>The journal does not match what this code computes from it (edited journal or changed code): not retried.</summary>
public sealed class JournalMismatchException(string message) : Exception(message);
