namespace MnasNet.Controller;

/// <summary>
/// Every setting of the PPO controller: policy sizes, sampling, PPO and Adam hyper-parameters, baseline, seed and
/// threads. The paper gives no PPO hyper-parameters; the defaults and their reasons are in the README of this project.
/// </summary>
/// <param name="Seed">Seeds the parameter initialisation and the sampling stream (both use <c>SeededRandom</c>).</param>
/// <param name="LstmLayers">Stacked LSTM cells. NASNet and MnasNet use one.</param>
/// <param name="HiddenSize">LSTM hidden units. NASNet's controller has 100.</param>
/// <param name="EmbeddingSize">Width of the token embeddings and of the learned start token.</param>
/// <param name="InitRange">Every parameter starts uniform in [−InitRange, InitRange] (NAS/ENAS use 0.08–0.1): a
/// nearly uniform initial policy, so early batches explore like random search.</param>
/// <param name="Temperature">Logits are divided by it when sampling and in every log-probability, so the PPO ratio
/// compares the same distributions the samples came from.</param>
/// <param name="LearningRate">Adam step size.</param>
/// <param name="AdamBeta1">Adam first-moment decay.</param>
/// <param name="AdamBeta2">Adam second-moment decay.</param>
/// <param name="AdamEpsilon">Adam denominator term.</param>
/// <param name="ClipEpsilon">PPO ratio clip ε (Schulman et al. 2017 use 0.2).</param>
/// <param name="EntropyCoefficient">Weight of the entropy bonus (entropy of a whole 42-token sequence, in nats).</param>
/// <param name="Epochs">PPO epochs (gradient steps) over each batch.</param>
/// <param name="MaxGradNorm">Global gradient-norm clip per step.</param>
/// <param name="BaselineDecay">The baseline is an exponential moving average of batch-mean rewards with this decay.</param>
/// <param name="NormalizeAdvantages">Divide advantages by the batch's reward standard deviation (not centred: the
/// baseline centres them), so the step size does not depend on the reward's scale.</param>
/// <param name="Advantage">How rewards become advantages: "baseline" (reward − moving-average baseline, divided by
/// the batch's reward std when normalising; what every journal before this option used), "batch" (reward − batch
/// mean, divided by its std: PPO's usual normalisation) or "rank" (centred ranks within the batch, unit std: the
/// step ignores how far apart rewards are, only their order).</param>
/// <param name="EntropyDecayUpdates">0: constant entropy weight; n &gt; 0: the weight falls linearly from
/// EntropyCoefficient at update 0 to 0 at update n and stays 0.</param>
/// <param name="Threads">libtorch intra-op threads set when the controller is created or restored; part of
/// determinism (another count may change the last bits). Null leaves the process setting alone. The managed engine
/// splits its work over this many threads with the same bits for any count.</param>
/// <param name="Engine">Which implementation of strategy "ppo" runs: <see cref="ControllerEngines.Libtorch"/> (the
/// TorchSharp LSTM; the default, so a saved state or journal written before this option means it) or
/// <see cref="ControllerEngines.Managed"/> (plain C#, exact arithmetic, faster).</param>
public sealed record ControllerOptions(
    ulong Seed = 0,
    int LstmLayers = 1,
    int HiddenSize = 100,
    int EmbeddingSize = 100,
    double InitRange = 0.1,
    double Temperature = 1.0,
    double LearningRate = 0.01,
    double AdamBeta1 = 0.9,
    double AdamBeta2 = 0.999,
    double AdamEpsilon = 1e-8,
    double ClipEpsilon = 0.2,
    double EntropyCoefficient = 0.005,
    int Epochs = 4,
    double MaxGradNorm = 1.0,
    double BaselineDecay = 0.25,
    bool NormalizeAdvantages = true,
    int? Threads = 1,
    string Advantage = AdvantageModes.Baseline,
    int EntropyDecayUpdates = 0,
    string Engine = ControllerEngines.Libtorch)
{
    public static ControllerOptions Default { get; } = new();

    /// <summary>The entropy weight of the update after <paramref name="updatesDone"/> updates (see <see cref="EntropyDecayUpdates"/>).</summary>
    public double EntropyCoefficientAt(long updatesDone) => EntropyDecayUpdates == 0
        ? EntropyCoefficient
        : EntropyCoefficient * Math.Max(0.0, 1.0 - (double)updatesDone / EntropyDecayUpdates);

    /// <summary>Throws <see cref="ControllerException"/> naming the first invalid setting; returns this otherwise.</summary>
    public ControllerOptions Validate()
    {
        Check(LstmLayers is >= 1 and <= 8, nameof(LstmLayers), LstmLayers, "must be between 1 and 8");
        Check(HiddenSize is >= 1 and <= 4096, nameof(HiddenSize), HiddenSize, "must be between 1 and 4096");
        Check(EmbeddingSize is >= 1 and <= 4096, nameof(EmbeddingSize), EmbeddingSize, "must be between 1 and 4096");
        Check(InitRange is > 0 and <= 1, nameof(InitRange), InitRange, "must be in (0, 1]");
        Check(Temperature is > 0 and <= 100, nameof(Temperature), Temperature, "must be in (0, 100]");
        Check(LearningRate is > 0 and <= 1, nameof(LearningRate), LearningRate, "must be in (0, 1]");
        Check(AdamBeta1 is >= 0 and < 1, nameof(AdamBeta1), AdamBeta1, "must be in [0, 1)");
        Check(AdamBeta2 is >= 0 and < 1, nameof(AdamBeta2), AdamBeta2, "must be in [0, 1)");
        Check(AdamEpsilon is > 0 and <= 1, nameof(AdamEpsilon), AdamEpsilon, "must be in (0, 1]");
        Check(ClipEpsilon is > 0 and < 1, nameof(ClipEpsilon), ClipEpsilon, "must be in (0, 1)");
        Check(EntropyCoefficient is >= 0 and <= 10, nameof(EntropyCoefficient), EntropyCoefficient, "must be in [0, 10]");
        Check(Epochs is >= 1 and <= 1000, nameof(Epochs), Epochs, "must be between 1 and 1000");
        Check(MaxGradNorm is > 0 and <= 1e6, nameof(MaxGradNorm), MaxGradNorm, "must be in (0, 1e6]");
        Check(BaselineDecay is >= 0 and < 1, nameof(BaselineDecay), BaselineDecay, "must be in [0, 1)");
        Check(AdvantageModes.All.Contains(Advantage), nameof(Advantage), Advantage, $"must be one of {string.Join(", ", AdvantageModes.All)}");
        Check(EntropyDecayUpdates is >= 0 and <= 10_000_000, nameof(EntropyDecayUpdates), EntropyDecayUpdates, "must be between 0 and 10000000");
        Check(Threads is null or (>= 1 and <= 1024), nameof(Threads), Threads, "must be between 1 and 1024 (or null)");
        Check(ControllerEngines.All.Contains(Engine), nameof(Engine), Engine, $"must be one of {string.Join(", ", ControllerEngines.All)}");
        return this;
    }

    // The `is` patterns above are false for NaN, so NaN is rejected with the same message.
    private static void Check<T>(bool ok, string name, T value, string rule)
    {
        if (!ok)
        {
            throw new ControllerException($"controller option {name} {rule}, got {value}");
        }
    }
}

/// <summary>Values of <see cref="ControllerOptions.Advantage"/>.</summary>
public static class AdvantageModes
{
    public const string Baseline = "baseline";
    public const string Batch = "batch";
    public const string Rank = "rank";

    public static IReadOnlyList<string> All { get; } = [Baseline, Batch, Rank];
}

/// <summary>Values of <see cref="ControllerOptions.Engine"/>.</summary>
public static class ControllerEngines
{
    public const string Managed = "managed";
    public const string Libtorch = "libtorch";

    public static IReadOnlyList<string> All { get; } = [Managed, Libtorch];
}

/// <summary>Bad controller input: invalid options, invalid samples, a corrupt or foreign state blob.</summary>
public sealed class ControllerException : Exception
{
    public ControllerException(string message) : base(message) { }

    public ControllerException(string message, Exception inner) : base(message, inner) { }

    public ControllerException() { }
}
