using System.Globalization;
using MnasNet.Torch;
using MnasNet.Training.Data;
using MnasNet.Training.Proxy;

namespace MnasNet.Training.Tests;

/// <summary>Runs alone: resident memory of the process is only meaningful when no other test allocates meanwhile.</summary>
[CollectionDefinition(nameof(MemoryTests), DisableParallelization = true)]
public sealed class MemoryTestsCollection;

[Collection(nameof(MemoryTests))]
public sealed class MemoryTests(ITestOutputHelper output)
{
    [Fact]
    public void Training_a_hundred_tiny_models_keeps_resident_memory_bounded()
    {
        TorchRuntime.EnsureLoaded(threads: 1);
        var dataset = DatasetSpec.Parse($"cifar10:{TestPaths.Cifar10Subset}").Load();
        var data = ProxyTrainer.PrepareData(dataset, new ProxyTrainingOptions { TrainSize = 32, ValidationSize = 16, Resolution = 16 });
        void Trial(int i)
        {
            var options = new ProxyTrainingOptions { BatchSize = 16, Seed = (ulong)i, Threads = 1, PrefetchBatches = 2 };
            var r = ProxyTrainer.Train(TrainerTests.Tiny, data, dataset.Classes, options, cancellation: TestContext.Current.CancellationToken);
            Assert.True(r.Succeeded, r.FailureReason);
        }
        for (var i = 0; i < 10; i++)
        {
            Trial(i);
        }
        var before = ResidentKiB();
        for (var i = 0; i < 100; i++)
        {
            Trial(100 + i);
        }
        var after = ResidentKiB();
        output.WriteLine($"VmRSS after warm-up {before / 1024.0:F1} MiB, after 100 more trials {after / 1024.0:F1} MiB");
        // A leaked model, optimizer or batch per trial would add far more than this over 100 trials.
        Assert.True(after - before < 48 * 1024, $"resident memory grew by {(after - before) / 1024.0:F1} MiB over 100 trials");
    }

    private static long ResidentKiB()
    {
        GC.Collect();
        GC.WaitForPendingFinalizers();
        GC.Collect();
        var line = File.ReadLines("/proc/self/status").First(l => l.StartsWith("VmRSS:", StringComparison.Ordinal));
        return long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture);
    }
}
