using MnasNet.Actors.Protocol;
using MnasNet.Actors.Settings;
using MnasNet.Latency;
using MnasNet.Latency.Backends;
using MnasNet.Latency.Measurement;
using MnasNet.SearchSpace;
using MnasNet.Training.Data;
using MnasNet.Training.Proxy;

namespace MnasNet.Actors.Backends;

/// <summary>Real proxy training with MnasNet.Training's ProxyTrainer (TorchSharp), off the caller's thread.</summary>
/// <param name="finalDataset">The dataset final training asks for (spec, resolution), loaded once and shared; null: loaded per run.</param>
public sealed class ProxyTrainerBackend(SearchSettings settings, MnasNetSearchSpace space, Lazy<Dataset> dataset, string? weightsDirectory,
    Func<string, int?, Dataset>? finalDataset = null) : ITrainerBackend
{
    public string Name => "torchsharp-proxy";

    private readonly IReadOnlyList<int>? _cores = SettingsValidation.Cores(settings.Workers.TrainerCores, "workers.trainerCores");

    // A thread of its own: pinned for its life (libtorch's OpenMP team it starts inherits the cores), never a pool thread.
    public Task<TrainingRecord> TrainAsync(WorkOffer work, CancellationToken cancellationToken) => Task.Factory.StartNew(() =>
    {
        if (_cores is not null)
        {
            MnasNet.Torch.CpuAffinity.PinCurrentThread(_cores);
        }
        var arch = space.Decode(work.Tokens);
        var weights = weightsDirectory is null ? null : Path.Combine(weightsDirectory, $"trial-{work.TrialId}.pt");
        var trial = new ProxyTrainingOptions
        {
            Width = settings.Training.Width,
            Seed = work.Seed,
            SplitSeed = settings.Seed,
            Threads = settings.Threads,
            TrainSize = settings.Dataset.TrainSize,
            ValidationSize = settings.Dataset.ValidationSize,
            Resolution = settings.Dataset.Resolution,
            WeightsPath = weights,
            YieldToMeasurements = settings.Workers.QuietMeasurements,
        };
        var options = settings.Training.Recipe is { } recipe
            ? recipe.ApplyTo(trial)
            : trial with { Epochs = settings.Training.Epochs, BatchSize = settings.Training.BatchSize, LearningRate = settings.Training.LearningRate };
        TrainingResult result;
        try
        {
            result = ProxyTrainer.Train(arch, dataset.Value, options, cancellation: cancellationToken);
        }
        catch (Exception e) when (e is TrainingConfigurationException or DatasetException or ArchitectureException)
        {
            throw new TrialFailureException($"training could not run: {e.Message}");
        }
        if (!result.Succeeded)
        {
            throw new TrialFailureException($"training {result.Outcome}: {result.FailureReason}");
        }
        return new TrainingRecord(Name, result.ValAccuracy, result.ValLoss, result.StepLosses, result.EpochsCompleted, result.Seconds,
            result.TrainImagesPerSecond, result.Parameters, result.Macs, result.WeightsPath, work.Seed);
    }, cancellationToken, TaskCreationOptions.LongRunning, TaskScheduler.Default);

    public Task<FinalTrainingRecord> TrainFinalAsync(WorkOffer work, Action<FinalEpoch> onEpoch, Func<int> journaledEpoch, CancellationToken cancellationToken) => Task.Run(() =>
    {
        var job = work.Final ?? throw new TrialFailureException($"final-training offer for trial {work.TrialId} carries no job");
        var arch = space.Decode(work.Tokens);
        TrainingResult result;
        Dataset data;
        try
        {
            var recipe = TrainingRecipe.Parse(job.RecipeJson, "final-training recipe") with { Epochs = job.Epochs };
            var options = recipe.Validate().ApplyTo(new ProxyTrainingOptions
            {
                Width = settings.Training.Width,
                Seed = work.Seed,
                SplitSeed = settings.Seed,
                Threads = settings.Threads,
                TrainSize = job.TrainSize,
                Resolution = job.Resolution,
            });
            data = finalDataset?.Invoke(job.Dataset, job.Resolution) ?? DatasetSpec.Parse(job.Dataset).Load(job.Resolution);
            var checkpoints = new CheckpointPlan(job.CheckpointDirectory, Checkpoint(job.ResumeFrom), Checkpoint(job.Best), (m, c) => onEpoch(new FinalEpoch(
                m.Epoch, m.TrainLoss, m.TrainAccuracy, m.ValidationLoss, m.ValidationAccuracy, m.LearningRate, m.Seconds, c.Path, c.Sha256)), journaledEpoch);
            result = ProxyTrainer.Train(arch, ProxyTrainer.PrepareFinalData(data, options), data.Classes, options, cancellation: cancellationToken, checkpoints: checkpoints);
        }
        catch (Exception e) when (e is TrainingConfigurationException or DatasetException or ArchitectureException)
        {
            throw new TrialFailureException($"final training could not run: {e.Message}");
        }
        if (!result.Succeeded)
        {
            throw new TrialFailureException($"final training {result.Outcome}: {result.FailureReason}");
        }
        // Curve and best epoch: the controller fills them in from the journaled epochs.
        return new FinalTrainingRecord(Name, result.EpochsCompleted, result.ValAccuracy, result.ValAccuracy, 0, "", "", [], [], result.Parameters, result.Macs,
            result.Resolution, data.Channels, data.Classes, settings.Training.Width, result.TrainCount, result.ValidationCount, result.Seconds, work.Seed, MnasNet.Controller.ComputePlatform.Current(settings.Threads).ToString());
    }, cancellationToken);

    private static EpochCheckpoint? Checkpoint(FinalEpoch? e) => e is null ? null : new EpochCheckpoint(e.Epoch, e.Accuracy, e.Checkpoint, e.CheckpointSha256);

    public void Dispose()
    {
    }
}

