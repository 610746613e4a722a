using MnasNet.SearchSpace;
using MnasNet.Torch;
using MnasNet.Training.Data;
using MnasNet.Training.Proxy;

namespace MnasNet.Training.Tests;

/// <summary>The real learning check: a sampled net, one epoch on real Fashion-MNIST images, well above chance.</summary>
public sealed class LearningTests(ITestOutputHelper output)
{
    [Fact]
    public void A_sampled_net_learns_fashion_mnist_in_one_epoch()
    {
        TorchRuntime.EnsureLoaded(threads: 1);
        // Reads the Debian package's files (CI installs dataset-fashion-mnist; so does deploy/setup.sh).
        var dataset = DatasetSpec.Parse("fashion-mnist").Load();
        var space = MnasNetSearchSpace.Default;
        var arch = space.Decode(space.Sample(new SeededRandom(7)));
        var options = new ProxyTrainingOptions
        {
            Optimizer = OptimizerKind.Sgd,
            LearningRate = 0.1,
            BatchSize = 32,
            Epochs = 1,
            TrainSize = 8000,
            ValidationSize = 1000,
            Width = 0.5,
            Dropout = 0,
            LabelSmoothing = 0,
            CropPadding = 0,
            HorizontalFlip = false,
            Threads = 1,
            Seed = 1,
        };
        var result = ProxyTrainer.Train(arch, dataset, options, cancellation: TestContext.Current.CancellationToken);
        output.WriteLine($"{space.FormatTokens(space.Encode(arch))}: val accuracy {result.ValAccuracy:P1}, val loss {result.ValLoss:F3}, " +
            $"{result.TrainImagesPerSecond:F0} images/s, {result.Seconds:F1} s, {result.Parameters} parameters, {result.Macs} MACs");
        Assert.True(result.Succeeded, result.FailureReason);
        Assert.True(result.ValAccuracy >= 0.70, $"validation accuracy {result.ValAccuracy:P1} after one epoch (chance: 10%)");
    }
}
