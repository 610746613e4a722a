using System.Diagnostics;
using MnasNet.SearchSpace;
using MnasNet.Torch;
using MnasNet.Training.Data;
using MnasNet.Training.Models;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace MnasNet.Training.Proxy;

/// <summary>The held-out split of a dataset as one run trains and validates on it.</summary>
public sealed record ProxyData(IImageSource Train, IImageSource Validation, Augmentation TrainAugmentation, Augmentation Evaluation)
{
    public int Resolution => Train.Height;
}

/// <summary>
/// Trains an architecture briefly on a proxy task and reports its validation accuracy (the ACC of the reward).
/// Call it off any actor's mailbox thread: it blocks for the whole run, all of it on the calling thread.
/// Runs in one process may overlap: each draws every random number from its own generator seeded from
/// <see cref="ProxyTrainingOptions.Seed"/> (never libtorch's global one), and sets its intra-op thread count on its
/// own thread, where libtorch's OpenMP keeps it (see README, "Determinism").
/// </summary>
public static class ProxyTrainer
{
    /// <summary>
    /// Trains <paramref name="architecture"/> on <paramref name="dataset"/>. Returns a failed result (with its reason)
    /// when the loss diverges, memory runs out or libtorch rejects an operation; throws <see cref="OperationCanceledException"/> when cancelled
    /// (checked before every batch), <see cref="TrainingConfigurationException"/> for bad options and
    /// <see cref="DatasetException"/> for a split the dataset cannot give.
    /// </summary>
    public static TrainingResult Train(
        Architecture architecture,
        Dataset dataset,
        ProxyTrainingOptions options,
        IProgress<TrainingProgress>? progress = null,
        CancellationToken cancellation = default,
        CheckpointPlan? checkpoints = null)
    {
        ArgumentNullException.ThrowIfNull(dataset);
        return Train(architecture, PrepareData(dataset, options), dataset.Classes, options, progress, cancellation, checkpoints);
    }

    /// <summary>
    /// Full training's data: every training image (or <see cref="ProxyTrainingOptions.TrainSize"/> of them), scored
    /// on the dataset's test images; a dataset without test images holds validation out as the proxy task does.
    /// </summary>
    public static ProxyData PrepareFinalData(Dataset dataset, ProxyTrainingOptions options)
    {
        ArgumentNullException.ThrowIfNull(dataset);
        if (dataset.Test is not { Count: > 0 } test)
        {
            return PrepareData(dataset, options);
        }
        options.Validate();
        var train = options.TrainSize is { } n && n < dataset.Train.Count ? Batches.Split(dataset.Train, 1, n, options.SplitSeed).Train : dataset.Train;
        if (options.Resolution is { } r)
        {
            (train, test) = (train.Resize(r), test.Resize(r));
        }
        var padding = options.CropPadding ?? dataset.CropPaddingByDefault;
        var flip = options.HorizontalFlip ?? dataset.FlipByDefault;
        return new ProxyData(train, test, new Augmentation(dataset.Mean, dataset.Std, padding, flip), Augmentation.None(dataset.Mean, dataset.Std));
    }

    /// <summary>The validation split, subset, resize and augmentation of <paramref name="options"/> applied to a dataset.</summary>
    public static ProxyData PrepareData(Dataset dataset, ProxyTrainingOptions options)
    {
        ArgumentNullException.ThrowIfNull(dataset);
        options.Validate();
        var validation = options.ValidationCountFor(dataset.Train.Count);
        var (train, val) = Batches.Split(dataset.Train, validation, options.TrainSize, options.SplitSeed);
        if (options.Resolution is { } r)
        {
            (train, val) = (train.Resize(r), val.Resize(r));
        }
        var padding = options.CropPadding ?? dataset.CropPaddingByDefault;
        var flip = options.HorizontalFlip ?? dataset.FlipByDefault;
        return new ProxyData(train, val, new Augmentation(dataset.Mean, dataset.Std, padding, flip), Augmentation.None(dataset.Mean, dataset.Std));
    }

    public static TrainingResult Train(
        Architecture architecture,
        ProxyData data,
        int classes,
        ProxyTrainingOptions options,
        IProgress<TrainingProgress>? progress = null,
        CancellationToken cancellation = default,
        CheckpointPlan? checkpoints = null)
    {
        ArgumentNullException.ThrowIfNull(architecture);
        ArgumentNullException.ThrowIfNull(data);
        options.Validate();
        architecture.Validate();
        cancellation.ThrowIfCancellationRequested();
        TorchRuntime.EnsureLoaded(options.Threads);
        using var quiet = options.YieldToMeasurements ? QuietWindow.Shared.Training() : null;
        checkpoints?.ResumeFrom?.Verify();
        return new Run(architecture, data, classes, options, progress, cancellation, checkpoints).Execute();
    }

