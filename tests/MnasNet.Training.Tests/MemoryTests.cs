using System.Globalization;
using System.Runtime.InteropServices;
using MnasNet.SearchSpace;
using MnasNet.Torch;
using MnasNet.Training.Data;
using MnasNet.Training.Models;
using MnasNet.Training.Proxy;
using TorchSharp;

namespace MnasNet.Training.Tests;

/// <summary>Runs alone: the process's memory is only meaningful when no other test allocates meanwhile.</summary>
[CollectionDefinition(nameof(MemoryTests), DisableParallelization = true)]
public sealed class MemoryTestsCollection;

/// <summary>
/// A trial must leave nothing behind. Resident memory alone cannot show it: glibc's main arena keeps growing by
/// fragmentation for the first hundred or so trials (and by a few to ~100 KiB a trial after that), memory that
/// <c>malloc_trim</c> does not return either. So the test reads what malloc has handed out and not got back
/// (<c>mallinfo2</c>), which a leak raises and fragmentation does not, and the tensors TorchSharp counts as alive;
/// resident memory only gets a loose bound on its fitted growth per trial.
/// </summary>
[Collection(nameof(MemoryTests))]
public sealed class MemoryTests(ITestOutputHelper output)
{
    private const int WarmUp = 50;
    private const int Measured = 200;
    private const int Window = 50;

    [Fact]
    public void Training_hundreds_of_models_leaves_no_tensor_and_no_native_memory_behind()
    {
        TorchRuntime.EnsureLoaded(threads: 1);
        var dataset = SyntheticDataset.Create(200, 3, 32, 10, seed: 1);
        var data = ProxyTrainer.PrepareData(dataset, new ProxyTrainingOptions { TrainSize = 32, ValidationSize = 16, Resolution = 16 });
        // Width 4: a model left alive would be large enough (~0.5 MiB) to stand out of malloc's own ups and downs.
        var parameterTensors = ParameterTensorsOf(TrainerTests.Tiny, new NetworkOptions(16, 3, dataset.Classes, Width: 4));
        long parameters = 0;
        void Trial(int i)
        {
            var options = new ProxyTrainingOptions { BatchSize = 16, Seed = (ulong)i, Threads = 1, PrefetchBatches = 2, Width = 4 };
            var r = ProxyTrainer.Train(TrainerTests.Tiny, data, dataset.Classes, options, cancellation: TestContext.Current.CancellationToken);
            Assert.True(r.Succeeded, r.FailureReason);
            parameters = r.Parameters;
            Collect();
        }
        for (var i = 0; i < WarmUp; i++)
        {
            Trial(i);
        }
        var resident = new double[Measured];
        var inUse = new double[Measured];
        var tensorsBefore = torch.Tensor.TotalCount;
        for (var i = 0; i < Measured; i++)
        {
            var tensors = torch.Tensor.TotalCount;
            Trial(WarmUp + i);
            // TorchSharp 0.107 counts one tensor per registered parameter that it never counts off again, though
            // the parameter's memory is freed (in-use memory below stays flat): any other tensor left alive shows here.
            Assert.Equal(parameterTensors, torch.Tensor.TotalCount - tensors);
            (resident[i], inUse[i]) = (ResidentKiB(), NativeInUseKiB());
        }
        var residentSlope = Slope(resident);
        var inUseGrowth = inUse[^Window..].Min() - inUse[..Window].Min();
        // A model left alive with its gradients and optimizer state would hold 3 × 4 bytes per parameter.
        var leakedModelKiB = parameters * 12 / 1024.0;
        output.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"after {WarmUp} warm-up trials, over {Measured}: VmRSS {resident[0] / 1024:F1} → {resident[^1] / 1024:F1} MiB (fitted {residentSlope:F1} KiB/trial); malloc in use, lowest of first and last {Window}: {inUse[..Window].Min() / 1024:F1} → {inUse[^Window..].Min() / 1024:F1} MiB; a leaked model would be {leakedModelKiB:F1} KiB/trial"));
        Assert.True(inUseGrowth < Measured * leakedModelKiB / 8,
            $"native memory in use grew by {inUseGrowth / 1024:F1} MiB over {Measured} trials ({inUseGrowth / Measured:F1} KiB/trial)");
        Assert.True(residentSlope < 256, $"resident memory grows by {residentSlope:F1} KiB/trial (fitted over {Measured} trials after {WarmUp} warm-up trials)");
    }

    private static int ParameterTensorsOf(SearchSpace.Architecture architecture, NetworkOptions options)
    {
        using var model = MnasNetModel.Build(architecture, options);
        return model.parameters().Count();
    }

    /// <summary>Least-squares slope of <paramref name="values"/> against their index.</summary>
    private static double Slope(double[] values)
    {
        var meanX = (values.Length - 1) / 2.0;
        var meanY = values.Average();
        double covariance = 0, variance = 0;
        for (var i = 0; i < values.Length; i++)
        {
            covariance += (i - meanX) * (values[i] - meanY);
            variance += (i - meanX) * (i - meanX);
        }
        return covariance / variance;
    }

    private static void Collect()
    {
        GC.Collect();
        GC.WaitForPendingFinalizers();
        GC.Collect();
    }

    private static double ResidentKiB()
    {
        var line = File.ReadLines("/proc/self/status").First(l => l.StartsWith("VmRSS:", StringComparison.Ordinal));
        return long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture);
    }

    /// <summary>Bytes malloc has handed out and not got back, in its arenas and in mmapped blocks.</summary>
    private static double NativeInUseKiB()
    {
        var info = MallInfo2();
        return (info.Uordblks + info.Hblkhd) / 1024.0;
    }

    [DllImport("libc", EntryPoint = "mallinfo2")]
    private static extern MallocInfo MallInfo2();

    [StructLayout(LayoutKind.Sequential)]
    private struct MallocInfo
    {
        public nuint Arena, Ordblks, Smblks, Hblks, Hblkhd, Usmblks, Fsmblks, Uordblks, Fordblks, Keepcost;
    }
}
