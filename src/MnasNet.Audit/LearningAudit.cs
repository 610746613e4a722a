using System.Globalization;
using MnasNet.Actors.Backends;
using MnasNet.Actors.Journal;
using MnasNet.Actors.Policy;
using MnasNet.Actors.Protocol;
using MnasNet.Controller;
using MnasNet.SearchSpace;

namespace MnasNet.Audit;

/// <summary>
/// How the re-run policy compared with the journal. <see cref="BitForBit"/> when every update was re-run on the
/// platform that wrote it (or gave equal bits anyway); otherwise the largest differences seen and the tolerance
/// they were held to. <see cref="Writer"/> is "not journaled" for journals written before platforms were recorded.
/// </summary>
public sealed record PlatformComparison(bool BitForBit, string Writer, string Auditor, double MaxParameterDelta, double MaxLogProbDelta, double Tolerance, bool StatesJournaled,
    bool SamePlatform = true)
{
    public string Describe() => BitForBit
        ? SamePlatform ? "bit for bit" : $"bit for bit, though on a different platform (written on {Writer}, audited on {Auditor})"
        : StatesJournaled
            ? string.Create(CultureInfo.InvariantCulture,
                $"on a different platform (max |Δθ| = {MaxParameterDelta:G3}, max |Δ log p| = {MaxLogProbDelta:G3}, tolerance {Tolerance:G3}; written on {Writer}, audited on {Auditor})")
            : string.Create(CultureInfo.InvariantCulture,
                $"on a different platform (journal without policy states or platform records: losses and log-probabilities within {Tolerance:G3}, max |Δ log p| = {MaxLogProbDelta:G3}; parameters not comparable; audited on {Auditor})");
}

/// <summary>
/// Learning verification: every batch is re-sampled and every PPO update re-run, each from the policy state journaled
/// before it (an update that journaled no state, from the re-run of the one before; journals written before states
/// were journaled: from the re-derived state), so drift never compounds.
/// Where the auditing platform is the writing one, samples and states must come out bit for bit; elsewhere float
/// results are held to a tolerance, while everything of exact arithmetic — tokens, rewards, advantages, baselines,
/// the state's own hash — must still be equal.
/// </summary>
public static class LearningAudit
{
    public const double DefaultTolerance = PolicyReplay.CrossPlatformTolerance;

    internal sealed record LearningResult(string Start, long StartSeq, HashSet<int> SamplesVerified, HashSet<int> UpdatesVerified, int UpdatesChecked,
        HashSet<int> BatchesChecked, PlatformComparison Platform, int Stretches = 1);

    private sealed class Comparison(double tolerance, ComputePlatform auditor)
    {
        public double Tolerance { get; } = tolerance;
        public ComputePlatform AuditorPlatform { get; } = auditor;
        public ComputePlatform? Writer { get; set; }
        public bool WriterJournaled { get; set; }
        public bool StatesJournaled { get; set; }
        public bool BitForBit { get; set; } = true;
        public bool SamePlatform { get; set; } = true;
        public double MaxParameterDelta { get; set; }
        public double MaxLogProbDelta { get; set; }

        /// <summary>
        /// Exact bits demanded: a policy of exact arithmetic (no float parameters), or the platform that wrote the step.
        /// A journal without platform records cannot say where it was written, so only the tolerance can be asked for;
        /// on its own platform it still comes out bit for bit, which the comparison then reports.
        /// </summary>
        public bool Exact(IArchitectureSampler policy)
        {
            // Updates are re-run with the thread count that wrote them, so only the rest of the platform can differ.
            var samePlatform = WriterJournaled && Writer is { } writer && writer == AuditorPlatform with { Threads = writer.Threads };
            if (WriterJournaled)
            {
                SamePlatform &= samePlatform;
            }
            return samePlatform || policy.ExactArithmetic;
        }

        public PlatformComparison Result() => new(BitForBit, WriterJournaled ? Writer?.ToString() ?? "not journaled" : "not journaled", AuditorPlatform.ToString(),
            MaxParameterDelta, MaxLogProbDelta, Tolerance, StatesJournaled, SamePlatform);
    }

