using MnasNet.SearchSpace;
using MnasNet.Torch;
using MnasNet.Training.Data;
using MnasNet.Training.Proxy;
using TorchSharp;

namespace MnasNet.Training.Tests;

/// <summary>Proxy training on tiny nets and tiny data: determinism, failures, cancellation, weights, memory.</summary>
public sealed class TrainerTests
{
    public TrainerTests() => TorchRuntime.EnsureLoaded(threads: 1);

    /// <summary>A two-block net small enough to train in milliseconds.</summary>
    internal static Architecture Tiny { get; } = new(new StemSpec(8),
    [
        new BlockSpec(ConvOp.MBConv, 3, 3, 0.25, SkipOp.Identity, 8, 2, 1),
        new BlockSpec(ConvOp.SepConv, 1, 3, 0, SkipOp.Pool, 16, 1, 2),
    ], new HeadSpec(32));

    private static readonly Lazy<Dataset> Cifar = new(() => DatasetSpec.Parse($"cifar10:{TestPaths.Cifar10Subset}").Load());

    private static ProxyTrainingOptions Small => new()
    {
        Epochs = 2,
        BatchSize = 32,
        TrainSize = 192,
        ValidationSize = 64,
        Resolution = 16,
        Threads = 1,
        Seed = 11,
        Width = 1.0,
    };

    private static CancellationToken Token => TestContext.Current.CancellationToken;

    [Fact]
    public void Same_options_and_seed_give_bit_identical_losses_and_accuracy()
    {
        var a = ProxyTrainer.Train(Tiny, Cifar.Value, Small, cancellation: Token);
        var b = ProxyTrainer.Train(Tiny, Cifar.Value, Small, cancellation: Token);
        Assert.True(a.Succeeded, a.FailureReason);
        Assert.Equal(2, a.EpochsCompleted);
        Assert.Equal(12, a.StepLosses.Count);
        Assert.Equal(a.StepLosses, b.StepLosses);
        Assert.Equal(a.ValAccuracy, b.ValAccuracy);
        Assert.Equal(a.ValLoss, b.ValLoss);
        Assert.Equal(a.Epochs.Select(e => e.TrainLoss), b.Epochs.Select(e => e.TrainLoss));

        var other = ProxyTrainer.Train(Tiny, Cifar.Value, Small with { Seed = 12 }, cancellation: Token);
        Assert.NotEqual(a.StepLosses, other.StepLosses);
    }

    [Fact]
    public void The_generated_cifar10_data_is_learnable_well_above_chance()
    {
        var r = ProxyTrainer.Train(Tiny, Cifar.Value, Small with { Epochs = 3, TrainSize = 1024, ValidationSize = 256 }, cancellation: Token);
        Assert.True(r.Succeeded, r.FailureReason);
        Assert.True(r.ValAccuracy >= 0.8, $"validation accuracy {r.ValAccuracy:P1} after 3 epochs on 1,024 generated images (chance: 10%)");
    }

    [Fact]
    public void Result_reports_sizes_costs_and_throughput()
    {
        var r = ProxyTrainer.Train(Tiny, Cifar.Value, Small with { Epochs = 1 }, cancellation: Token);
        var network = new NetworkOptions(16, 3, 10, 1.0, 0.2);
        Assert.Equal(CostModel.Compute(Tiny, network).Params, r.Parameters);
        Assert.Equal(CostModel.Compute(Tiny, network).Macs, r.Macs);
        Assert.Equal((192, 64, 16, 192L), (r.TrainCount, r.ValidationCount, r.Resolution, r.TrainImagesSeen));
        Assert.InRange(r.ValAccuracy, 0, 1);
        Assert.True(r.TrainImagesPerSecond > 0 && r.Seconds > 0);
        Assert.Equal(Tiny.Id, r.ArchitectureId);
        Assert.True(double.IsFinite(r.ValLoss!.Value));
    }

    [Fact]
    public void A_huge_learning_rate_diverges_into_a_failed_result_with_its_reason()
    {
        var r = ProxyTrainer.Train(Tiny, Cifar.Value, Small with { Optimizer = OptimizerKind.Sgd, LearningRate = 1e12, WarmupEpochs = 0, Schedule = LearningRateSchedule.Constant },
            cancellation: Token);
        Assert.Equal(TrainingOutcome.Diverged, r.Outcome);
        Assert.False(r.Succeeded);
        Assert.Contains("training loss became", r.FailureReason);
        Assert.Equal(0, r.ValAccuracy);
        Assert.Null(r.ValLoss);
        Assert.All(r.StepLosses, l => Assert.True(double.IsFinite(l)));
        Assert.True(r.StepLosses.Count < 12, "stopped early");
    }

