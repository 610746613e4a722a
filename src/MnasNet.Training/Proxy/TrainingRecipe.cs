using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace MnasNet.Training.Proxy;

/// <summary>
/// How a network is trained: optimizer, learning rate (per 256 images, scaled by the batch size), warm-up and
/// schedule, regularization, batch size, epochs and augmentation. The search's proxy training and full training
/// share it; the search takes it from <c>training.recipe</c>, <c>mnasnet train</c> from <c>--recipe FILE</c>.
/// The defaults are the search's proxy recipe (SGD with Nesterov momentum, cosine, batch 32, peak lr 0.1).
/// JSON keys are the camelCase property names; <see cref="Validate"/> names every bad field.
/// </summary>
public sealed record TrainingRecipe
{
    public static JsonSerializerOptions JsonOptions { get; } = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.CamelCase,
        ReadCommentHandling = JsonCommentHandling.Skip,
        AllowTrailingCommas = true,
        UnmappedMemberHandling = JsonUnmappedMemberHandling.Disallow,
        WriteIndented = true,
    };

    /// <summary>The search's proxy recipe: what <c>training.recipe = null</c> means.</summary>
    public static TrainingRecipe Proxy { get; } = new();

    /// <summary>
    /// The paper's ImageNet recipe (Tan et al. 2019, section 4.1): RMSProp (decay 0.9, momentum 0.9, ε 1.0 — the
    /// paper's value; TensorFlow adds it inside the square root, torch outside), 0.016 per 256 images (0.256 at batch
    /// 4096) with 5 warm-up epochs, ×0.97 every 2.4 epochs, weight decay 1e-5, dropout 0.2; batch 256 here.
    /// </summary>
    public static TrainingRecipe Paper { get; } = new()
    {
        Optimizer = "rmsprop",
        LearningRatePer256 = 0.016,
        RmsEpsilon = 1.0,
        Schedule = "exponential",
        WarmupEpochs = 5,
        BatchSize = 256,
        Epochs = 350,
    };

    /// <summary><c>sgd</c> (momentum, optionally Nesterov) or <c>rmsprop</c> (with momentum).</summary>
    public string Optimizer { get; init; } = "sgd";

    /// <summary>Peak learning rate for 256 images a batch; the run's is this × batchSize / 256 (the linear scaling rule).</summary>
    public double LearningRatePer256 { get; init; } = 0.8;

    public double Momentum { get; init; } = 0.9;

    /// <summary>SGD only.</summary>
    public bool Nesterov { get; init; } = true;

    /// <summary>RMSProp's squared-gradient decay (torch's alpha).</summary>
    public double RmsDecay { get; init; } = 0.9;

    /// <summary>RMSProp epsilon, added after the square root as torch does.</summary>
    public double RmsEpsilon { get; init; } = 0.0316;

    /// <summary><c>cosine</c> (to zero at the last step), <c>exponential</c> (×decayRate every decayEpochs) or <c>constant</c>.</summary>
    public string Schedule { get; init; } = "cosine";

    /// <summary>Linear warm-up in epochs (fractions allowed), clipped to the run.</summary>
    public double WarmupEpochs { get; init; } = 0.1;

    public double DecayRate { get; init; } = 0.97;

    public double DecayEpochs { get; init; } = 2.4;

    /// <summary>L2 penalty on convolution and classifier weights (not on BatchNorm or biases).</summary>
    public double WeightDecay { get; init; } = 1e-5;

    public double LabelSmoothing { get; init; } = 0.1;

    public double Dropout { get; init; } = 0.2;

    /// <summary>Clip the global gradient norm to this before each step; null: off.</summary>
    public double? GradientClipNorm { get; init; } = 2.0;

    public int BatchSize { get; init; } = 32;

    public int Epochs { get; init; } = 1;

    /// <summary>Random-crop zero padding in pixels; null: the dataset's default (0 turns cropping off).</summary>
    public int? CropPadding { get; init; }

    /// <summary>Random horizontal flip; null: the dataset's default (off for digits).</summary>
    public bool? HorizontalFlip { get; init; }

    /// <summary>The peak learning rate of a run at this recipe's batch size.</summary>
    [JsonIgnore]
    public double LearningRate => LearningRatePer256 * BatchSize / 256;

    /// <summary>The recipe whose run has peak learning rate <paramref name="learningRate"/> at its batch size.</summary>
    public TrainingRecipe WithLearningRate(double learningRate) => this with { LearningRatePer256 = learningRate * 256 / BatchSize };

    /// <summary>This recipe, or a list of every bad field (named by its JSON key) as a <see cref="TrainingConfigurationException"/>.</summary>
    public TrainingRecipe Validate(string prefix = "")
    {
        var errors = new List<string>();
        void Check(bool ok, string field, string problem)
        {
            if (!ok)
            {
                errors.Add($"{prefix}{field} {problem}");
            }
        }
        var inv = CultureInfo.InvariantCulture;
        Check(Optimizer is "sgd" or "rmsprop", "optimizer", $"must be sgd or rmsprop, got '{Optimizer}'");
        Check(double.IsFinite(LearningRatePer256) && LearningRatePer256 > 0, "learningRatePer256", string.Create(inv, $"must be a positive number, got {LearningRatePer256}"));
        Check(Momentum is >= 0 and < 1, "momentum", string.Create(inv, $"must be in [0, 1), got {Momentum}"));
        Check(RmsDecay is > 0 and < 1, "rmsDecay", string.Create(inv, $"must be in (0, 1), got {RmsDecay}"));
        Check(RmsEpsilon is > 0 and <= 10, "rmsEpsilon", string.Create(inv, $"must be in (0, 10], got {RmsEpsilon}"));
        Check(Schedule is "cosine" or "exponential" or "constant", "schedule", $"must be cosine, exponential or constant, got '{Schedule}'");
        Check(double.IsFinite(WarmupEpochs) && WarmupEpochs >= 0, "warmupEpochs", string.Create(inv, $"must be 0 or more, got {WarmupEpochs}"));
        Check(DecayRate is > 0 and <= 1, "decayRate", string.Create(inv, $"must be in (0, 1], got {DecayRate}"));
        Check(double.IsFinite(DecayEpochs) && DecayEpochs > 0, "decayEpochs", string.Create(inv, $"must be positive, got {DecayEpochs}"));
        Check(double.IsFinite(WeightDecay) && WeightDecay >= 0, "weightDecay", string.Create(inv, $"must be 0 or more, got {WeightDecay}"));
        Check(LabelSmoothing is >= 0 and < 1, "labelSmoothing", string.Create(inv, $"must be in [0, 1), got {LabelSmoothing}"));
        Check(Dropout is >= 0 and < 1, "dropout", string.Create(inv, $"must be in [0, 1), got {Dropout}"));
        Check(GradientClipNorm is null or > 0, "gradientClipNorm", string.Create(inv, $"must be positive or null, got {GradientClipNorm}"));
        Check(BatchSize is >= 2 and <= 65536, "batchSize", $"must be between 2 and 65536, got {BatchSize}");
        Check(Epochs is >= 1 and <= 1000, "epochs", $"must be between 1 and 1000, got {Epochs}");
        Check(CropPadding is null or (>= 0 and <= 64), "cropPadding", $"must be between 0 and 64, got {CropPadding}");
        if (errors.Count > 0)
        {
            throw new TrainingConfigurationException("invalid training recipe: " + string.Join("; ", errors));
        }
        return this;
    }

    /// <summary><paramref name="options"/> with everything this recipe decides replaced (seed, sizes, threads and width stay).</summary>
    public ProxyTrainingOptions ApplyTo(ProxyTrainingOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        Validate();
        return options with
        {
            Optimizer = Optimizer == "rmsprop" ? OptimizerKind.RmsProp : OptimizerKind.Sgd,
            LearningRate = LearningRate,
            Momentum = Momentum,
            Nesterov = Nesterov,
            RmsDecay = RmsDecay,
            RmsEpsilon = RmsEpsilon,
            Schedule = Schedule switch
            {
                "exponential" => LearningRateSchedule.Exponential,
                "constant" => LearningRateSchedule.Constant,
                _ => LearningRateSchedule.Cosine,
            },
            WarmupEpochs = WarmupEpochs,
            DecayRate = DecayRate,
            DecayEpochs = DecayEpochs,
            WeightDecay = WeightDecay,
            LabelSmoothing = LabelSmoothing,
            Dropout = Dropout,
            GradientClipNorm = GradientClipNorm,
            BatchSize = BatchSize,
            Epochs = Epochs,
            CropPadding = CropPadding,
            HorizontalFlip = HorizontalFlip,
        };
    }

    public string ToJson() => JsonSerializer.Serialize(this, JsonOptions);

    /// <summary>Parses recipe JSON (comments and trailing commas allowed, unknown keys rejected) and validates it.</summary>
    public static TrainingRecipe Parse(string json, string source = "recipe")
    {
        TrainingRecipe? recipe;
        try
        {
            recipe = JsonSerializer.Deserialize<TrainingRecipe>(json, JsonOptions);
        }
        catch (JsonException e)
        {
            var where = e.Path is { Length: > 0 } path ? $" at {path}" : "";
            throw new TrainingConfigurationException($"{source}: not a valid training recipe{where}: {e.Message}", e);
        }
        if (recipe is null)
        {
            throw new TrainingConfigurationException($"{source}: the recipe is null; expected a JSON object");
        }
        try
        {
            return recipe.Validate();
        }
        catch (TrainingConfigurationException e)
        {
            throw new TrainingConfigurationException($"{source}: {e.Message}", e);
        }
    }

    /// <summary>Reads and validates a recipe file (<c>--recipe FILE</c>).</summary>
    public static TrainingRecipe Load(string path)
    {
        if (!File.Exists(path))
        {
            throw new TrainingConfigurationException($"recipe file '{path}' does not exist");
        }
        return Parse(File.ReadAllText(path), $"recipe file '{path}'");
    }
}