    private static string WarmStartDescription(WarmStart warm) => warm.Taken == WarmStartKind.PolicyState
        ? $"warm-started from search {warm.SourceSearchId}'s policy state of step {warm.SourceStep} ({warm.SourceStateHash}; taken as journaled, the source journal is not read)"
        : $"warm-started from {warm.Trials?.Count ?? 0} trials of search {warm.SourceSearchId} (re-derived from the journaled trials)";

    /// <summary>
    /// A warm start from trials must re-derive from search-started alone: each taken trial's reward is its journaled
    /// accuracy and latencies under this search's reward settings (bit for bit), and the strategy seeded with them is
    /// the journaled initial state. A policy-state warm start's state is journaled whole and checked by its hash.
    /// </summary>
    private static (string Expected, string Found)? WarmStartProblem(JournalFacts facts, WarmStart warm, PolicyCheckpoint initial)
    {
        if (warm.Taken == WarmStartKind.PolicyState)
        {
            return null;
        }
        var targets = DevicePlatform.TargetsOf(facts.Settings);
        var (alpha, beta) = facts.Exponents;
        foreach (var t in warm.Trials ?? [])
        {
            if (t.LatenciesMs.Count != targets.Count)
            {
                return ($"{targets.Count} latencies for warm-start trial {t.SourceTrialId} of search {warm.SourceSearchId}", $"{t.LatenciesMs.Count}");
            }
            var reward = WarmStartPlanner.Rescore(t.Accuracy, t.LatenciesMs, t.Failed, targets, alpha, beta);
            if (BitConverter.DoubleToInt64Bits(reward) != BitConverter.DoubleToInt64Bits(t.Reward))
            {
                return (string.Create(CultureInfo.InvariantCulture, $"warm-start trial {t.SourceTrialId} of search {warm.SourceSearchId} re-scored {Auditor.F(reward)} under this search's reward"),
                    string.Create(CultureInfo.InvariantCulture, $"reward {Auditor.F(t.Reward)}"));
            }
        }
        string hash;
        try
        {
            using var derived = SearchPolicies.Create(facts.Settings, MnasNetSearchSpace.Default, warm, null);
            hash = PolicyCheckpoint.HashOf(derived.SaveState());
        }
        catch (ControllerException e)
        {
            return ($"warm-start trials strategy {facts.Settings.Strategy} can be seeded with", e.Message);
        }
        return hash == initial.StateHash
            ? null
            : ($"initial policy state {hash} (strategy {facts.Settings.Strategy} seeded with the {warm.Trials?.Count ?? 0} journaled warm-start trials)", $"state {initial.StateHash}");
    }

