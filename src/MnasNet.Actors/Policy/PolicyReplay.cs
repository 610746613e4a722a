using System.Globalization;
using MnasNet.Actors.Protocol;
using MnasNet.Controller;

namespace MnasNet.Actors.Policy;

/// <summary>Where a re-run policy disagrees with the journal: the trial (if one) and what each side says.</summary>
public sealed record ReplayMismatch(long? TrialId, string Expected, string Found);

/// <summary>
/// Re-runs the policy against journaled batches and updates, bit for bit: the controller's recovery and the auditor
/// both check through these two functions. Each advances the policy exactly as the live search did.
/// </summary>
public static class PolicyReplay
{
    /// <summary>Samples as many proposals as the batch holds; they must be its tokens and log-probabilities, bit for bit.</summary>
    public static ReplayMismatch? Sample(IArchitectureSampler policy, BatchSampled batch) =>
        batch.PolicyVersion != policy.Version
            ? new ReplayMismatch(null, $"policy version {policy.Version}", $"policy version {batch.PolicyVersion}")
            : Resample(policy, batch, null).Mismatch;

    /// <summary>
    /// Samples as many proposals as the batch holds: the tokens must be the batch's, the log-probabilities equal bit
    /// for bit, or with a <paramref name="tolerance"/> within tolerance·max(1, |log p|). Also says the largest difference.
    /// </summary>
    public static (ReplayMismatch? Mismatch, double MaxLogProbDelta) Resample(IArchitectureSampler policy, BatchSampled batch, double? tolerance)
    {
        var samples = policy.Sample(batch.Trials.Count);
        var maxDelta = 0.0;
        for (var i = 0; i < samples.Count; i++)
        {
            var (s, j) = (samples[i], batch.Trials[i]);
            if (!s.Tokens.SequenceEqual(j.Tokens))
            {
                return (new ReplayMismatch(j.TrialId, $"tokens {string.Join(",", s.Tokens)} (policy {batch.PolicyVersion} re-sampled)", $"tokens {string.Join(",", j.Tokens)}"), maxDelta);
            }
            var logProb = LogProb(s);
            if (SameBits(logProb, j.LogProb) || (double.IsNaN(logProb) && double.IsNaN(j.LogProb)))
            {
                continue;
            }
            var delta = Math.Abs(logProb - j.LogProb);
            if (tolerance is not { } t || !(delta <= t * Math.Max(1, Math.Abs(j.LogProb))))
            {
                var within = tolerance is { } tol ? string.Create(CultureInfo.InvariantCulture, $", tolerance {tol:G3}") : "";
                return (new ReplayMismatch(j.TrialId, $"log-probability {F(logProb)} (policy {batch.PolicyVersion} re-sampled{within})", $"log-probability {F(j.LogProb)}"), maxDelta);
            }
            maxDelta = Math.Max(maxDelta, delta);
        }
        return (null, maxDelta);
    }

    /// <summary>How far float results re-run on another platform may be from the journaled ones (relative, or absolute below 1).</summary>
    public const double CrossPlatformTolerance = 1e-3;

    /// <summary>
    /// Feeds the batch back (trial-id order); advantages (exact arithmetic) must come out as journaled, and the
    /// parameter hash too — or, with a <paramref name="tolerance"/>, the update's losses within it
    /// (<paramref name="drifted"/>: the policy goes on from this platform's slightly different parameters).
    /// </summary>
    public static ReplayMismatch? Update(IArchitectureSampler policy, IReadOnlyList<ScoredSample> feedback, PolicyUpdated update) =>
        Update(policy, feedback, update, null, out _);

    public static ReplayMismatch? Update(IArchitectureSampler policy, IReadOnlyList<ScoredSample> feedback, PolicyUpdated update, double? tolerance, out bool drifted)
    {
        drifted = false;
        var r = feedback.Count > 0 ? policy.Observe(feedback) : SamplerStep.Unchanged(policy.Version);
        for (var i = 0; i < update.TrialIds.Count && i < update.Advantages.Count && i < r.Advantages.Count; i++)
        {
            if (!SameBits(r.Advantages[i], update.Advantages[i]))
            {
                return new ReplayMismatch(update.TrialIds[i], $"advantage {F(r.Advantages[i])} (baseline {F(r.BaselineBefore)})", $"advantage {F(update.Advantages[i])} (baseline {F(update.BaselineBefore)})");
            }
        }
        if (r.ParameterHash == update.ParameterHash)
        {
            return null;
        }
        if (tolerance is { } t && LossesWithin(r, update, t))
        {
            drifted = true;
            return null;
        }
        return new ReplayMismatch(null, $"parameter hash {r.ParameterHash} after re-running the update", $"parameter hash {update.ParameterHash}");
    }

    /// <summary>Whether a re-run update's losses are the journaled ones within <paramref name="tolerance"/> (relative, or absolute below 1).</summary>
    public static bool LossesWithin(SamplerStep r, PolicyUpdated update, double tolerance)
    {
        var outputs = new[] { (r.PolicyLoss, update.PolicyLoss), (r.Entropy, update.Entropy), (r.ApproxKl, update.ApproxKl), (r.ClipFraction, update.ClipFraction) };
        return outputs.All(o => Math.Abs(o.Item1 - o.Item2) <= tolerance * Math.Max(1, Math.Abs(o.Item2)));
    }

    /// <summary>A proposal's log-probability as the journal holds it: NaN where the strategy has none (evolution's mutations).</summary>
    public static double LogProb(Proposal proposal) => proposal.LogProb ?? double.NaN;

    /// <summary>A journaled trial fed back to the strategy: the journal's NaN log-probability is none.</summary>
    public static ScoredSample Feedback(IReadOnlyList<int> tokens, double logProb, double reward, bool failed) =>
        new(tokens, double.IsNaN(logProb) ? null : logProb, reward, failed);

    public static bool SameBits(double a, double b) => BitConverter.DoubleToInt64Bits(a) == BitConverter.DoubleToInt64Bits(b);

    public static string F(double v) => v.ToString("R", CultureInfo.InvariantCulture);
}
