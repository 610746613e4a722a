using MnasNet.SearchSpace;

namespace MnasNet.Training.Proxy;

public enum OptimizerKind
{
    /// <summary>RMSProp with momentum, as the paper trains (decay 0.9, momentum 0.9).</summary>
    RmsProp,

    /// <summary>SGD with (Nesterov) momentum.</summary>
    Sgd,
}

public enum LearningRateSchedule
{
    /// <summary>Linear warm-up, then cosine decay to zero at the last step.</summary>
    Cosine,

    /// <summary>Linear warm-up, then ×<c>DecayRate</c> every <c>DecayEpochs</c> epochs (the paper: 0.97 every 2.4).</summary>
    Exponential,

    Constant,
}

/// <summary>
/// Everything that decides a proxy-training run. Same options (seed and threads included) on the same dataset →
/// bit-identical result. <see cref="Validate"/> names every bad value.
/// </summary>
public sealed record ProxyTrainingOptions
{
    public int Epochs { get; init; } = 1;

    public int BatchSize { get; init; } = 64;

    /// <summary>SGD by default: it is the recipe verified to learn in one short epoch (see src/MnasNet.Training/README.md).</summary>
    public OptimizerKind Optimizer { get; init; } = OptimizerKind.Sgd;

    /// <summary>Peak learning rate (after warm-up).</summary>
    public double LearningRate { get; init; } = DefaultLearningRate(OptimizerKind.Sgd);

    public double Momentum { get; init; } = 0.9;

    /// <summary>RMSProp's squared-gradient decay (torch's alpha).</summary>
    public double RmsDecay { get; init; } = 0.9;

    /// <summary>
    /// RMSProp epsilon, added after the square root as torch does. TensorFlow's 1e-3 sits inside the root, so the
    /// equivalent here is about sqrt(1e-3) ≈ 0.03.
    /// </summary>
    public double RmsEpsilon { get; init; } = 0.0316;

    public bool Nesterov { get; init; } = true;

    public LearningRateSchedule Schedule { get; init; } = LearningRateSchedule.Cosine;

    /// <summary>Warm-up length in epochs (fractions allowed); clipped to the run.</summary>
    public double WarmupEpochs { get; init; } = 0.1;

    public double DecayRate { get; init; } = 0.97;

    public double DecayEpochs { get; init; } = 2.4;

    /// <summary>L2 penalty on convolution and classifier weights (not on BatchNorm or biases).</summary>
    public double WeightDecay { get; init; } = 1e-5;

    public double LabelSmoothing { get; init; } = 0.1;

    /// <summary>Clip the global gradient norm to this before each step (steadies the first steps of deep nets); null: off.</summary>
    public double? GradientClipNorm { get; init; } = 2.0;

    public ulong Seed { get; init; }

    /// <summary>Seed of the held-out validation split; fixed across trials so all are scored on the same images.</summary>
    public ulong SplitSeed { get; init; }

    /// <summary>libtorch intra-op threads (process-wide; part of the determinism).</summary>
    public int Threads { get; init; } = 1;

    /// <summary>Pause between batches while a latency measurement in this process runs (<see cref="MnasNet.Torch.QuietWindow"/>); results do not change.</summary>
    public bool YieldToMeasurements { get; init; }

    /// <summary>Training images used (after the validation hold-out); null: all that remain.</summary>
    public int? TrainSize { get; init; }

    /// <summary>Validation images held out; takes precedence over <see cref="ValidationFraction"/>.</summary>
    public int? ValidationSize { get; init; }

    public double ValidationFraction { get; init; } = 0.1;

    /// <summary>Input resolution; null: the dataset's own.</summary>
    public int? Resolution { get; init; }

    public double Width { get; init; } = 1.0;

    public double Dropout { get; init; } = 0.2;

    /// <summary>
    /// BatchNorm running-statistics momentum for the proxy run (torch convention: weight of the new batch). The
    /// model's own 0.01 suits long training; a short proxy run needs the statistics to settle within a few dozen steps.
    /// </summary>
    public double BatchNormMomentum { get; init; } = 0.1;

    /// <summary>
    /// Un-augmented training batches over which BatchNorm statistics are re-estimated (exact averages) before each
    /// validation; 0 keeps the running averages.
    /// </summary>
    public int BatchNormCalibrationBatches { get; init; } = 10;

    /// <summary>Random-crop zero padding in pixels; null: the dataset's default (0 turns cropping off).</summary>
    public int? CropPadding { get; init; }

    /// <summary>Random horizontal flip; null: the dataset's default (off for digits).</summary>
    public bool? HorizontalFlip { get; init; }

    /// <summary>Batches that may exist at once (being decoded, ready, or in training): the data pipeline's memory bound.</summary>
    public int PrefetchBatches { get; init; } = 4;

    /// <summary>Background threads that decode, resize and augment batches (does not change the batches).</summary>
    public int DecodeThreads { get; init; } = 2;

