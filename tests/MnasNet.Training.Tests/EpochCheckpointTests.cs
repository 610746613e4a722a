using MnasNet.TestSupport;
using MnasNet.Torch;
using MnasNet.Training.Data;
using MnasNet.Training.Proxy;

namespace MnasNet.Training.Tests;

/// <summary>Epoch checkpoints: a run resumed from one ends exactly where the uninterrupted run does.</summary>
public sealed class EpochCheckpointTests
{
    public EpochCheckpointTests() => TorchRuntime.EnsureLoaded(threads: 1);

    private static readonly Lazy<Dataset> Cifar = new(() => DatasetSpec.Parse($"cifar10:{TestPaths.Cifar10Subset}").Load());

    // Dropout on, so the weight generator's state matters to the resumed run.
    private static ProxyTrainingOptions Options => new()
    {
        Epochs = 3,
        BatchSize = 32,
        TrainSize = 128,
        ValidationSize = 64,
        Resolution = 16,
        Threads = 1,
        Seed = 5,
        Dropout = 0.3,
        Optimizer = OptimizerKind.RmsProp,
        LearningRate = 0.002,
    };

    [Fact]
    public void A_run_resumed_from_an_epoch_checkpoint_continues_bit_for_bit()
    {
        using var dir = new TempDir();
        var whole = new List<EpochCheckpoint>();
        var full = ProxyTrainer.Train(TrainerTests.Tiny, Cifar.Value, Options, cancellation: TestContext.Current.CancellationToken,
            checkpoints: new CheckpointPlan(dir.File("whole"), OnEpoch: (_, c) => whole.Add(c)));
        Assert.True(full.Succeeded, full.FailureReason);
        Assert.Equal([1, 2, 3], whole.Select(c => c.Epoch));
        // The last two and the best of those before the last are kept (the last may not be journaled yet), the others deleted.
        var best = whole.SkipLast(1).MaxBy(c => c.Accuracy)!;
        Assert.All(whole, c => Assert.Equal(c.Epoch >= 2 || c == best, File.Exists(c.Path)));

        // A run told that nothing after epoch 1 is journaled (its controller is gone) keeps every checkpoint from epoch 1 on.
        var unconfirmed = new List<EpochCheckpoint>();
        ProxyTrainer.Train(TrainerTests.Tiny, Cifar.Value, Options, cancellation: TestContext.Current.CancellationToken,
            checkpoints: new CheckpointPlan(dir.File("unconfirmed"), OnEpoch: (_, c) => unconfirmed.Add(c), JournaledEpoch: () => 1));
        Assert.All(unconfirmed, c => Assert.True(File.Exists(c.Path), $"epoch {c.Epoch} deleted"));
        Assert.Equal(whole.Select(c => c.Sha256), unconfirmed.Select(c => c.Sha256));

        var partial = new List<EpochCheckpoint>();
        Assert.Throws<OperationCanceledException>(() => ProxyTrainer.Train(TrainerTests.Tiny, Cifar.Value, Options, cancellation: TestContext.Current.CancellationToken,
            checkpoints: new CheckpointPlan(dir.File("cut"), OnEpoch: (_, c) =>
            {
                partial.Add(c);
                throw new OperationCanceledException("killed after epoch 1");
            })));
        var resumedEpochs = new List<EpochCheckpoint>();
        var resumed = ProxyTrainer.Train(TrainerTests.Tiny, Cifar.Value, Options, cancellation: TestContext.Current.CancellationToken,
            checkpoints: new CheckpointPlan(dir.File("cut"), ResumeFrom: Assert.Single(partial), OnEpoch: (_, c) => resumedEpochs.Add(c)));

        Assert.Equal([2, 3], resumed.Epochs.Select(e => e.Epoch));
        Assert.Equal(full.Epochs.Skip(1).Select(e => (e.TrainLoss, e.ValidationLoss, e.ValidationAccuracy)), resumed.Epochs.Select(e => (e.TrainLoss, e.ValidationLoss, e.ValidationAccuracy)));
        Assert.Equal(whole[^1].Sha256, resumedEpochs[^1].Sha256);
        Assert.Equal(full.ValAccuracy, resumed.ValAccuracy);
    }

    [Fact]
    public void A_checkpoint_that_is_not_the_one_saved_is_refused()
    {
        using var dir = new TempDir();
        var saved = new List<EpochCheckpoint>();
        ProxyTrainer.Train(TrainerTests.Tiny, Cifar.Value, Options with { Epochs = 1 }, cancellation: TestContext.Current.CancellationToken,
            checkpoints: new CheckpointPlan(dir.Path, OnEpoch: (_, c) => saved.Add(c)));
        var changed = Assert.Single(saved) with { Sha256 = new string('0', 64) };
        var e = Assert.Throws<TrainingConfigurationException>(() => ProxyTrainer.Train(TrainerTests.Tiny, Cifar.Value, Options, cancellation: TestContext.Current.CancellationToken,
            checkpoints: new CheckpointPlan(dir.Path, ResumeFrom: changed)));
        Assert.Contains("does not have the SHA-256 it was saved with", e.Message);
    }
}