    /// <summary>Whether an exception from libtorch or the runtime means memory ran out.</summary>
    public static bool IsOutOfMemory(Exception exception)
    {
        for (var e = exception; e is not null; e = e.InnerException)
        {
            if (e is OutOfMemoryException)
            {
                return true;
            }
            var m = e.Message;
            if (m.Contains("not enough memory", StringComparison.OrdinalIgnoreCase)
                || m.Contains("out of memory", StringComparison.OrdinalIgnoreCase)
                || m.Contains("can't allocate memory", StringComparison.OrdinalIgnoreCase)
                || m.Contains("DefaultCPUAllocator", StringComparison.Ordinal)
                || m.Contains("std::bad_alloc", StringComparison.Ordinal))
            {
                return true;
            }
        }
        return false;
    }

    private sealed class Run(
        Architecture architecture,
        ProxyData data,
        int classes,
        ProxyTrainingOptions options,
        IProgress<TrainingProgress>? progress,
        CancellationToken cancellation,
        CheckpointPlan? checkpoints)
    {
        private readonly Stopwatch _wall = Stopwatch.StartNew();
        private readonly List<double> _stepLosses = [];
        private readonly List<EpochMetrics> _epochs = [];
        private readonly NetworkOptions _network = options.NetworkFor(data.Resolution, data.Train.Channels, classes);
        private long _imagesSeen;
        private double _trainSeconds;
        private long _parameters;
        private long _macs;

        public TrainingResult Execute()
        {
            _macs = CostModel.Compute(architecture, _network).Macs;
            try
            {
                return TrainAndValidate();
            }
            catch (Exception e) when (e is not OperationCanceledException && IsOutOfMemory(e))
            {
                return Failed(TrainingOutcome.OutOfMemory, $"out of memory: {FirstLine(e.GetBaseException().Message)}");
            }
            catch (System.Runtime.InteropServices.ExternalException e)
            {
                // libtorch rejected an operation (e.g. a shape it cannot compute): a failed trial, not a crashed worker.
                return Failed(TrainingOutcome.TorchError, $"libtorch error: {FirstLine(e.Message)}");
            }
        }

        private TrainingResult TrainAndValidate()
        {
            using var generator = new Generator(SeededRandom.Derive(options.Seed, "weights") >> 1);
            using var model = MnasNetModel.Build(architecture, _network, generator);
            _parameters = model.ParameterCount();
            model.ChannelsLast = options.ChannelsLast;
            PrepareForShortTraining(model, generator);
            using var optimizer = CreateOptimizer(model);
            var parameters = model.parameters().ToArray();
            var n = data.Train.Count;
            var stepsPerEpoch = n / options.BatchSize + (n % options.BatchSize >= 2 ? 1 : 0);
            var totalSteps = stepsPerEpoch * options.Epochs;
            var first = 1;
            if (checkpoints?.ResumeFrom is { } resume)
            {
                model.load(resume.Path);
                optimizer.Load(resume.OptimizerPath);
                using var state = tensor(File.ReadAllBytes(resume.RandomStatePath));
                generator.set_state(state);
                first = resume.Epoch + 1;
            }
            var step = (first - 1) * stepsPerEpoch;
            for (var epoch = first; epoch <= options.Epochs; epoch++)
            {
                var epochClock = Stopwatch.StartNew();
                model.train();
                double lossSum = 0;
                long correct = 0, seen = 0;
                var lr = 0.0;
                var plans = Batches.Plan(data.Train.Count, options.BatchSize, data.TrainAugmentation, Batches.EpochRandom(options.Seed, epoch));
                using (var prefetch = Loader(data.Train, plans, data.TrainAugmentation))
                {
                    var stepInEpoch = 0;
                    foreach (var batch in prefetch.Batches())
                    {
                        BetweenBatches();
                        lr = LearningRates.At(options, step, stepsPerEpoch, totalSteps);
                        using var scope = NewDisposeScope();
                        var x = tensor(batch.Images, batch.Shape);
                        var y = tensor(batch.Labels);
                        optimizer.ZeroGrad();
                        var logits = model.call(x);
                        var loss = nn.functional.cross_entropy(logits, y, label_smoothing: options.LabelSmoothing);
                        var value = loss.item<float>();
                        if (!float.IsFinite(value))
                        {
                            _trainSeconds += epochClock.Elapsed.TotalSeconds;
                            return Failed(TrainingOutcome.Diverged,
                                $"training loss became {value} at epoch {epoch}, step {stepInEpoch + 1} (learning rate {lr:G4})");
                        }
                        loss.backward();
                        if (options.GradientClipNorm is { } clip)
                        {
                            nn.utils.clip_grad_norm_(parameters, clip);
                        }
                        optimizer.Step(lr);
                        correct += logits.argmax(1).eq(y).sum().item<long>();
                        lossSum += value * (double)batch.Count;
                        seen += batch.Count;
                        _imagesSeen += batch.Count;
                        _stepLosses.Add(value);
                        step++;
                        stepInEpoch++;
                        progress?.Report(new TrainingProgress(TrainingPhase.Step, epoch, options.Epochs, stepInEpoch, stepsPerEpoch,
                            value, lr, (_imagesSeen) / Math.Max(1e-9, _trainSeconds + epochClock.Elapsed.TotalSeconds), null));
                    }
                }
                var trainSeconds = epochClock.Elapsed.TotalSeconds;
                _trainSeconds += trainSeconds;
                RecalibrateBatchNorm(model);
                var (valLoss, valAccuracy) = Evaluate(model, data.Validation);
                if (!double.IsFinite(valLoss))
                {
                    return Failed(TrainingOutcome.Diverged, $"validation loss became {valLoss} after epoch {epoch} (the last steps produced non-finite weights)");
                }
                var metrics = new EpochMetrics(epoch, lossSum / Math.Max(1, seen), (double)correct / Math.Max(1, seen), valLoss, valAccuracy,
                    lr, epochClock.Elapsed.TotalSeconds, seen / Math.Max(1e-9, trainSeconds));
                _epochs.Add(metrics);
                if (checkpoints is not null)
                {
                    SaveCheckpoint(checkpoints, model, optimizer, generator, metrics);
                }
                progress?.Report(new TrainingProgress(TrainingPhase.Epoch, epoch, options.Epochs, stepsPerEpoch, stepsPerEpoch,
                    metrics.TrainLoss, lr, metrics.ImagesPerSecond, metrics));
            }
            if (options.WeightsPath is { } path)
            {
                var dir = Path.GetDirectoryName(Path.GetFullPath(path));
                if (dir is not null)
                {
                    Directory.CreateDirectory(dir);
                }
                model.save(path);
            }
            if (_epochs.Count == 0)
            {
                // Resumed after its last epoch: nothing was left to train.
                return Result(TrainingOutcome.Succeeded, null, checkpoints!.ResumeFrom!.Accuracy, null, options.WeightsPath);
            }
            var last = _epochs[^1];
            return Result(TrainingOutcome.Succeeded, null, last.ValidationAccuracy, last.ValidationLoss, options.WeightsPath);
        }

        private readonly List<EpochCheckpoint> _kept = [];

        // Kept: the checkpoints from the newest journaled epoch on (a crash may come before a newer one is journaled)
        // and the best journaled one; older ones this run wrote or was handed (resume point, best so far) are deleted.
        private void SaveCheckpoint(CheckpointPlan plan, MnasNetModel model, TrainingOptimizer optimizer, Generator generator, EpochMetrics metrics)
        {
            if (_kept.Count == 0)
            {
                _kept.AddRange(new[] { plan.ResumeFrom, plan.BestSoFar }.OfType<EpochCheckpoint>().DistinctBy(c => c.Path));
            }
            System.IO.Directory.CreateDirectory(plan.Directory);
            var path = plan.PathOf(metrics.Epoch);
            model.save(path);
            optimizer.Save(EpochCheckpoint.OptimizerPathOf(path));
            using (var state = generator.get_state())
            {
                File.WriteAllBytes(EpochCheckpoint.RandomStatePathOf(path), state.data<byte>().ToArray());
            }
            var checkpoint = new EpochCheckpoint(metrics.Epoch, metrics.ValidationAccuracy, path, EpochCheckpoint.HashOf(path));
            _kept.RemoveAll(c => c.Path == path);
            _kept.Add(checkpoint);
            plan.OnEpoch?.Invoke(metrics, checkpoint);
            var journaled = Math.Min(plan.JournaledEpoch?.Invoke() ?? metrics.Epoch - 1, metrics.Epoch);
            // The first epoch of the highest accuracy, as the journal's best epoch.
            var best = _kept.Where(c => c.Epoch <= journaled).OrderByDescending(c => c.Accuracy).ThenBy(c => c.Epoch).FirstOrDefault();
            foreach (var old in _kept.Where(c => c.Epoch < journaled && c.Path != best?.Path).ToList())
            {
                old.Delete();
                _kept.Remove(old);
            }
        }

        // TorchVision's classifier init (uniform, fan-out of the class count) is scaled for 1000 classes; with 10 it
        // starts at a loss of ~10 and a short run never recovers. A small normal init (as TorchVision's MobileNetV2)
        // starts at ln(classes). Residual layers start as the identity (last BatchNorm scale 0, Goyal et al. 2017),
        // which lets a deep net learn from the first steps. BatchNorm statistics get the proxy run's momentum.
        private void PrepareForShortTraining(MnasNetModel model, Generator generator)
        {
            using (no_grad())
            {
                // Tensor.normal_, not nn.init.normal_: TorchSharp 0.107's init functions draw from the global generator
                // whatever generator they are given.
                model.classifier.weight.normal_(0, 0.01, generator);
                foreach (var layer in model.layers.Where(l => l.HasResidual))
                {
                    nn.init.zeros_(layer.convs[^1].bn.weight!);
                }
            }
            foreach (var bn in model.modules().OfType<BatchNorm2d>())
            {
                bn.momentum = options.BatchNormMomentum;
            }
        }

        // Running BatchNorm statistics lag far behind the weights in a run of a few hundred steps; validation then
        // measures the lag rather than the architecture. Re-estimating them as exact averages over a fixed set of
        // un-augmented training batches (as one-shot NAS does) costs a few forward passes.
        private void RecalibrateBatchNorm(MnasNetModel model)
        {
            if (options.BatchNormCalibrationBatches == 0)
            {
                return;
            }
            var norms = model.modules().OfType<BatchNorm2d>().ToArray();
            foreach (var bn in norms)
            {
                bn.reset_running_stats();
                bn.momentum = null;
            }
            model.train();
            using (no_grad())
            {
                using var loader = Loader(data.Train, Batches.Plan(data.Train.Count, options.BatchSize, data.Evaluation, null).Take(options.BatchNormCalibrationBatches), data.Evaluation);
                foreach (var batch in loader.Batches())
                {
                    BetweenBatches();
                    using var scope = NewDisposeScope();
                    model.call(tensor(batch.Images, batch.Shape));
                }
            }
            foreach (var bn in norms)
            {
                bn.momentum = options.BatchNormMomentum;
            }
        }

        /// <summary>A batch boundary: where cancellation is seen and where a local latency measurement may pause training.</summary>
        private void BetweenBatches()
        {
            cancellation.ThrowIfCancellationRequested();
            if (options.YieldToMeasurements)
            {
                QuietWindow.Shared.BetweenBatches(cancellation);
            }
        }

        private (double Loss, double Accuracy) Evaluate(MnasNetModel model, IImageSource validation)
        {
            model.eval();
            using var inference = inference_mode();
            double lossSum = 0;
            long correct = 0;
            using var prefetch = Loader(validation, Batches.Plan(validation.Count, options.BatchSize, data.Evaluation, null), data.Evaluation);
            foreach (var batch in prefetch.Batches())
            {
                BetweenBatches();
                using var scope = NewDisposeScope();
                var y = tensor(batch.Labels);
                var logits = model.call(tensor(batch.Images, batch.Shape));
                lossSum += nn.functional.cross_entropy(logits, y, reduction: nn.Reduction.Sum).item<float>();
                correct += logits.argmax(1).eq(y).sum().item<long>();
            }
            return (lossSum / validation.Count, (double)correct / validation.Count);
        }

        private BatchLoader Loader(IImageSource images, IEnumerable<BatchPlan> plans, Augmentation augmentation) =>
            new(images, plans, augmentation, options.PrefetchBatches, options.DecodeThreads, cancellation);

        // Weight decay on convolution and classifier weights only, as is usual for BatchNorm networks.
        private TrainingOptimizer CreateOptimizer(MnasNetModel model) => TrainingOptimizer.Create(
            OptimizerSettings.From(options),
            model.parameters().Where(p => p.dim() > 1).ToArray(),
            model.parameters().Where(p => p.dim() <= 1).ToArray());

        private static string FirstLine(string message) => message.Split('\n', 2)[0].Trim();

        private TrainingResult Failed(TrainingOutcome outcome, string reason) => Result(outcome, reason, 0, null, null);

        private TrainingResult Result(TrainingOutcome outcome, string? reason, double accuracy, double? loss, string? weights) => new(
            outcome, reason, accuracy, loss, _epochs.ToArray(), _stepLosses.ToArray(), _epochs.Count, _imagesSeen,
            _imagesSeen / Math.Max(1e-9, _trainSeconds), _wall.Elapsed.TotalSeconds, weights, _parameters, _macs,
            data.Train.Count, data.Validation.Count, data.Resolution, architecture.Id);
    }
}
