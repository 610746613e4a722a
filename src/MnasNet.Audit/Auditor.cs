using System.Globalization;
using MnasNet.Actors.Backends;
using MnasNet.Actors.Journal;
using MnasNet.Actors.Policy;
using MnasNet.Actors.Protocol;
using MnasNet.Actors.Settings;
using MnasNet.Actors.State;
using MnasNet.Controller;
using MnasNet.SearchSpace;

namespace MnasNet.Audit;

/// <summary>What to verify: rewards always; learning (re-running the policy) unless rewards-only; from the start or the latest snapshot.</summary>
/// <summary>
/// What to verify: rewards always; learning (re-running the policy) unless rewards-only; from the start or the latest
/// snapshot. <paramref name="ChainKey"/> verifies an HMAC-chained journal; <paramref name="Tolerance"/> bounds the
/// parameter and log-probability differences accepted when the auditing platform is not the one that wrote an update.
/// </summary>
/// <param name="Parallelism">Stretches of the journal re-run at once (null: as many as the cores allow at the search's thread count).</param>
/// <param name="TablePath">A search with a predictor: the lookup table to recompute its predictions from (null: the file the journal names).</param>
public sealed record AuditOptions(bool Learning = true, bool FromSnapshot = false, byte[]? ChainKey = null, double Tolerance = LearningAudit.DefaultTolerance, int? Parallelism = null,
    string? TablePath = null);

/// <summary>A place where the journal disagrees with what its own inputs imply.</summary>
public sealed record Divergence(long SequenceNr, string Kind, long? TrialId, int? Batch, string Expected, string Found)
{
    public override string ToString() => string.Create(CultureInfo.InvariantCulture,
        $"sequence {SequenceNr} ({Kind}{(TrialId is { } t ? $", trial {t}" : "")}{(Batch is { } b ? $", batch {b}" : "")}): expected {Expected}, found {Found}");
}

/// <summary>One decision of the search: a trial, its reward and what the controller learned from it.</summary>
public sealed record DecisionRow(
    long TrialId,
    int Batch,
    string ArchitectureId,
    double? Accuracy,
    double? LatencyMs,
    double? TargetMs,
    double? Exponent,
    double? Reward,
    double? Advantage,
    int? RankInBatch,
    bool Failed,
    bool RewardVerified,
    bool? LearningVerified)
{
    public bool Pending => Reward is null;

    public bool Verified => RewardVerified && LearningVerified != false;
}

public sealed record AuditTotals(
    long Events,
    int Trials,
    int Rewarded,
    int Failed,
    int Pending,
    int RewardsVerified,
    int RewardMismatches,
    int Batches,
    int BatchesSampleVerified,
    int Updates,
    int UpdatesVerified,
    int UpdatesNotChecked,
    int Gaps);

/// <summary>The audit of one journal. <see cref="Verified"/> only when no divergence and no gap was found.</summary>
public sealed record AuditReport(
    string SearchId,
    string Strategy,
    string Status,
    bool LearningChecked,
    string LearningStart,
    IReadOnlyList<DecisionRow> Rows,
    AuditTotals Totals,
    IReadOnlyList<Divergence> Divergences,
    IReadOnlyList<SequenceGap> Gaps,
    PlatformComparison? Platform = null,
    ChainAudit? Chain = null,
    int LearningStretches = 1,
    PredictorAuditResult? Predictor = null)
{
    public bool Verified => Divergences.Count == 0 && Chain?.Intact != false;

    public Divergence? FirstDivergence => Divergences.MinBy(d => d.SequenceNr);
}

/// <summary>A journal that cannot be audited at all (no events, no search-started, unreadable settings).</summary>
public sealed class AuditInputException(string message, Exception? inner = null) : Exception(message, inner);

