using MnasNet.Actors.Backends;
using MnasNet.Actors.Protocol;

namespace MnasNet.Actors.Decisions;

/// <summary>
/// Which trials of a batch a search with a predictor measures on its device: the top ⌈F·n⌉ of the n trained trials by
/// the reward their predicted latency gives (ties: lower trial id). Pure, so the auditor re-derives it from the
/// journaled predictions and accuracies.
/// </summary>
public static class MeasurementSelection
{
    public const string Rule = "top-fraction-by-predicted-reward/v1";

    /// <summary>⌈F·n⌉, with F·n in decimal so that F = 0.3 of n = 10 is 3, not 4 (0.3 · 10 is 3.0000000000000004 in binary).</summary>
    public static int Count(double fraction, int trained) => trained == 0 ? 0 : Math.Min(trained, (int)Math.Ceiling((decimal)fraction * trained));

    /// <summary>The trained trials (id, accuracy, predicted ms) ranked, and the chosen ids in trial-id order.</summary>
    public static (IReadOnlyList<RankedTrial> Ranked, IReadOnlyList<long> Chosen) Select(
        IEnumerable<(long TrialId, double Accuracy, double PredictedMs)> trained, double fraction, double targetMs, double alpha, double beta)
    {
        var ranked = trained
            .Select(t => new RankedTrial(t.TrialId, t.Accuracy, t.PredictedMs, MnasNetReward.Compute(t.Accuracy, t.PredictedMs, targetMs, alpha, beta, false).Reward))
            .OrderByDescending(t => t.PredictedReward).ThenBy(t => t.TrialId)
            .ToList();
        var chosen = ranked.Take(Count(fraction, ranked.Count)).Select(t => t.TrialId).Order().ToList();
        return (ranked, chosen);
    }
}
