using System.Globalization;
using MnasNet.Actors.Backends;
using MnasNet.Actors.Decisions;
using MnasNet.Actors.Protocol;
using MnasNet.Actors.Settings;
using MnasNet.Actors.State;
using MnasNet.SearchSpace;

namespace MnasNet.Audit;

/// <summary>
/// What the audit found of a search with a latency predictor: how many batch selections it re-derived, whether the
/// predictions were recomputed from the table (<see cref="Note"/> says from which file, or why they were taken as
/// journaled).
/// </summary>
public sealed record PredictorAuditResult(string Table, double Fraction, int Selections, int SelectionsVerified, int Predictions, int PredictionsRecomputed, string Note);

/// <summary>
/// The audit of a search with a predictor: each batch's selection must be the top ⌈F·n⌉ of its trained trials by
/// the reward of their journaled predictions and accuracies (<see cref="MeasurementSelection"/>), and with the table
/// at hand (the same bytes as journaled) every prediction must be what the table predicts. Which latency each reward
/// had to use (measured for chosen trials, predicted for the others) is checked with the rewards (<see cref="Auditor.RewardProblem"/>).
/// </summary>
public static class PredictorAudit
{
    public static PredictorAuditResult? Verify(JournalFacts facts, string? tablePath, List<Divergence> divergences)
    {
        if (facts.Started.Predictor is not { } identity)
        {
            return null;
        }
        var (alpha, beta) = facts.Exponents;
        var targetMs = DevicePlatform.TargetsOf(facts.Settings)[0].TargetMs;
        var fraction = facts.Settings.Latency.MeasureTop;
        var verified = 0;
        foreach (var (seq, s) in facts.Selections)
        {
            var problem = SelectionProblem(facts, seq, s, fraction, targetMs, alpha, beta);
            if (problem is { } p)
            {
                divergences.Add(new Divergence(seq, "measure-selected", null, s.Batch, p.Expected, p.Found));
            }
            else
            {
                verified++;
            }
        }
        var predictions = facts.Trials.Values.Where(t => t.Predicted is not null).ToList();
        var (recomputed, note) = RecomputePredictions(facts, identity, tablePath, predictions, divergences);
        return new PredictorAuditResult(identity.File, fraction, facts.Selections.Count, verified, predictions.Count, recomputed, note);
    }

    private static (string Expected, string Found)? SelectionProblem(JournalFacts facts, long seq, MeasurementSelected s, double fraction, double targetMs, double alpha, double beta)
    {
        if (s.Rule != MeasurementSelection.Rule)
        {
            return ($"rule {MeasurementSelection.Rule}", $"rule '{s.Rule}'");
        }
        if (!Auditor.SameBits(s.Fraction, fraction))
        {
            return ($"fraction {Auditor.F(fraction)} (latency.measureTop in search-started)", $"fraction {Auditor.F(s.Fraction)}");
        }
        var batch = facts.Trials.Values.Where(t => t.Batch == s.Batch).ToList();
        var trained = batch.Where(t => t.Trained is { } tr && tr.Seq < seq && !t.Failures.Any(f => f.Seq < seq)).ToList();
        var unpredicted = trained.FirstOrDefault(t => t.Predicted is not { } p || p.Seq > seq);
        if (unpredicted is not null)
        {
            return ($"a latency-predicted event for trial {unpredicted.Sampled.TrialId} before the selection", "none");
        }
        var (ranked, chosen) = MeasurementSelection.Select(trained.Select(t => (t.Sampled.TrialId, t.Trained!.Value.Record.Accuracy, t.Predicted!.Value.Event.PredictedMs)), fraction, targetMs, alpha, beta);
        if (ranked.Count != s.Ranked.Count || ranked.Zip(s.Ranked, (First, Second) => (First, Second)).Any(x => x.First.TrialId != x.Second.TrialId
            || !Auditor.SameBits(x.First.Accuracy, x.Second.Accuracy) || !Auditor.SameBits(x.First.PredictedMs, x.Second.PredictedMs) || !Auditor.SameBits(x.First.PredictedReward, x.Second.PredictedReward)))
        {
            return ($"ranking {Describe(ranked)} (from trial-trained and latency-predicted)", $"ranking {Describe(s.Ranked)}");
        }
        if (!chosen.SequenceEqual(s.Chosen))
        {
            return ($"chosen {string.Join(", ", chosen)} (the top {MeasurementSelection.Count(fraction, ranked.Count)} of {ranked.Count})", $"chosen {string.Join(", ", s.Chosen)}");
        }
        return null;
    }