/// <summary>
/// The journal folded into per-trial facts (the read model, <see cref="SearchHistory"/>) with its journaled settings:
/// the first pass of every audit and what-if, pure.
/// </summary>
public sealed record JournalFacts(
    string SearchId,
    long StartedAt,
    SearchStarted Started,
    SearchSettings Settings,
    IReadOnlyDictionary<long, TrialHistory> Trials,
    IReadOnlyList<(long Seq, BatchSampled Batch)> Batches,
    IReadOnlyList<(long Seq, PolicyUpdated Update)> Updates,
    string Status,
    long Events)
{
    public static JournalFacts From(JournalRead read)
    {
        if (read.Records.Count == 0)
        {
            throw new AuditInputException($"search '{read.SearchId}': the journal holds no events");
        }
        var first = read.Records[0];
        if (first.Event is not SearchStarted started)
        {
            throw new AuditInputException($"search '{read.SearchId}': the first event (sequence {first.SequenceNr}, {first.Manifest}) is not search-started; nothing to replay from");
        }
        SearchSettings settings;
        try
        {
            settings = SettingsLoader.FromJson(started.SettingsJson);
        }
        catch (Exception e) when (e is SettingsException or System.Text.Json.JsonException)
        {
            throw new AuditInputException($"search '{read.SearchId}': the settings journaled in search-started cannot be read: {e.Message}", e);
        }
        var history = SearchHistory.From(read.SearchId, read.Records);
        return new JournalFacts(read.SearchId, first.SequenceNr, started, settings, history.Trials, history.Batches, history.Updates, history.Status.Word(), read.Records.Count)
        {
            Selections = history.Selections,
        };
    }

    public (double Alpha, double Beta) Exponents => SettingsValidation.Exponents(Settings.Reward);

    /// <summary>Each batch's measurement selection (a search with a predictor).</summary>
    public IReadOnlyList<(long Seq, MeasurementSelected Selection)> Selections { get; init; } = [];
}

/// <summary>
/// The auditor: recomputes every reward from its journaled inputs (bit for bit) and re-runs the policy from its
/// journaled initial state (or the latest snapshot): each batch's samples and each update's parameter hash must
/// come out as journaled. Deterministic; reads nothing but the events it is given.
/// </summary>
public static class Auditor
{
    public static AuditReport Audit(JournalRead read, AuditOptions options)
    {
        var facts = JournalFacts.From(read);
        var divergences = new List<Divergence>();
        divergences.AddRange(read.Gaps.Select(g => new Divergence(g.From, "gap", null, null,
            g.Missing == 1 ? $"event {g.From}" : $"events {g.From}–{g.To}",
            $"{g.Missing} event(s) missing: the journal goes from {g.From - 1} to {g.To + 1}")));

        var rewardOk = VerifyRewards(facts, divergences);
        var predictor = PredictorAudit.Verify(facts, options.TablePath, divergences);
        var learning = options.Learning ? LearningAudit.Verify(facts, read.Snapshot, options.FromSnapshot, options.Tolerance, divergences, options.Parallelism) : null;
        var chain = options.Learning ? ChainAudit.Verify(read, facts, options.ChainKey) : null;

        var rows = Rows(facts, rewardOk, learning);
        var totals = new AuditTotals(
            facts.Events,
            rows.Count,
            rows.Count(r => !r.Pending),
            rows.Count(r => r.Failed),
            rows.Count(r => r.Pending),
            rows.Count(r => !r.Pending && r.RewardVerified),
            rows.Count(r => !r.Pending && !r.RewardVerified),
            facts.Batches.Count,
            learning?.SamplesVerified.Count ?? 0,
            facts.Updates.Count,
            learning?.UpdatesVerified.Count ?? 0,
            learning is null ? facts.Updates.Count : facts.Updates.Count - learning.UpdatesChecked,
            read.Gaps.Count);
        return new AuditReport(facts.SearchId, facts.Started.Strategy, facts.Status, learning is not null, learning?.Start ?? "not checked (rewards only)",
            rows, totals, divergences.OrderBy(d => d.SequenceNr).ToList(), read.Gaps, learning?.Platform, chain, learning?.Stretches ?? 1, predictor);
    }

    // ------------------------------------------------------------------ rewards

