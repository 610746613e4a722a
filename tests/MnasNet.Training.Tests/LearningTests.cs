using MnasNet.SearchSpace;
using MnasNet.Torch;
using MnasNet.Training.Data;
using MnasNet.Training.Proxy;

namespace MnasNet.Training.Tests;

public sealed class LearningTests(ITestOutputHelper output)
{
    [Theory]
    [InlineData(OptimizerKind.Sgd, 0.05, 16, "s")]
    [InlineData(OptimizerKind.RmsProp, 0.001, 16, "s")]
    [InlineData(OptimizerKind.Sgd, 0.1, 32, "s")]
    public void Scratch(OptimizerKind opt, double lr, int batch, string name)
    {
        TorchRuntime.EnsureLoaded(1);
        var dataset = DatasetSpec.Parse("fashion-mnist").Load();
        var arch = name != "s" ? ReferenceArchitectures.ByName[name] : MnasNetSearchSpace.Default.Decode(MnasNetSearchSpace.Default.Sample(new SeededRandom(7)));
        var options = new ProxyTrainingOptions { Optimizer = opt, LearningRate = lr, Width = 0.5, TrainSize = 4000, ValidationSize = 1000, Threads = 1, BatchSize = batch };
        var result = ProxyTrainer.Train(arch, dataset, options, cancellation: TestContext.Current.CancellationToken);
        output.WriteLine($"{opt} {lr} {batch}: {result.Outcome} acc {result.ValAccuracy} loss {result.ValLoss} {result.TrainImagesPerSecond:F0} img/s {result.Seconds:F1}s params {result.Parameters} macs {result.Macs} train {result.Epochs[0].TrainLoss} {result.Epochs[0].TrainAccuracy}\n {string.Join(" ", result.StepLosses.Select(l => l.ToString("F2")))}");
    }
}
