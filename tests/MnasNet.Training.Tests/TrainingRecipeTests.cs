using MnasNet.Training.Proxy;

namespace MnasNet.Training.Tests;

public sealed class TrainingRecipeTests
{
    [Fact]
    public void The_default_recipe_is_the_search_proxy_recipe_of_before()
    {
        // What the search's proxy training used before recipes existed: ProxyTrainingOptions' defaults, batch 32, lr 0.1.
        var before = new ProxyTrainingOptions { BatchSize = 32, LearningRate = 0.1, Epochs = 1, Seed = 4, Width = 0.5 };
        Assert.Equal(before, TrainingRecipe.Proxy.ApplyTo(new ProxyTrainingOptions { Seed = 4, Width = 0.5 }));
        Assert.Equal(TrainingRecipe.Proxy, TrainingRecipe.Parse("{}"));
    }

    [Fact]
    public void A_recipe_file_binds_every_field_and_scales_the_learning_rate_with_the_batch()
    {
        var recipe = TrainingRecipe.Parse("""
            {
              // the paper's optimizer at batch 512
              "optimizer": "rmsprop", "learningRatePer256": 0.016, "rmsDecay": 0.9, "momentum": 0.9, "rmsEpsilon": 1.0,
              "schedule": "exponential", "decayRate": 0.97, "decayEpochs": 2.4, "warmupEpochs": 5,
              "weightDecay": 1e-5, "labelSmoothing": 0.1, "dropout": 0.3, "batchSize": 512, "epochs": 30,
              "cropPadding": 0, "horizontalFlip": false, "gradientClipNorm": null,
            }
            """);
        var options = recipe.ApplyTo(new ProxyTrainingOptions { Seed = 2 });
        Assert.Equal((OptimizerKind.RmsProp, 0.032, 1.0, LearningRateSchedule.Exponential), (options.Optimizer, options.LearningRate, options.RmsEpsilon, options.Schedule));
        Assert.Equal((5.0, 0.97, 2.4, 0.3, 512, 30), (options.WarmupEpochs, options.DecayRate, options.DecayEpochs, options.Dropout, options.BatchSize, options.Epochs));
        Assert.Equal((0, false, (double?)null, 2UL), (options.CropPadding, options.HorizontalFlip, options.GradientClipNorm, options.Seed));
        Assert.Equal(recipe, TrainingRecipe.Parse(recipe.ToJson()));
        Assert.Equal(0.05, TrainingRecipe.Paper.WithLearningRate(0.05).LearningRate, 12);
        // Warm-up for 5 epochs, then ×0.97 every 2.4 epochs: 2.4 epochs after warm-up the rate is 0.97 × peak.
        Assert.Equal(0.032 * 0.97, LearningRates.At(options, step: 74, stepsPerEpoch: 10, totalSteps: 300), 12);
    }

    [Theory]
    [InlineData("""{ "optimizer": "adam" }""", "optimizer must be sgd or rmsprop, got 'adam'")]
    [InlineData("""{ "learningRatePer256": -1 }""", "learningRatePer256 must be a positive number")]
    [InlineData("""{ "schedule": "step" }""", "schedule must be cosine, exponential or constant")]
    [InlineData("""{ "batchSize": 1, "dropout": 1.5 }""", "dropout must be in [0, 1), got 1.5")]
    [InlineData("""{ "batchSize": 1 }""", "batchSize must be between 2 and 65536, got 1")]
    [InlineData("""{ "epochs": 0 }""", "epochs must be between 1 and 1000")]
    [InlineData("""{ "learningrate": 0.1 }""", "learningrate")]
    [InlineData("""{ "epochs": "five" }""", "$.epochs")]
    [InlineData("null", "expected a JSON object")]
    public void Bad_recipes_are_rejected_naming_the_field(string json, string expected)
    {
        var e = Assert.Throws<TrainingConfigurationException>(() => TrainingRecipe.Parse(json, "test.json"));
        Assert.StartsWith("test.json: ", e.Message);
        Assert.Contains(expected, e.Message);
    }

    [Fact]
    public void A_missing_recipe_file_is_named()
    {
        var path = Path.Combine(Path.GetTempPath(), $"no-recipe-{Guid.NewGuid():N}.json");
        Assert.Contains(path, Assert.Throws<TrainingConfigurationException>(() => TrainingRecipe.Load(path)).Message);
    }
}