    /// <summary>
    /// Feed the network channels-last (NHWC-strided) batches: libtorch's oneDNN convolutions then keep every
    /// activation channels-last instead of reordering to and from NCHW around each call (see README, "Speed").
    /// Part of the determinism: the two layouts give different last bits.
    /// </summary>
    public bool ChannelsLast { get; init; } = true;

    /// <summary>Where the trained weights are saved (TorchSharp module.save); null: not saved.</summary>
    public string? WeightsPath { get; init; }

    /// <summary>Peak learning rates that work for short proxy runs at batch 32–64 (with gradient clipping).</summary>
    public static double DefaultLearningRate(OptimizerKind optimizer) => optimizer == OptimizerKind.Sgd ? 0.1 : 0.002;

    public ProxyTrainingOptions Validate()
    {
        var errors = new List<string>();
        void Check(bool ok, string message)
        {
            if (!ok)
            {
                errors.Add(message);
            }
        }
        Check(Epochs is >= 1 and <= 1000, $"epochs must be between 1 and 1000, got {Epochs}");
        Check(BatchSize is >= 2 and <= 65536, $"batch size must be between 2 and 65536, got {BatchSize}");
        Check(double.IsFinite(LearningRate) && LearningRate > 0, $"learning rate must be a positive number, got {LearningRate}");
        Check(Momentum is >= 0 and < 1, $"momentum must be in [0, 1), got {Momentum}");
        Check(RmsDecay is > 0 and < 1, $"RMSProp decay must be in (0, 1), got {RmsDecay}");
        Check(RmsEpsilon is > 0 and <= 1, $"RMSProp epsilon must be in (0, 1], got {RmsEpsilon}");
        Check(WarmupEpochs >= 0 && double.IsFinite(WarmupEpochs), $"warm-up epochs must be ≥ 0, got {WarmupEpochs}");
        Check(DecayRate is > 0 and <= 1, $"decay rate must be in (0, 1], got {DecayRate}");
        Check(DecayEpochs > 0 && double.IsFinite(DecayEpochs), $"decay epochs must be positive, got {DecayEpochs}");
        Check(WeightDecay >= 0 && double.IsFinite(WeightDecay), $"weight decay must be ≥ 0, got {WeightDecay}");
        Check(LabelSmoothing is >= 0 and < 1, $"label smoothing must be in [0, 1), got {LabelSmoothing}");
        Check(GradientClipNorm is null or > 0, $"gradient clip norm must be positive, got {GradientClipNorm}");
        Check(Threads is >= 1 and <= 256, $"threads must be between 1 and 256, got {Threads}");
        Check(TrainSize is null or >= 2, $"train size must be at least 2, got {TrainSize}");
        Check(ValidationSize is null or >= 1, $"validation size must be at least 1, got {ValidationSize}");
        Check(ValidationFraction is > 0 and < 1, $"validation fraction must be in (0, 1), got {ValidationFraction}");
        Check(Resolution is null or (>= 8 and <= 1024), $"resolution must be between 8 and 1024, got {Resolution}");
        Check(Width is > 0 and <= 8, $"width multiplier must be in (0, 8], got {Width}");
        Check(Dropout is >= 0 and < 1, $"dropout must be in [0, 1), got {Dropout}");
        Check(BatchNormMomentum is > 0 and <= 1, $"BatchNorm momentum must be in (0, 1], got {BatchNormMomentum}");
        Check(BatchNormCalibrationBatches is >= 0 and <= 10000, $"BatchNorm calibration batches must be between 0 and 10000, got {BatchNormCalibrationBatches}");
        Check(CropPadding is null or (>= 0 and <= 64), $"crop padding must be between 0 and 64, got {CropPadding}");
        Check(PrefetchBatches is >= 1 and <= 64, $"prefetch batches must be between 1 and 64, got {PrefetchBatches}");
        Check(DecodeThreads is >= 1 and <= 64, $"decode threads must be between 1 and 64, got {DecodeThreads}");
        Check(WeightsPath is null || !string.IsNullOrWhiteSpace(WeightsPath), "weights path must not be blank");
        if (errors.Count > 0)
        {
            throw new TrainingConfigurationException("invalid training options: " + string.Join("; ", errors));
        }
        return this;
    }

    /// <summary>The network the trainer builds for a dataset with these options.</summary>
    public NetworkOptions NetworkFor(int resolution, int channels, int classes) => new(resolution, channels, classes, Width, Dropout);

    /// <summary>Images held out for validation from a training set of <paramref name="available"/>.</summary>
    public int ValidationCountFor(int available) =>
        ValidationSize ?? Math.Max(1, (int)Math.Round(available * ValidationFraction, MidpointRounding.AwayFromZero));
}

public sealed class TrainingConfigurationException : Exception
{
    public TrainingConfigurationException(string message) : base(message) { }

    public TrainingConfigurationException(string message, Exception inner) : base(message, inner) { }

    public TrainingConfigurationException() { }
}