    internal static LearningResult Verify(JournalFacts facts, JournalSnapshot? snapshot, bool fromSnapshot, double tolerance, List<Divergence> divergences, int? parallelism = null)
    {
        var space = MnasNetSearchSpace.Default;
        var samplesOk = new HashSet<int>();
        var updatesOk = new HashSet<int>();
        var checkedBatches = new HashSet<int>();
        var updatesChecked = 0;
        IArchitectureSampler policy;
        long startSeq;
        string start;
        byte[]? journaledState = null;
        if (fromSnapshot && snapshot is not null)
        {
            journaledState = Convert.FromBase64String(snapshot.Snapshot.PolicyState);
            policy = SearchPolicies.Restore(facts.Settings, space, journaledState);
            startSeq = snapshot.SequenceNr;
            start = string.Create(CultureInfo.InvariantCulture, $"snapshot at sequence {snapshot.SequenceNr} (policy {policy.Version})");
        }
        else if (facts.Started.Policy is { } initial)
        {
            startSeq = 0;
            try
            {
                journaledState = initial.Decode(null);
                policy = SearchPolicies.Restore(facts.Settings, space, journaledState);
            }
            catch (InvalidDataException e)
            {
                divergences.Add(new Divergence(facts.StartedAt, "search-started", null, null, "a policy state that decodes to its own hash", e.Message));
                return Empty("initial policy state journaled in search-started", 0);
            }
            start = $"initial policy state journaled in search-started (policy {policy.Version})";
            if (facts.Started.WarmStart is { } warm)
            {
                start += $", {WarmStartDescription(warm)}";
                if (WarmStartProblem(facts, warm, initial) is { } problem)
                {
                    divergences.Add(new Divergence(facts.StartedAt, "search-started", null, null, problem.Expected, problem.Found));
                    policy.Dispose();
                    return Empty(start, 0);
                }
            }
        }
        else
        {
            policy = SearchPolicies.Create(facts.Settings, space);
            startSeq = 0;
            start = $"initial policy rebuilt from the settings in search-started (policy {policy.Version})";
        }
        var comparison = new Comparison(tolerance, ComputePlatform.Current(facts.Settings.Threads));
        if (fromSnapshot && snapshot is not null)
        {
            var writer = facts.Updates.LastOrDefault(u => u.Seq <= startSeq).Update?.Policy?.Platform ?? facts.Started.Policy?.Platform;
            (comparison.Writer, comparison.WriterJournaled) = (writer, writer is not null);
        }
        else
        {
            (comparison.Writer, comparison.WriterJournaled) = (facts.Started.Policy?.Platform, facts.Started.Policy is not null);
        }
        comparison.StatesJournaled = facts.Started.Policy is not null;
        var expectedVersion = fromSnapshot && snapshot is not null ? snapshot.Snapshot.State.PolicyVersion : facts.Started.PolicyVersion;
        if (policy.Version != expectedVersion)
        {
            divergences.Add(fromSnapshot && snapshot is not null
                ? new Divergence(snapshot.SequenceNr, "snapshot", null, snapshot.Snapshot.State.Batch, $"policy {expectedVersion} (the snapshot's state)", $"policy {policy.Version} restored from its saved state")
                : new Divergence(facts.StartedAt, "search-started", null, null,
                    $"policy {policy.Version} ({(facts.Started.Policy is null ? $"rebuilt from the journaled settings: strategy {facts.Settings.Strategy}, seed {facts.Settings.Seed}" : "the journaled initial state")})",
                    $"policy {facts.Started.PolicyVersion}"));
            policy.Dispose();
            return Empty(start, startSeq);
        }
        var steps = facts.Batches.Select(b => (b.Seq, (ISearchEvent)b.Batch))
            .Concat(facts.Updates.Select(u => (u.Seq, (ISearchEvent)u.Update)))
            .Where(e => e.Seq > startSeq)
            .OrderBy(e => e.Seq)
            .ToList();
        var chunks = comparison.StatesJournaled ? Chunks(steps, journaledState, parallelism ?? Math.Min(8, Environment.ProcessorCount / Math.Max(1, facts.Settings.Threads))) : [];
        if (chunks.Count < 2)
        {
            var run = RunSteps(policy, journaledState, null, steps, facts, comparison);
            samplesOk.UnionWith(run.SamplesOk);
            updatesOk.UnionWith(run.UpdatesOk);
            checkedBatches.UnionWith(run.Batches);
            updatesChecked = run.UpdatesChecked;
            if (run.Problem is not null)
            {
                divergences.Add(run.Problem);
            }
            return new LearningResult(start, startSeq, samplesOk, updatesOk, updatesChecked, checkedBatches, comparison.Result());
        }

        // A stretch starts at an update that journaled its state, so stretches are independent: each is re-run on its
        // own thread from its journaled start, and the results are read in journal order up to the first divergence,
        // as one pass would have stopped there.
        var runs = new StepRun[chunks.Count];
        var comparisons = new Comparison[chunks.Count];
        comparisons[0] = comparison;
        var threads = new Thread[chunks.Count];
        var errors = new Exception?[chunks.Count];
        for (var i = 0; i < chunks.Count; i++)
        {
            var index = i;
            if (index > 0)
            {
                comparisons[index] = new Comparison(tolerance, comparison.AuditorPlatform)
                {
                    Writer = chunks[index].Writer,
                    WriterJournaled = true,
                    StatesJournaled = true,
                };
            }
            threads[index] = new Thread(() =>
            {
                var chunk = chunks[index];
                try
                {
                    runs[index] = RunSteps(index == 0 ? policy : null, chunk.State, chunk.Threads, chunk.Steps, facts, comparisons[index]);
                }
                catch (Exception e)
                {
                    errors[index] = e;
                }
            })
            { IsBackground = true, Name = $"audit-{index}" };
            threads[index].Start();
        }
        foreach (var thread in threads)
        {
            thread.Join();
        }
        if (errors.FirstOrDefault(e => e is not null) is { } error)
        {
            System.Runtime.ExceptionServices.ExceptionDispatchInfo.Throw(error);
        }
        for (var i = 0; i < runs.Length; i++)
        {
            var run = runs[i];
            samplesOk.UnionWith(run.SamplesOk);
            updatesOk.UnionWith(run.UpdatesOk);
            checkedBatches.UnionWith(run.Batches);
            updatesChecked += run.UpdatesChecked;
            if (i > 0)
            {
                var c = comparisons[i];
                comparison.BitForBit &= c.BitForBit;
                comparison.SamePlatform &= c.SamePlatform;
                comparison.MaxParameterDelta = Math.Max(comparison.MaxParameterDelta, c.MaxParameterDelta);
                comparison.MaxLogProbDelta = Math.Max(comparison.MaxLogProbDelta, c.MaxLogProbDelta);
                comparison.Writer = c.Writer;
            }
            if (run.Problem is not null)
            {
                divergences.Add(run.Problem);
                break;
            }
        }
        return new LearningResult(start, startSeq, samplesOk, updatesOk, updatesChecked, checkedBatches, comparison.Result(), chunks.Count);

        LearningResult Empty(string startText, long at) => new(startText, at, samplesOk, updatesOk, 0, checkedBatches,
            new PlatformComparison(true, "-", "-", 0, 0, tolerance, facts.Started.Policy is not null));
    }

