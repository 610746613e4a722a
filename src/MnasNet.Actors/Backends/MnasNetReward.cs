using MnasNet.Actors.Protocol;

namespace MnasNet.Actors.Backends;

/// <summary>
/// The MnasNet reward (paper eq. 2–3), version 1: reward = ACC · (LAT/T)^w with w = α if LAT ≤ T else β; a failed
/// trial earns 0. Plain double arithmetic in a fixed order so a journaled reward recomputes to the same bits.
/// Same formula and id as MnasNet.Controller's <c>RewardFormula</c>.
/// </summary>
public static class MnasNetReward
{
    public const string FormulaId = "mnasnet-reward/v1";

    public static RewardInputs Compute(double accuracy, double latencyMs, double targetMs, double alpha, double beta, bool failed)
    {
        if (failed || !(latencyMs > 0) || !double.IsFinite(accuracy))
        {
            return new RewardInputs(FormulaId, accuracy, latencyMs, targetMs, alpha, beta, 0, true, 0.0);
        }
        var w = latencyMs <= targetMs ? alpha : beta;
        var reward = accuracy * Math.Pow(latencyMs / targetMs, w);
        return new RewardInputs(FormulaId, accuracy, latencyMs, targetMs, alpha, beta, w, false, reward);
    }
}