    [Fact]
    public void Cancellation_stops_within_a_batch()
    {
        using var cts = CancellationTokenSource.CreateLinkedTokenSource(Token);
        var steps = 0;
        var progress = new SynchronousProgress(p =>
        {
            if (p.Phase == TrainingPhase.Step && ++steps == 3)
            {
                cts.Cancel();
            }
        });
        Assert.ThrowsAny<OperationCanceledException>(() => ProxyTrainer.Train(Tiny, Cifar.Value, Small, progress, cts.Token));
        Assert.Equal(3, steps);
        // The trainer is free again afterwards.
        Assert.True(ProxyTrainer.Train(Tiny, Cifar.Value, Small with { Epochs = 1 }, cancellation: Token).Succeeded);
    }

    [Fact]
    public void Progress_reports_every_step_and_every_epoch_in_order()
    {
        var reports = new List<TrainingProgress>();
        var r = ProxyTrainer.Train(Tiny, Cifar.Value, Small, new SynchronousProgress(reports.Add), Token);
        Assert.Equal(12 + 2, reports.Count);
        Assert.Equal(r.StepLosses, reports.Where(p => p.Phase == TrainingPhase.Step).Select(p => p.Loss));
        var epochs = reports.Where(p => p.Phase == TrainingPhase.Epoch).ToList();
        Assert.Equal([1, 2], epochs.Select(p => p.Epoch));
        Assert.Equal(r.Epochs, epochs.Select(p => p.Metrics!));
        Assert.Equal(6, reports[5].Step);
    }

    [Fact]
    public void Weights_are_saved_and_load_back_into_the_same_architecture()
    {
        using var dir = new TempDir();
        var path = dir.File(Path.Combine("w", "trial.bin"));
        var r = ProxyTrainer.Train(Tiny, Cifar.Value, Small with { Epochs = 1, WeightsPath = path }, cancellation: Token);
        Assert.Equal(path, r.WeightsPath);
        using var model = Models.MnasNetModel.Build(Tiny, new NetworkOptions(16, 3, 10));
        model.load(path);
        Assert.Equal(r.Parameters, model.ParameterCount());
    }

    [Theory]
    [InlineData("epochs must be between 1 and 1000, got 0")]
    [InlineData("batch size must be between 2 and 65536, got 1")]
    [InlineData("learning rate must be a positive number, got NaN")]
    [InlineData("label smoothing must be in [0, 1), got 1")]
    [InlineData("threads must be between 1 and 256, got 0")]
    public void Bad_options_are_rejected_naming_the_value(string expected)
    {
        var bad = expected.Split(' ')[0] switch
        {
            "epochs" => Small with { Epochs = 0 },
            "batch" => Small with { BatchSize = 1 },
            "learning" => Small with { LearningRate = double.NaN },
            "label" => Small with { LabelSmoothing = 1 },
            _ => Small with { Threads = 0 },
        };
        var e = Assert.Throws<TrainingConfigurationException>(() => ProxyTrainer.Train(Tiny, Cifar.Value, bad, cancellation: Token));
        Assert.Contains(expected, e.Message);
    }

    [Fact]
    public void A_split_larger_than_the_dataset_is_a_dataset_error()
    {
        var e = Assert.Throws<DatasetException>(() => ProxyTrainer.Train(Tiny, Cifar.Value, Small with { TrainSize = 5000 }, cancellation: Token));
        Assert.Contains("train size 5000", e.Message);
    }

    [Fact]
    public void A_real_libtorch_allocation_failure_is_recognised_as_out_of_memory()
    {
        var e = Assert.ThrowsAny<Exception>(() => torch.empty(1L << 50, dtype: torch.float32));
        Assert.True(ProxyTrainer.IsOutOfMemory(e), e.Message);
        Assert.False(ProxyTrainer.IsOutOfMemory(new InvalidOperationException("shape mismatch")));
    }

    [Fact]
    public void Learning_rate_schedules_warm_up_then_decay()
    {
        var o = Small with { LearningRate = 0.1, WarmupEpochs = 1 };
        Assert.Equal(0.01, LearningRates.At(o, 0, 10, 100), 12);
        Assert.Equal(0.1, LearningRates.At(o, 9, 10, 100), 12);
        Assert.Equal(0.1, LearningRates.At(o, 10, 10, 100), 12);
        Assert.Equal(0.05, LearningRates.At(o, 55, 10, 100), 12);
        Assert.True(LearningRates.At(o, 99, 10, 100) < 1e-3);
        var exp = o with { Schedule = LearningRateSchedule.Exponential, DecayRate = 0.5, DecayEpochs = 2 };
        Assert.Equal(0.05, LearningRates.At(exp, 30, 10, 100), 12);
    }

    internal sealed class SynchronousProgress(Action<TrainingProgress> report) : IProgress<TrainingProgress>
    {
        public void Report(TrainingProgress value) => report(value);
    }
}