    private sealed record StepRun(HashSet<int> SamplesOk, HashSet<int> UpdatesOk, HashSet<int> Batches, int UpdatesChecked, Divergence? Problem);

    /// <summary>A stretch of the journal to re-run from a journaled policy state (null: the policy the audit started with).</summary>
    private sealed record Chunk(List<(long Seq, ISearchEvent Event)> Steps, byte[]? State, int? Threads, ComputePlatform? Writer);

    /// <summary>
    /// Splits the steps after updates into about as many stretches as the cores allow, each starting at a batch-sampled
    /// right after an update, with the journaled state that update wrote. Empty when a state does not decode (the one
    /// pass then reports it where it happens) or when there is too little to split.
    /// </summary>
    private static List<Chunk> Chunks(List<(long Seq, ISearchEvent Event)> steps, byte[]? initial, int parts)
    {
        var updates = steps.Count(s => s.Event is PolicyUpdated);
        if (parts < 2 || updates < 2 * parts)
        {
            return [];
        }
        // Stretches start after updates that journaled their state (journal.policyStateEvery); the updates between
        // are re-run within their stretch.
        bool Boundary(int i) => steps[i].Event is PolicyUpdated { Policy: not null } && i + 1 < steps.Count && steps[i + 1].Event is BatchSampled;
        // A keyframe decodes on its own: with enough of them the stretches start there and the chain is decoded only
        // once, by the stretches themselves; otherwise the chain is decoded here up to each start.
        var keyframesOnly = Enumerable.Range(0, steps.Count).Count(i => Boundary(i) && ((PolicyUpdated)steps[i].Event).Policy!.Base is null) >= parts;
        var perPart = (updates + parts - 1) / parts;
        var chunks = new List<Chunk>();
        var current = new List<(long Seq, ISearchEvent Event)>();
        (byte[]? State, int? Threads, ComputePlatform? Writer) from = (initial, null, null);
        var state = initial;
        var seen = 0;
        var nextStart = perPart;
        for (var i = 0; i < steps.Count; i++)
        {
            current.Add(steps[i]);
            if (steps[i].Event is not PolicyUpdated p)
            {
                continue;
            }
            seen++;
            if (p.Policy is not { } journaled)
            {
                continue;
            }
            var start = seen >= nextStart && Boundary(i) && (!keyframesOnly || journaled.Base is null);
            try
            {
                if (!keyframesOnly)
                {
                    state = journaled.Decode(state);
                }
                else if (start)
                {
                    state = journaled.Decode(null);
                }
            }
            catch (InvalidDataException)
            {
                return [];
            }
            if (start)
            {
                chunks.Add(new Chunk(current, from.State, from.Threads, from.Writer));
                current = [];
                from = (state, journaled.Platform.Threads, journaled.Platform);
                nextStart = seen + perPart;
            }
        }
        chunks.Add(new Chunk(current, from.State, from.Threads, from.Writer));
        return chunks;
    }

