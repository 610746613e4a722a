using MnasNet.Actors.Hosting;
using MnasNet.Actors.Journal;
using MnasNet.Actors.Protocol;
using MnasNet.Actors.Settings;
using MnasNet.Training.Data;

namespace MnasNet.Actors.Tests;

/// <summary>One tiny search with the real backends: TorchSharp proxy training on Fashion-MNIST and ONNX Runtime latency.</summary>
public sealed class RealBackendTests
{
    [Fact]
    public async Task A_tiny_real_search_trains_measures_and_journals_real_records()
    {
        if (!Directory.Exists(DatasetSpec.DefaultFashionMnistDirectory))
        {
            Assert.Skip($"Fashion-MNIST is not installed at {DatasetSpec.DefaultFashionMnistDirectory} (apt-get install dataset-fashion-mnist)");
        }
        using var dir = new TempDir();
        var settings = SettingsValidation.Validate(new SearchSettings
        {
            Id = "real",
            Seed = 3,
            Mode = SearchMode.Real,
            BatchSize = 2,
            Batches = 1,
            Reward = new RewardSettings { Preset = RewardExponents.Soft, TargetMs = 5 },
            Dataset = new DatasetSettings { Spec = "fashion-mnist", TrainSize = 256, ValidationSize = 128 },
            Training = new TrainingSettings { Epochs = 1, BatchSize = 64, Width = 0.25, KeepWeights = true },
            Latency = new LatencySettings { Backend = "onnxruntime", Resolution = 64, Warmup = 1, Runs = 3 },
            Journal = new JournalSettings { Directory = dir.Path, SnapshotEvery = 1 },
            // Trainer and measurement on separate cores, trainers pausing while the device times its runs.
            Workers = new WorkerSettings { Trainers = 1, Devices = 1, TrainerCores = "0", DeviceCores = $"{Environment.ProcessorCount - 1}", QuietMeasurements = true },
        });
        var outcome = await SearchRunner.RunAsync(settings, resume: false);
        Assert.Equal("completed", outcome.Status);

        var events = JournalReader.ReadEvents(dir.Path, "real").Select(e => e.Event).ToList();
        var trained = events.OfType<TrialTrained>().ToList();
        Assert.Equal(2, trained.Count);
        Assert.All(trained, t =>
        {
            Assert.Equal("torchsharp-proxy", t.Record.Backend);
            Assert.InRange(t.Record.Accuracy, 0, 1);
            Assert.Equal(4, t.Record.LossCurve.Count);
            Assert.True(File.Exists(t.Record.WeightsPath), t.Record.WeightsPath);
        });
        var measured = events.OfType<LatencyMeasured>().ToList();
        Assert.Equal(2, measured.Count);
        Assert.All(measured, m =>
        {
            Assert.Equal("onnxruntime", m.Record.Backend);
            Assert.Equal("measured", m.Record.Source);
            Assert.Equal(3, m.Record.SamplesMs.Count);
            Assert.True(m.Record.MedianMs > 0);
            Assert.EndsWith($"; pinned to cores {Environment.ProcessorCount - 1}, local trainers pause while timing", m.Record.Platform, StringComparison.Ordinal);
        });
        Assert.All(events.OfType<RewardComputed>(), r =>
        {
            var t = trained.Single(x => x.TrialId == r.TrialId).Record;
            var m = measured.Single(x => x.TrialId == r.TrialId).Record;
            Assert.Equal(Backends.MnasNetReward.Compute(t.Accuracy, m.MedianMs, 5, -0.07, -0.07, false), r.Inputs);
        });
        Assert.Single(events.OfType<PolicyUpdated>());
    }
}
