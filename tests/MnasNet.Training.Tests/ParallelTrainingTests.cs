using System.Diagnostics;
using MnasNet.Torch;
using MnasNet.Training.Data;
using MnasNet.Training.Proxy;
using TorchSharp;

namespace MnasNet.Training.Tests;

/// <summary>Trainers in one process run at the same time and each gives the result it gives alone.</summary>
public sealed class ParallelTrainingTests
{
    private static readonly Dataset Data = SyntheticDataset.Create(256, 3, 16, 10, seed: 3);

    private static ProxyTrainingOptions Options(ulong seed, int threads) => new()
    {
        Epochs = 2,
        BatchSize = 32,
        TrainSize = 192,
        ValidationSize = 64,
        Threads = threads,
        Seed = seed,
        Dropout = 0.5,
    };

    [Fact]
    public void Concurrent_trainers_overlap_and_give_bit_identical_results_to_each_running_alone()
    {
        TorchRuntime.EnsureLoaded(threads: 1);
        ProxyTrainingOptions[] runs = [Options(1, 1), Options(2, 2), Options(3, 1)];
        var alone = runs.Select(o => ProxyTrainer.Train(TrainerTests.Tiny, Data, o, cancellation: TestContext.Current.CancellationToken)).ToArray();
        Assert.All(alone, r => Assert.True(r.Succeeded, r.FailureReason));

        // Every trainer waits at its first step until all are there, so they are certainly training at the same time;
        // each also reseeds and draws from libtorch's global generator at every step, as another component might.
        using var allStarted = new Barrier(runs.Length);
        var met = new bool[runs.Length];
        var firstStep = new long[runs.Length];
        var lastStep = new long[runs.Length];
        var results = new TrainingResult[runs.Length];
        var threads = runs.Select((o, i) => new Thread(() =>
        {
            var progress = new TrainerTests.SynchronousProgress(p =>
            {
                if (p.Phase != TrainingPhase.Step)
                {
                    return;
                }
                lastStep[i] = Stopwatch.GetTimestamp();
                if (p.Epoch == 1 && p.Step == 1)
                {
                    firstStep[i] = lastStep[i];
                    met[i] = allStarted.SignalAndWait(TimeSpan.FromMinutes(2));
                }
                torch.manual_seed(1000 + p.Step);
                torch.rand(64).Dispose();
            });
            results[i] = ProxyTrainer.Train(TrainerTests.Tiny, Data, o, progress, TestContext.Current.CancellationToken);
        })).ToArray();
        foreach (var t in threads)
        {
            t.Start();
        }
        foreach (var t in threads)
        {
            t.Join();
        }

        Assert.All(met, Assert.True);
        Assert.True(firstStep.Max() < lastStep.Min(), "every trainer was past its first step before any took its last");
        for (var i = 0; i < runs.Length; i++)
        {
            Assert.True(results[i].Succeeded, results[i].FailureReason);
            Assert.Equal(alone[i].StepLosses, results[i].StepLosses);
            Assert.Equal(alone[i].ValLoss, results[i].ValLoss);
            Assert.Equal(alone[i].ValAccuracy, results[i].ValAccuracy);
            Assert.Equal(alone[i].Epochs.Select(e => e.TrainLoss), results[i].Epochs.Select(e => e.TrainLoss));
        }
        Assert.NotEqual(alone[0].StepLosses, alone[2].StepLosses);
    }

    [Fact]
    public void A_thread_count_set_on_one_thread_does_not_change_another_threads()
    {
        TorchRuntime.EnsureLoaded(threads: 1);
        using var set = new Barrier(2);
        var seen = new int[2];
        var threads = new[] { 1, 2 }.Select((n, i) => new Thread(() =>
        {
            TorchRuntime.SetThreads(n);
            set.SignalAndWait(TimeSpan.FromMinutes(1));
            seen[i] = torch.get_num_threads();
        })).ToArray();
        foreach (var t in threads)
        {
            t.Start();
        }
        foreach (var t in threads)
        {
            t.Join();
        }
        Assert.Equal([1, 2], seen);
    }
}