    /// <summary>
    /// Re-runs samples and updates in journal order until the first divergence. <paramref name="policy"/> null: the
    /// policy is restored from <paramref name="state"/> (and continues with <paramref name="threads"/>, as the
    /// update that wrote the state left it). The policy is disposed at the end.
    /// </summary>
    private static StepRun RunSteps(IArchitectureSampler? policy, byte[]? state, int? threads, List<(long Seq, ISearchEvent Event)> steps, JournalFacts facts, Comparison comparison)
    {
        var samplesOk = new HashSet<int>();
        var updatesOk = new HashSet<int>();
        var batches = new HashSet<int>();
        var updatesChecked = 0;
        policy ??= SearchPolicies.Restore(facts.Settings, MnasNetSearchSpace.Default, state!);
        if (threads is { } n)
        {
            policy.ContinueWithThreads(n);
        }
        try
        {
            BatchSampled? current = null;
            foreach (var (seq, e) in steps)
            {
                Divergence? problem = null;
                switch (e)
                {
                    case BatchSampled b:
                        current = b;
                        batches.Add(b.Batch);
                        problem = CheckSample(policy, seq, b, comparison);
                        if (problem is null)
                        {
                            samplesOk.Add(b.Batch);
                        }
                        break;
                    case PolicyUpdated p:
                        updatesChecked++;
                        (problem, policy, state) = CheckUpdate(policy, state, seq, p, current, facts, comparison);
                        if (problem is null)
                        {
                            updatesOk.Add(p.Batch);
                        }
                        break;
                }
                if (problem is not null)
                {
                    // The re-run policy no longer is the journaled one: later checks would only echo this divergence.
                    return new StepRun(samplesOk, updatesOk, batches, updatesChecked, problem);
                }
            }
            return new StepRun(samplesOk, updatesOk, batches, updatesChecked, null);
        }
        finally
        {
            policy.Dispose();
        }
    }

    private static Divergence? CheckSample(IArchitectureSampler policy, long seq, BatchSampled b, Comparison comparison)
    {
        var exact = comparison.Exact(policy);
        // Once a journal without policy states drifted (accepted within the tolerance), versions differ by construction.
        if (b.PolicyVersion != policy.Version && (exact || comparison.BitForBit || comparison.StatesJournaled))
        {
            return new Divergence(seq, "batch-sampled", null, b.Batch, $"policy version {policy.Version}", $"policy version {b.PolicyVersion}");
        }
        var (mismatch, delta) = PolicyReplay.Resample(policy, b, exact ? null : comparison.Tolerance);
        if (mismatch is not null)
        {
            return new Divergence(seq, "batch-sampled", mismatch.TrialId, b.Batch, mismatch.Expected, mismatch.Found);
        }
        if (delta > 0)
        {
            comparison.BitForBit = false;
            comparison.MaxLogProbDelta = Math.Max(comparison.MaxLogProbDelta, delta);
        }
        return null;
    }

    private static (Divergence? Problem, IArchitectureSampler Next, byte[]? JournaledState) CheckUpdate(IArchitectureSampler policy, byte[]? before, long seq, PolicyUpdated p, BatchSampled? batch, JournalFacts facts, Comparison comparison)
    {
        var (problem, next, after) = CheckUpdateCore(policy, before, seq, p, batch, facts, comparison);
        return (problem, next, after ?? before);
    }