    private static string Describe(IEnumerable<RankedTrial> ranked) => string.Join(", ", ranked.Select(r => string.Create(CultureInfo.InvariantCulture, $"{r.TrialId} ({Auditor.F(r.PredictedReward)})")));

    private static (int Recomputed, string Note) RecomputePredictions(JournalFacts facts, PredictorIdentity identity, string? tablePath, List<TrialHistory> predictions, List<Divergence> divergences)
    {
        var path = tablePath ?? LatencyPredictor.TablePath(identity.Spec);
        if (!File.Exists(path))
        {
            return (0, $"predictions taken as journaled: table '{path}' not found (give --table FILE to recompute them)");
        }
        var sha = LatencyPredictor.Sha256Of(path);
        if (sha != identity.Sha256)
        {
            return (0, $"predictions taken as journaled: table '{path}' has SHA-256 {sha}, the journal's ({identity.File}) {identity.Sha256}");
        }
        LatencyPredictor predictor;
        try
        {
            predictor = LatencyPredictor.Load($"table:{path}", new NetworkOptions(Resolution: facts.Settings.Latency.Resolution), MnasNetSearchSpace.Default);
        }
        catch (SettingsException e)
        {
            return (0, $"predictions taken as journaled: {e.Message}");
        }
        var recomputed = 0;
        foreach (var t in predictions)
        {
            var (seq, p) = t.Predicted!.Value;
            var expected = predictor.PredictMs(t.Sampled.Tokens);
            if (!Auditor.SameBits(expected, p.PredictedMs))
            {
                divergences.Add(new Divergence(seq, "latency-predicted", t.Sampled.TrialId, t.Batch, $"{Auditor.F(expected)} ms (table '{path}')", $"{Auditor.F(p.PredictedMs)} ms"));
            }
            else
            {
                recomputed++;
            }
        }
        return (recomputed, $"predictions recomputed from table '{path}' (SHA-256 {sha})");
    }

    /// <summary>The latency a trial's reward had to use in a search with a predictor, and its source, or null when the journal holds no selection for it.</summary>
    internal static (double LatencyMs, string Source, long Seq, string What)? ExpectedLatency(JournalFacts facts, TrialHistory t, long rewardSeq)
    {
        if (facts.Started.Predictor is null)
        {
            return null;
        }
        var selection = facts.Selections.LastOrDefault(s => s.Selection.Batch == t.Batch && s.Seq < rewardSeq);
        if (selection.Selection is not { } s || !s.Ranked.Any(r => r.TrialId == t.Sampled.TrialId))
        {
            return null;
        }
        if (s.Chosen.Contains(t.Sampled.TrialId))
        {
            var latency = t.Latencies.LastOrDefault(l => l.Seq < rewardSeq && l.Target == 0);
            return (latency.Record?.MedianMs ?? 0, LatencySources.Measured, latency.Record is null ? selection.Seq : latency.Seq, latency.Record is null ? "no latency-measured before it" : "latency-measured");
        }
        return t.Predicted is { } p && p.Seq < rewardSeq ? (p.Event.PredictedMs, LatencySources.Predicted, p.Seq, "latency-predicted; skipped by measure-selected") : (0, LatencySources.Predicted, selection.Seq, "no latency-predicted before it");
    }
}