/// <summary>
/// Real latency on the host (MnasNet.Latency): ONNX Runtime or TensorFlow Lite, the full ImageNet-shaped network at
/// the search's latency resolution, batch 1.
/// </summary>
public sealed class HostDeviceBackend : IDeviceBackend
{
    private readonly SearchSettings _settings;
    private readonly MnasNetSearchSpace _space;
    private readonly ILatencyBackend _backend;

    /// <summary>
    /// <paramref name="platform"/>: the device's platform (backend, and for tflite <c>xnnpack=on|off</c>); the
    /// thread count is the settings' (a device node passes its platform's).
    /// </summary>
    public HostDeviceBackend(SearchSettings settings, MnasNetSearchSpace space, int index, DevicePlatform? platform = null)
    {
        (_settings, _space) = (settings, space);
        platform ??= DevicePlatform.Parse(settings.Latency.Backend);
        Name = platform.Backend;
        var id = $"{Environment.MachineName}/{Name}/t{settings.Threads}";
        var isolation = new MeasurementIsolation(SettingsValidation.Cores(settings.Workers.DeviceCores, "workers.deviceCores"), settings.Workers.QuietMeasurements);
        _backend = platform.Backend switch
        {
            OnnxRuntimeBackend.Name => new OnnxRuntimeBackend(new OnnxRuntimeSettings(IntraOpThreads: settings.Threads), deviceId: $"{id}/{index}", isolation: isolation),
            TfliteBackend.Name => new TfliteBackend(new TfliteSettings(settings.Threads, platform.XnnPack), deviceId: $"{id}{(platform.XnnPack ? "" : "/no-xnnpack")}/{index}", isolation: isolation),
            _ => throw new SettingsException($"device platform '{platform}' is not a host backend (expected {OnnxRuntimeBackend.Name} or {TfliteBackend.Name})"),
        };
    }

    public string Name { get; }

    public string DeviceId => _backend.DeviceId;

    public async Task<LatencyRecord> MeasureAsync(WorkOffer work, CancellationToken cancellationToken)
    {
        MnasNet.Torch.TorchRuntime.EnsureLoaded(_settings.Threads);
        var options = new NetworkOptions(Resolution: _settings.Latency.Resolution);
        LatencyMeasurement m;
        try
        {
            m = await _backend.MeasureAsync(_space.Decode(work.Tokens), options, new MeasurementProtocol(_settings.Latency.Warmup, _settings.Latency.Runs), cancellationToken);
        }
        catch (Exception e) when (e is LatencyException or ArchitectureException or ArgumentException)
        {
            throw new TrialFailureException($"latency measurement failed: {e.Message}");
        }
        var s = m.Statistics;
        return new LatencyRecord(Name, m.Platform.Source.ToString().ToLowerInvariant(), m.DeviceId, m.Platform.Summary, m.Threads, m.Resolution,
            m.Warmup, m.Runs, m.StopReason.ToString(), s.MedianMs, s.MeanMs, s.P90Ms, s.MinMs, s.MaxMs, s.StdMs, s.Cv, s.OutlierCount,
            m.SamplesMs, m.WallSeconds, work.Seed);
    }