    private static (Divergence? Problem, IArchitectureSampler Next, byte[]? JournaledState) CheckUpdateCore(IArchitectureSampler policy, byte[]? before, long seq, PolicyUpdated p, BatchSampled? batch, JournalFacts facts, Comparison comparison)
    {
        Divergence Fail(string expected, string found, long? trial = null) => new(seq, "policy-updated", trial, p.Batch, expected, found);
        if (p.Policy is { Platform: var written })
        {
            // A node that resumed with another controller.threads ran this update: re-run it with that count. Bits are
            // demanded where the platform that ran this update (not the one that wrote the state before it) is ours.
            policy.ContinueWithThreads(written.Threads);
            comparison.Writer = written;
            comparison.WriterJournaled = true;
        }
        if (batch is null || batch.Batch != p.Batch)
        {
            return (Fail($"an update of batch {batch?.Batch.ToString(CultureInfo.InvariantCulture) ?? "(none sampled)"}", $"an update of batch {p.Batch}"), policy, null);
        }
        var drifted = !comparison.Exact(policy) && !comparison.BitForBit && !comparison.StatesJournaled;
        if (p.PolicyVersionBefore != policy.Version && !drifted)
        {
            return (Fail($"policy before {policy.Version}", $"policy before {p.PolicyVersionBefore}"), policy, null);
        }
        // Trials the infrastructure failed after every attempt were left out of the update.
        var ids = batch.Trials.Select(t => t.TrialId).Where(id => !facts.Trials[id].Failures.Any(f => f.Event.Cause == FailureCause.Infrastructure)).Order().ToList();
        if (!ids.SequenceEqual(p.TrialIds) || p.Rewards.Count != ids.Count || p.Failed.Count != ids.Count)
        {
            return (Fail($"trials {string.Join(",", ids)} in trial-id order", $"trials {string.Join(",", p.TrialIds)} with {p.Rewards.Count} rewards"), policy, null);
        }
        for (var i = 0; i < ids.Count; i++)
        {
            var reward = facts.Trials[ids[i]].Reward;
            if (reward is null || !Auditor.SameBits(reward.Reward, p.Rewards[i]) || reward.Failed != p.Failed[i])
            {
                return (Fail($"reward {(reward is null ? "(none journaled)" : Auditor.F(reward.Reward))}, failed {reward?.Failed} (reward-computed of trial {ids[i]})", $"reward {Auditor.F(p.Rewards[i])}, failed {p.Failed[i]}", ids[i]), policy, null);
            }
        }
        var exact = comparison.Exact(policy);
        var byId = batch.Trials.ToDictionary(t => t.TrialId);
        var feedback = ids.Select((id, i) => PolicyReplay.Feedback(byId[id].Tokens, byId[id].LogProb, p.Rewards[i], p.Failed[i])).ToList();
        var r = feedback.Count > 0 ? policy.Observe(feedback) : SamplerStep.Unchanged(policy.Version);
        for (var i = 0; i < ids.Count && i < p.Advantages.Count; i++)
        {
            // Advantages are plain double arithmetic on journaled rewards: equal bits on every platform.
            if (!Auditor.SameBits(r.Advantages[i], p.Advantages[i]))
            {
                return (Fail($"advantage {Auditor.F(r.Advantages[i])} (baseline {Auditor.F(r.BaselineBefore)})", $"advantage {Auditor.F(p.Advantages[i])} (baseline {Auditor.F(p.BaselineBefore)})", ids[i]), policy, null);
            }
        }
        if (!Auditor.SameBits(r.BaselineAfter, p.BaselineAfter))
        {
            return (Fail($"baseline after {Auditor.F(r.BaselineAfter)}", $"baseline after {Auditor.F(p.BaselineAfter)}"), policy, null);
        }
        if (p.Policy is not { } journaled)
        {
            return (CheckUnjournaledUpdate(r, p, comparison, exact, Fail), policy, null);
        }

        if (exact && r.ParameterHash == p.ParameterHash && PolicyCheckpoint.HashOf(policy.SaveState()) == journaled.StateHash)
        {
            // The re-run policy saves exactly the journaled state, so it goes on as the next step's start: restoring
            // another policy from the journaled bytes would give the same one. The journaled state must still decode.
            try
            {
                var state = journaled.Decode(before);
                comparison.Writer = journaled.Platform;
                comparison.WriterJournaled = true;
                return (null, policy, state);
            }
            catch (InvalidDataException)
            {
                // Reported below, exactly as without this shortcut.
            }
        }
        IArchitectureSampler after;
        byte[] afterState;
        try
        {
            afterState = journaled.Decode(before);
            after = SearchPolicies.Restore(facts.Settings, MnasNetSearchSpace.Default, afterState);
        }
        catch (InvalidDataException e)
        {
            return (Fail("a policy state that decodes to its own hash", e.Message), policy, null);
        }
        var next = after;
        try
        {
            if (after.Version != p.ParameterHash)
            {
                return (Fail($"parameter hash {after.Version} (of the journaled policy state)", $"parameter hash {p.ParameterHash}"), policy, null);
            }
            if (exact)
            {
                var hash = PolicyCheckpoint.HashOf(policy.SaveState());
                if (r.ParameterHash != p.ParameterHash || hash != journaled.StateHash)
                {
                    return (Fail($"parameter hash {r.ParameterHash}, state {hash} after re-running the update on the platform that wrote it ({comparison.AuditorPlatform})",
                        $"parameter hash {p.ParameterHash}, state {journaled.StateHash}"), policy, null);
                }
            }
            else
            {
                var delta = MaxDelta(policy.ParameterValues(), after.ParameterValues());
                if (!(delta <= comparison.Tolerance))
                {
                    return (Fail(string.Create(CultureInfo.InvariantCulture, $"parameters within {comparison.Tolerance:G3} of the journaled state after re-running the update"),
                        string.Create(CultureInfo.InvariantCulture, $"max |Δθ| = {delta:G3} (written on {journaled.Platform}, audited on {comparison.AuditorPlatform})")), policy, null);
                }
                comparison.MaxParameterDelta = Math.Max(comparison.MaxParameterDelta, delta);
                comparison.BitForBit &= r.ParameterHash == p.ParameterHash;
            }
            next = policy;
            return (null, after, afterState);
        }
        finally
        {
            // The next step starts from the journaled state, never from this platform's re-run of it.
            comparison.Writer = journaled.Platform;
            comparison.WriterJournaled = true;
            next.Dispose();
        }
    }