    /// <summary>Trial id → reward verified. Adds a divergence per mismatching reward event.</summary>
    internal static Dictionary<long, bool> VerifyRewards(JournalFacts facts, List<Divergence> divergences)
    {
        var (alpha, beta) = facts.Exponents;
        var targets = DevicePlatform.TargetsOf(facts.Settings);
        var ok = new Dictionary<long, bool>();
        foreach (var t in facts.Trials.Values)
        {
            if (t.Rewards.Count == 0)
            {
                continue;
            }
            var (seq, inputs) = t.Rewards[0];
            var problem = RewardProblem(t, seq, inputs, targets[0].TargetMs, alpha, beta, targets, PredictorAudit.ExpectedLatency(facts, t, seq));
            if (t.Rewards.Count > 1)
            {
                problem ??= ($"one reward-computed event for trial {t.Sampled.TrialId}", $"{t.Rewards.Count} (sequence {string.Join(", ", t.Rewards.Select(r => r.Seq))})");
            }
            ok[t.Sampled.TrialId] = problem is null;
            if (problem is { } p)
            {
                divergences.Add(new Divergence(seq, "reward-computed", t.Sampled.TrialId, t.Batch, p.Expected, p.Found));
            }
        }
        return ok;
    }

    /// <summary>
    /// First disagreement of a reward event with (1) the formula applied to its own inputs and (2) the inputs the
    /// rest of the journal gives: accuracy from trial-trained, latency from latency-measured, failure from
    /// trial-failed, T, α and β from the settings in search-started.
    /// </summary>
    /// <param name="predicted">A search with a predictor: the latency the reward had to use (measured or predicted), its event and what that is.</param>
    internal static (string Expected, string Found)? RewardProblem(TrialHistory t, long seq, RewardInputs inputs, double targetMs, double alpha, double beta,
        IReadOnlyList<MeasureTarget>? targets = null, (double LatencyMs, string Source, long Seq, string What)? predicted = null)
    {
        if (inputs.FormulaId != RewardFormula.Id)
        {
            return ($"formula {RewardFormula.Id} (the one this build computes)", $"formula '{inputs.FormulaId}'");
        }
        var recomputed = MnasNetReward.Recompute(inputs);
        if (!SameBits(recomputed.Reward, inputs.Reward))
        {
            return ($"reward {F(recomputed.Reward)} (recomputed from its journaled inputs: ACC {F(inputs.Accuracy)}, LAT {F(inputs.LatencyMs)} ms, T {F(inputs.TargetMs)} ms, α {F(inputs.Alpha)}, β {F(inputs.Beta)}, failed {inputs.Failed})",
                $"reward {F(inputs.Reward)}");
        }
        if (!SameBits(recomputed.Exponent, inputs.Exponent) || recomputed.Failed != inputs.Failed)
        {
            return ($"w {F(recomputed.Exponent)}, failed {recomputed.Failed}", $"w {F(inputs.Exponent)}, failed {inputs.Failed}");
        }
        var failure = t.Failures.FirstOrDefault(f => f.Seq < seq);
        var trained = t.Trained is { } tr && tr.Seq < seq ? tr : ((long, TrainingRecord)?)null;
        var latency = t.Latencies.LastOrDefault(l => l.Seq < seq && l.Target == 0);
        var failed = failure.Event is not null;
        var expected = MnasNetReward.Compute(trained?.Item2.Accuracy ?? 0, predicted?.LatencyMs ?? latency.Record?.MedianMs ?? 0, targetMs, alpha, beta, failed);
        if (predicted is { } p && !failed)
        {
            if (inputs.LatencySource != p.Source)
            {
                return ($"the {p.Source} latency {F(p.LatencyMs)} ms ({p.What} at sequence {p.Seq})", $"the {inputs.LatencySource ?? "unlabelled"} latency {F(inputs.LatencyMs)} ms in the reward inputs");
            }
            if (!SameBits(p.LatencyMs, inputs.LatencyMs))
            {
                return ($"LAT {F(p.LatencyMs)} ms ({p.What} at sequence {p.Seq})", $"LAT {F(inputs.LatencyMs)} ms in the reward inputs");
            }
        }
        if (targets is { Count: > 1 })
        {
            var devices = targets.Select((x, i) => new DeviceLatency(x.Platform.ToString(), t.Latencies.LastOrDefault(l => l.Seq < seq && l.Target == i).Record?.MedianMs ?? 0, x.TargetMs, 0)).ToList();
            expected = MnasNetReward.Compute(trained?.Item2.Accuracy ?? 0, devices, alpha, beta, failed);
            for (var i = 0; i < devices.Count; i++)
            {
                var found = inputs.Devices is { } d && d.Count == devices.Count ? d[i] : null;
                var journaled = expected.Devices![i];
                if (found is null || found.Platform != journaled.Platform || !SameBits(found.LatencyMs, journaled.LatencyMs) || !SameBits(found.TargetMs, journaled.TargetMs))
                {
                    var at = t.Latencies.LastOrDefault(l => l.Seq < seq && l.Target == i);
                    return ($"{journaled.Platform}: LAT {F(journaled.LatencyMs)} ms, T {F(journaled.TargetMs)} ms ({Source("latency-measured", at.Record is null ? null : at.Seq)}; targets in search-started)",
                        found is null ? $"no latency for target {i} in the reward inputs" : $"{found.Platform}: LAT {F(found.LatencyMs)} ms, T {F(found.TargetMs)} ms in the reward inputs");
                }
            }
        }
        string Source(string what, long? at) => at is { } s ? $"{what} at sequence {s}" : $"no {what} before it";
        if (!SameBits(expected.Accuracy, inputs.Accuracy))
        {
            return ($"ACC {F(expected.Accuracy)} ({Source("trial-trained", trained?.Item1)})", $"ACC {F(inputs.Accuracy)} in the reward inputs");
        }
        if (!SameBits(expected.LatencyMs, inputs.LatencyMs))
        {
            return ($"LAT {F(expected.LatencyMs)} ms ({Source("latency-measured", latency.Record is null ? null : latency.Seq)})", $"LAT {F(inputs.LatencyMs)} ms in the reward inputs");
        }
        if (!SameBits(expected.TargetMs, inputs.TargetMs) || !SameBits(expected.Alpha, inputs.Alpha) || !SameBits(expected.Beta, inputs.Beta))
        {
            return ($"T {F(targetMs)} ms, α {F(alpha)}, β {F(beta)} (settings in search-started)", $"T {F(inputs.TargetMs)} ms, α {F(inputs.Alpha)}, β {F(inputs.Beta)}");
        }
        if (expected.Failed != inputs.Failed || !SameBits(expected.Reward, inputs.Reward))
        {
            return ($"failed {expected.Failed}, reward {F(expected.Reward)} ({(failed ? Source("trial-failed", failure.Seq) : "no trial-failed")})", $"failed {inputs.Failed}, reward {F(inputs.Reward)}");
        }
        return null;
    }

