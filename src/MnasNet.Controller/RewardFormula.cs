using System.Globalization;

namespace MnasNet.Controller;

public enum RewardPreset
{
    /// <summary>α = β = −0.07: a soft trade-off (paper §3, Fig. 2 top).</summary>
    Soft,

    /// <summary>α = 0, β = −1: latency below the target is free, above it sharply penalised (Fig. 2 bottom).</summary>
    Hard,
}

/// <summary>One latency target: T in milliseconds and the exponents below (α) and above (β) it.</summary>
public sealed record LatencyTarget(string Device, double TargetMs, double Alpha, double Beta)
{
    public const double SoftExponent = -0.07;

    public static LatencyTarget For(RewardPreset preset, double targetMs, string device = "default") => preset switch
    {
        RewardPreset.Soft => new(device, targetMs, SoftExponent, SoftExponent),
        RewardPreset.Hard => new(device, targetMs, 0.0, -1.0),
        _ => throw new ArgumentOutOfRangeException(nameof(preset), preset, "unknown reward preset"),
    };

    public static RewardPreset ParsePreset(string text) => text.Trim().ToLowerInvariant() switch
    {
        "soft" => RewardPreset.Soft,
        "hard" => RewardPreset.Hard,
        _ => throw new ControllerException($"reward preset '{text}': expected soft or hard"),
    };
}

/// <summary>The reward and every input it came from, so it can be journaled and recomputed.</summary>
public sealed record RewardResult(
    string FormulaId,
    double Reward,
    bool Failed,
    double Accuracy,
    IReadOnlyList<double> LatenciesMs,
    IReadOnlyList<LatencyTarget> Targets,
    IReadOnlyList<double> Exponents);

/// <summary>
/// The MnasNet multi-objective reward (paper eqs. 2–3): reward = ACC · Π_d (LAT_d / T_d)^w_d, w_d = α_d if
/// LAT_d ≤ T_d else β_d. One device is the paper's form. A failed trial (training or measurement failed, or
/// diverged) gets <see cref="FailedReward"/> = 0 and is marked failed: 0 is what a network with no accuracy would
/// earn, it is below every successful reward (ACC &gt; 0 and every factor &gt; 0), and it stays finite so PPO can
/// learn to avoid architectures that fail.
/// </summary>
/// <remarks>
/// Plain double arithmetic in a fixed order: ACC, then one <see cref="Math.Pow"/> factor per target in the given
/// order, multiplied left to right. The same inputs give the same bits on the same runtime and platform, so a
/// journaled reward can be recomputed and compared exactly.
/// </remarks>
public static class RewardFormula
{
    public const string Name = "mnasnet-reward";
    public const string Version = "v1";
    public const string Id = Name + "/" + Version;
    public const double FailedReward = 0.0;

    public static RewardResult Compute(double accuracy, double latencyMs, LatencyTarget target) =>
        Compute(accuracy, [latencyMs], [target]);

    public static RewardResult Compute(double accuracy, double latencyMs, RewardPreset preset, double targetMs) =>
        Compute(accuracy, [latencyMs], [LatencyTarget.For(preset, targetMs)]);

    /// <summary>Multi-device form; latencies and targets pair up by position.</summary>
    public static RewardResult Compute(double accuracy, IReadOnlyList<double> latenciesMs, IReadOnlyList<LatencyTarget> targets)
    {
        ArgumentNullException.ThrowIfNull(latenciesMs);
        ArgumentNullException.ThrowIfNull(targets);
        Validate(accuracy, latenciesMs, targets);
        var reward = accuracy;
        var exponents = new double[targets.Count];
        for (var d = 0; d < targets.Count; d++)
        {
            var w = latenciesMs[d] <= targets[d].TargetMs ? targets[d].Alpha : targets[d].Beta;
            exponents[d] = w;
            reward *= Math.Pow(latenciesMs[d] / targets[d].TargetMs, w);
        }
        return new RewardResult(Id, reward, false, accuracy, latenciesMs.ToArray(), targets.ToArray(), exponents);
    }

    /// <summary>The defined outcome of a failed trial: reward <see cref="FailedReward"/>, Failed set.</summary>
    public static RewardResult Failed(IReadOnlyList<LatencyTarget> targets) =>
        new(Id, FailedReward, true, 0.0, [], targets.ToArray(), []);

    /// <summary>Throws <see cref="ControllerException"/> when a formula id is not one this build can recompute.</summary>
    public static void EnsureSupported(string formulaId)
    {
        if (formulaId != Id)
        {
            throw new ControllerException($"reward formula '{formulaId}' is not supported (this build computes {Id})");
        }
    }

    private static void Validate(double accuracy, IReadOnlyList<double> latenciesMs, IReadOnlyList<LatencyTarget> targets)
    {
        if (!(accuracy >= 0 && accuracy <= 1))
        {
            throw new ControllerException($"reward: accuracy must be in [0, 1], got {Format(accuracy)}");
        }
        if (targets.Count == 0)
        {
            throw new ControllerException("reward: at least one latency target is needed");
        }
        if (latenciesMs.Count != targets.Count)
        {
            throw new ControllerException($"reward: {latenciesMs.Count} latencies for {targets.Count} targets");
        }
        for (var d = 0; d < targets.Count; d++)
        {
            var t = targets[d] ?? throw new ControllerException($"reward: target {d} is null");
            if (!(latenciesMs[d] > 0 && double.IsFinite(latenciesMs[d])))
            {
                throw new ControllerException($"reward: latency on {t.Device} must be a positive number of ms, got {Format(latenciesMs[d])}");
            }
            if (!(t.TargetMs > 0 && double.IsFinite(t.TargetMs)))
            {
                throw new ControllerException($"reward: target latency T on {t.Device} must be a positive number of ms, got {Format(t.TargetMs)}");
            }
            if (!(t.Alpha <= 0 && t.Alpha >= -10) || !(t.Beta <= 0 && t.Beta >= -10))
            {
                throw new ControllerException($"reward: exponents on {t.Device} must be in [-10, 0] (α={Format(t.Alpha)}, β={Format(t.Beta)})");
            }
        }
    }

    private static string Format(double v) => v.ToString("R", CultureInfo.InvariantCulture);
}
