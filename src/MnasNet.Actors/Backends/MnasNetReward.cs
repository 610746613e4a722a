using MnasNet.Actors.Protocol;
using MnasNet.Controller;

namespace MnasNet.Actors.Backends;

/// <summary>
/// The MnasNet reward through MnasNet.Controller's <see cref="RewardFormula"/> (paper eq. 2–3):
/// reward = ACC · (LAT/T)^w with w = α if LAT ≤ T else β; a failed trial earns <see cref="RewardFormula.FailedReward"/>.
/// The journal keeps every input and the formula id, so a replay recomputes the same bits.
/// </summary>
public static class MnasNetReward
{
    public const string FormulaId = RewardFormula.Id;

    public static RewardInputs Compute(double accuracy, double latencyMs, double targetMs, double alpha, double beta, bool failed)
    {
        if (failed || !(latencyMs > 0) || !double.IsFinite(latencyMs) || !(accuracy >= 0 && accuracy <= 1))
        {
            return new RewardInputs(FormulaId, accuracy, latencyMs, targetMs, alpha, beta, 0, true, RewardFormula.FailedReward);
        }
        var r = RewardFormula.Compute(accuracy, latencyMs, new LatencyTarget("default", targetMs, alpha, beta));
        return new RewardInputs(r.FormulaId, accuracy, latencyMs, targetMs, alpha, beta, r.Exponents[0], false, r.Reward);
    }
}
