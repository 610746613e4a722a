using MnasNet.Actors.Protocol;
using MnasNet.Controller;

namespace MnasNet.Actors.Backends;

/// <summary>
/// The MnasNet reward through MnasNet.Controller's <see cref="RewardFormula"/> (paper eq. 2–3):
/// reward = ACC · (LAT/T)^w with w = α if LAT ≤ T else β; with several target platforms ACC · Π (LAT_i/T_i)^w_i.
/// A failed trial earns <see cref="RewardFormula.FailedReward"/>. The journal keeps every input and the formula id,
/// so a replay recomputes the same bits.
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

    /// <summary>One device: exactly the single-device form (no device list in the inputs). Several: the product form.</summary>
    public static RewardInputs Compute(double accuracy, IReadOnlyList<DeviceLatency> devices, double alpha, double beta, bool failed)
    {
        if (devices.Count == 1)
        {
            return Compute(accuracy, devices[0].LatencyMs, devices[0].TargetMs, alpha, beta, failed);
        }
        var first = devices[0];
        if (failed || devices.Any(d => !(d.LatencyMs > 0) || !double.IsFinite(d.LatencyMs)) || !(accuracy >= 0 && accuracy <= 1))
        {
            return new RewardInputs(FormulaId, accuracy, first.LatencyMs, first.TargetMs, alpha, beta, 0, true, RewardFormula.FailedReward,
                [.. devices.Select(d => d with { Exponent = 0 })]);
        }
        var r = RewardFormula.Compute(accuracy, [.. devices.Select(d => d.LatencyMs)], [.. devices.Select(d => new LatencyTarget(d.Platform, d.TargetMs, alpha, beta))]);
        return new RewardInputs(r.FormulaId, accuracy, first.LatencyMs, first.TargetMs, alpha, beta, r.Exponents[0], false, r.Reward,
            [.. devices.Select((d, i) => d with { Exponent = r.Exponents[i] })]);
    }

    /// <summary>The reward its own journaled inputs give (single- or multi-device).</summary>
    public static RewardInputs Recompute(RewardInputs inputs) => (inputs.Devices is { Count: > 1 } devices
        ? Compute(inputs.Accuracy, devices, inputs.Alpha, inputs.Beta, inputs.Failed)
        : Compute(inputs.Accuracy, inputs.LatencyMs, inputs.TargetMs, inputs.Alpha, inputs.Beta, inputs.Failed)) with
    { LatencySource = inputs.LatencySource };
}