    /// <summary>
    /// An update of a journal that holds no policy states: its hash must match where it was written; elsewhere (a
    /// journal without platform records cannot say where that was) the journaled losses must match within the tolerance.
    /// </summary>
    private static Divergence? CheckUnjournaledUpdate(SamplerStep r, PolicyUpdated p, Comparison comparison, bool exact, Func<string, string, long?, Divergence> fail)
    {
        if (r.ParameterHash == p.ParameterHash)
        {
            return null;
        }
        if (exact)
        {
            return fail($"parameter hash {r.ParameterHash} after re-running the update", $"parameter hash {p.ParameterHash}", null);
        }
        if (!PolicyReplay.LossesWithin(r, p, comparison.Tolerance))
        {
            return fail(string.Create(CultureInfo.InvariantCulture, $"parameter hash {r.ParameterHash} and losses within {comparison.Tolerance:G3} after re-running the update (policy loss {Auditor.F(r.PolicyLoss)}, entropy {Auditor.F(r.Entropy)})"),
                $"parameter hash {p.ParameterHash} (policy loss {Auditor.F(p.PolicyLoss)}, entropy {Auditor.F(p.Entropy)})", null);
        }
        comparison.BitForBit = false;
        return null;
    }

    private static double MaxDelta(IReadOnlyList<float> a, IReadOnlyList<float> b)
    {
        if (a.Count != b.Count)
        {
            return double.PositiveInfinity;
        }
        var max = 0.0;
        for (var i = 0; i < a.Count; i++)
        {
            max = Math.Max(max, Math.Abs((double)a[i] - b[i]));
        }
        return max;
    }
}
