using MnasNet.SearchSpace;
using MnasNet.Torch;
using MnasNet.Training.Data;
using MnasNet.Training.Proxy;

namespace MnasNet.Training.Tests;

public sealed class LearningTests(ITestOutputHelper output)
{
    [Theory]
    [InlineData(OptimizerKind.Sgd, 0.02, 0.9, "s")]
    [InlineData(OptimizerKind.RmsProp, 0.0005, 0.9, "s")]
    [InlineData(OptimizerKind.Sgd, 0.05, 0.0, "s")]
    [InlineData(OptimizerKind.Sgd, 0.05, 0.0, "s3")]
    public void Scratch(OptimizerKind opt, double lr, double momentum, string name)
    {
        TorchRuntime.EnsureLoaded(1);
        var dataset = DatasetSpec.Parse("fashion-mnist").Load();
        var arch = name == "tiny" ? TrainerTests.Tiny : MnasNetSearchSpace.Default.Decode(MnasNetSearchSpace.Default.Sample(new SeededRandom(name == "s" ? 7UL : 3UL)));
        var options = new ProxyTrainingOptions { Optimizer = opt, LearningRate = lr, Momentum = momentum, Nesterov = true, Width = 0.5, TrainSize = 8000, ValidationSize = 1000, Threads = 1, BatchSize = 32, WarmupEpochs = 0.1 };
        var result = ProxyTrainer.Train(arch, dataset, options, cancellation: TestContext.Current.CancellationToken);
        output.WriteLine($"{opt} {lr} {momentum} {name}: {result.Outcome} acc {result.ValAccuracy} loss {result.ValLoss} {result.TrainImagesPerSecond:F0} img/s {result.Seconds:F1}s params {result.Parameters} macs {result.Macs} train {result.Epochs[0].TrainLoss} {result.Epochs[0].TrainAccuracy}\n {string.Join(" ", result.StepLosses.Select(l => l.ToString("F2")))}");
    }
}
