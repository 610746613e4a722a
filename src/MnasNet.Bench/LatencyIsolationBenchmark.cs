using MnasNet.Latency;
using MnasNet.Latency.Backends;
using MnasNet.Latency.Measurement;
using MnasNet.SearchSpace;
using MnasNet.Torch;
using MnasNet.Training.Data;
using MnasNet.Training.Proxy;

namespace MnasNet.Bench;

/// <summary>One way of sharing the host with a trainer, and what it gave.</summary>
public sealed record IsolationRow(string Condition, string Architecture, string Backend, IReadOnlyList<double> MediansMs, double MedianOfMediansMs, double CvOfMedians, double MeanWithinRunCv, double TrainerWaitSeconds);

/// <summary>
/// Repeated measurements with the host idle, then with a proxy trainer busy in this process: unisolated, with the
/// trainer and the measurement pinned to separate cores, and with that plus the quiet window.
/// </summary>
public static class LatencyIsolationBenchmark
{
    public static async Task<IReadOnlyList<IsolationRow>> RunAsync(LatencyBenchmarkSettings settings, IReadOnlyList<int> trainerCores, IReadOnlyList<int> deviceCores,
        IProgress<string>? progress, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(settings);
        var conditions = new (string Name, bool Busy, MeasurementIsolation Isolation)[]
        {
            ("idle", false, MeasurementIsolation.None),
            ("busy trainer", true, MeasurementIsolation.None),
            ("busy, pinned", true, new MeasurementIsolation(deviceCores)),
            ("busy, pinned + quiet", true, new MeasurementIsolation(deviceCores, QuietWindow: true)),
        };
        var protocol = settings.Protocol ?? MeasurementProtocol.Default;
        var options = new NetworkOptions(settings.Resolution);
        var rows = new List<IsolationRow>();
        foreach (var (name, busy, isolation) in conditions)
        {
            using var trainer = busy ? BusyTrainer.Start(isolation.Cores is null ? null : trainerCores, yieldToMeasurements: isolation.QuietWindow) : null;
            foreach (var backendName in settings.Backends)
            {
                await using var backend = LatencyBackends.Create(backendName, settings.Threads, (long)settings.Seed, isolation);
                foreach (var archName in settings.Architectures)
                {
                    var arch = ArchitectureResolver.Resolve(archName);
                    var waitedBefore = QuietWindow.Shared.TrainersWaited;
                    var measured = new List<LatencyMeasurement>();
                    for (var r = 0; r < settings.Repeats; r++)
                    {
                        measured.Add(await backend.MeasureAsync(arch, options, protocol, cancellationToken).ConfigureAwait(false));
                    }
                    var medians = measured.Select(m => m.MedianMs).ToList();
                    var row = new IsolationRow(name, archName, backendName, medians, Statistics.Median(medians), Statistics.CoefficientOfVariation(medians),
                        Statistics.Mean(measured.Select(m => m.Cv).ToList()), (QuietWindow.Shared.TrainersWaited - waitedBefore).TotalSeconds);
                    rows.Add(row);
                    progress?.Report($"{name}: {archName} on {backendName}: median {row.MedianOfMediansMs:F2} ms, CV of {settings.Repeats} medians {row.CvOfMedians:P1}");
                }
            }
        }
        return rows;
    }
}

/// <summary>A proxy trainer (mnasnet-b1 at width 0.5 on seeded 32² images) training in a loop on its own thread until disposed.</summary>
public sealed class BusyTrainer : IDisposable
{
    private readonly CancellationTokenSource _stop = new();
    private readonly Thread _thread;
    private readonly ManualResetEventSlim _firstBatch = new();
    private Exception? _error;

    private BusyTrainer(IReadOnlyList<int>? cores, bool yieldToMeasurements)
    {
        var dataset = SyntheticDataset.Create(2048 + 64, 3, 32, 10, seed: 1);
        var options = new ProxyTrainingOptions
        {
            Epochs = 1,
            BatchSize = 64,
            TrainSize = 2048,
            ValidationSize = 64,
            Width = 0.5,
            Threads = cores?.Count ?? 1,
            Resolution = 32,
            YieldToMeasurements = yieldToMeasurements,
        };
        var arch = ArchitectureResolver.Resolve("mnasnet-b1");
        _thread = new Thread(() =>
        {
            if (cores is not null)
            {
                CpuAffinity.PinCurrentThread(cores);
            }
            var progress = new Progress(_firstBatch);
            while (!_stop.IsCancellationRequested)
            {
                try
                {
                    ProxyTrainer.Train(arch, dataset, options, progress, _stop.Token);
                }
                catch (OperationCanceledException)
                {
                    return;
                }
                catch (Exception e)
                {
                    _error = e;
                    _firstBatch.Set();
                    return;
                }
            }
        })
        { IsBackground = true, Name = "busy-trainer" };
        _thread.Start();
    }

    /// <summary>Starts the trainer and returns once it is training.</summary>
    public static BusyTrainer Start(IReadOnlyList<int>? cores, bool yieldToMeasurements)
    {
        var trainer = new BusyTrainer(cores, yieldToMeasurements);
        trainer._firstBatch.Wait();
        if (trainer._error is { } error)
        {
            trainer.Dispose();
            throw new InvalidOperationException($"the busy trainer failed: {error.Message}", error);
        }
        return trainer;
    }

    public void Dispose()
    {
        _stop.Cancel();
        _thread.Join();
        _stop.Dispose();
        _firstBatch.Dispose();
    }

    private sealed class Progress(ManualResetEventSlim started) : IProgress<TrainingProgress>
    {
        public void Report(TrainingProgress value) => started.Set();
    }
}