    // ------------------------------------------------------------------ learning

    // ------------------------------------------------------------------ rows

    private static List<DecisionRow> Rows(JournalFacts facts, Dictionary<long, bool> rewardOk, LearningAudit.LearningResult? learning)
    {
        var ranks = facts.Trials.Values.Where(t => t.Reward is not null).GroupBy(t => t.Batch)
            .SelectMany(g => g.OrderByDescending(t => t.Reward!.Reward).ThenBy(t => t.Sampled.TrialId).Select((t, i) => (t.Sampled.TrialId, Rank: i + 1)))
            .ToDictionary(x => x.TrialId, x => x.Rank);
        return facts.Trials.Values.Select(t =>
        {
            var r = t.Reward;
            bool? learned = learning is null || t.SampledAt <= learning.StartSeq
                ? null
                : learning.SamplesVerified.Contains(t.Batch) && (learning.UpdatesVerified.Contains(t.Batch) || !facts.Updates.Any(u => u.Update.Batch == t.Batch));
            return new DecisionRow(t.Sampled.TrialId, t.Batch, t.Sampled.ArchitectureId, r?.Accuracy, r?.LatencyMs, r?.TargetMs, r?.Exponent, r?.Reward,
                t.Advantage, ranks.TryGetValue(t.Sampled.TrialId, out var rank) ? rank : null, r?.Failed ?? t.Failures.Count > 0,
                rewardOk.GetValueOrDefault(t.Sampled.TrialId), learned);
        }).ToList();
    }

    internal static bool SameBits(double a, double b) => PolicyReplay.SameBits(a, b);

    internal static string F(double v) => PolicyReplay.F(v);
}
