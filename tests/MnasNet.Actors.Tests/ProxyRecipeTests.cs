using MnasNet.Actors.Backends;
using MnasNet.Actors.Protocol;
using MnasNet.Actors.Settings;
using MnasNet.SearchSpace;
using MnasNet.Training.Data;
using MnasNet.Training.Proxy;

namespace MnasNet.Actors.Tests;

/// <summary>The search's proxy training takes its recipe from training.recipe; none means the recipe of before.</summary>
public sealed class ProxyRecipeTests
{
    private static readonly Lazy<Dataset> Cifar = new(() => DatasetSpec.Parse($"cifar10:{SyntheticCifar10.Directory}").Load());

    private static SearchSettings Settings(TrainingSettings training) => SettingsValidation.Validate(new SearchSettings
    {
        Seed = 3,
        Dataset = new DatasetSettings { Spec = $"cifar10:{SyntheticCifar10.Directory}", TrainSize = 128, ValidationSize = 64, Resolution = 16 },
        Training = training,
    });

    private static async Task<TrainingRecord> TrainAsync(SearchSettings settings)
    {
        var space = MnasNetSearchSpace.Default;
        using var trainer = new ProxyTrainerBackend(settings, space, Cifar, weightsDirectory: null);
        var tokens = space.Sample(new SeededRandom(21));
        return await trainer.TrainAsync(new WorkOffer("s", 1, WorkKind.Train, 1, tokens, 9), TestContext.Current.CancellationToken);
    }

    [Fact]
    public async Task The_default_recipe_trains_exactly_as_no_recipe_and_another_recipe_trains_differently()
    {
        var plain = new TrainingSettings { Epochs = 1, BatchSize = 32, LearningRate = 0.1, Width = 0.25, KeepWeights = false };
        var none = await TrainAsync(Settings(plain));
        var proxy = await TrainAsync(Settings(plain with { Recipe = TrainingRecipe.Proxy }));
        Assert.Equal(none.LossCurve, proxy.LossCurve);
        Assert.Equal(none.Accuracy, proxy.Accuracy);

        var rmsprop = await TrainAsync(Settings(plain with { Recipe = TrainingRecipe.Proxy with { Optimizer = "rmsprop", LearningRatePer256 = 0.016, Schedule = "exponential" } }));
        Assert.Equal(none.LossCurve.Count, rmsprop.LossCurve.Count);
        Assert.Equal(none.LossCurve[0], rmsprop.LossCurve[0]);
        Assert.NotEqual(none.LossCurve, rmsprop.LossCurve);

        var twoEpochs = await TrainAsync(Settings(plain with { Recipe = TrainingRecipe.Proxy with { Epochs = 2, BatchSize = 64 } }));
        Assert.Equal(2, twoEpochs.Epochs);
        Assert.Equal(4, twoEpochs.LossCurve.Count);
    }
}