    public ValueTask DisposeAsync() => _backend.DisposeAsync();
}

/// <summary>The real backends (mode = real): one dataset load shared by the trainers.</summary>
public sealed class RealBackendFactory : IBackendFactory
{
    private readonly SearchSettings _settings;
    private readonly MnasNetSearchSpace _space;
    private readonly Lazy<Dataset> _dataset;
    private readonly string? _weights;

    public RealBackendFactory(SearchSettings settings, MnasNetSearchSpace space, string journalDirectory)
    {
        _settings = settings;
        _space = space;
        var spec = DatasetSpec.Parse(settings.Dataset.Spec);
        _dataset = new Lazy<Dataset>(() => spec.Load(settings.Dataset.Resolution), LazyThreadSafetyMode.ExecutionAndPublication);
        _weights = settings.Training.KeepWeights ? Path.Combine(journalDirectory, $"{settings.Id}.weights") : null;
    }

    /// <summary>Loads the dataset now so a missing dataset is reported at start, not per trial.</summary>
    public void Preload() => _ = _dataset.Value;

    public ITrainerBackend CreateTrainer(int index) => new ProxyTrainerBackend(_settings, _space, _dataset, _weights, FinalDataset);

    private readonly System.Collections.Concurrent.ConcurrentDictionary<(string Spec, int? Resolution), Lazy<Dataset>> _finalDatasets = new();

    /// <summary>A final-training dataset, loaded once for every trainer of this process.</summary>
    public Dataset FinalDataset(string spec, int? resolution) => _finalDatasets.GetOrAdd((spec, resolution),
        key => new Lazy<Dataset>(() => DatasetSpec.Parse(key.Spec).Load(key.Resolution), LazyThreadSafetyMode.ExecutionAndPublication)).Value;

    public IDeviceBackend CreateDevice(int index) =>
        SettingsValidation.BackendName(_settings.Latency.Backend) == DevicePlatform.Adb
            ? PhoneDeviceBackend.Connect(_settings, _space, PhoneDeviceBackend.SettingsOf(_settings.Latency.Backend, _settings.Threads))
            : new HostDeviceBackend(_settings, _space, index);
}

/// <summary>
/// A simulated search's backends whose trainers train finalists for real, as <c>mnasnet train-final</c> does on one
/// node: a cluster's trainer nodes serve simulated searches with this, so their final training runs there too. The
/// real backends are made on the first final-training offer (a simulated search's dataset is never read otherwise).
/// </summary>
public sealed class WithRealFinalTraining(IBackendFactory search, Func<RealBackendFactory> final) : IBackendFactory
{
    private readonly Lazy<RealBackendFactory> _final = new(final, LazyThreadSafetyMode.ExecutionAndPublication);

    public ITrainerBackend CreateTrainer(int index) => new Trainer(search.CreateTrainer(index), new Lazy<ITrainerBackend>(() => _final.Value.CreateTrainer(index)));

    public IDeviceBackend CreateDevice(int index) => search.CreateDevice(index);

    private sealed class Trainer(ITrainerBackend proxy, Lazy<ITrainerBackend> final) : ITrainerBackend
    {
        public string Name => proxy.Name;

        public Task<TrainingRecord> TrainAsync(WorkOffer work, CancellationToken cancellationToken) => proxy.TrainAsync(work, cancellationToken);

        public Task<FinalTrainingRecord> TrainFinalAsync(WorkOffer work, Action<FinalEpoch> onEpoch, Func<int> journaledEpoch, CancellationToken cancellationToken) =>
            final.Value.TrainFinalAsync(work, onEpoch, journaledEpoch, cancellationToken);

        public void Dispose()
        {
            proxy.Dispose();
            if (final.IsValueCreated)
            {
                final.Value.Dispose();
            }
        }
    }
}
