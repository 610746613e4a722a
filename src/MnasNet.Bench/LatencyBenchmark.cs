using System.Diagnostics;
using MnasNet.Latency;
using MnasNet.Latency.Backends;
using MnasNet.Latency.Measurement;
using MnasNet.Latency.Table;
using MnasNet.SearchSpace;

namespace MnasNet.Bench;

/// <summary>What <c>mnasnet bench latency</c> measures.</summary>
public sealed record LatencyBenchmarkSettings(
    IReadOnlyList<string> Architectures,
    IReadOnlyList<string> Backends,
    int Resolution = 224,
    int Threads = 1,
    int Repeats = 5,
    MeasurementProtocol? Protocol = null,
    bool Table = true,
    int TableResolution = 224,
    int TableSamples = 50,
    MeasurementProtocol? TableProtocol = null,
    ulong Seed = 1,
    string? TableOut = null,
    int TableCalibrationSamples = 40,
    LatencyEstimator TableEstimator = LatencyEstimator.Median,
    int TableRounds = 3)
{
    /// <summary>The calibration's architectures are drawn with another seed than the evaluation's, so they are held out.</summary>
    public ulong CalibrationSeed => Seed + 1_000_003;

    public static LatencyBenchmarkSettings Default { get; } = new(
        ["mnasnet-a1", "mnasnet-b1", "mobilenet-v2"], [OnnxRuntimeBackend.Name, TorchSharpBackend.Name]);
}

/// <summary>One architecture on one backend, measured <see cref="MediansMs"/>.Count times.</summary>
public sealed record RepeatedMeasurement(
    string Architecture,
    string Backend,
    int Resolution,
    IReadOnlyList<double> MediansMs,
    double MedianOfMediansMs,
    double CvOfMedians,
    double MeanWithinRunCv,
    double SecondsPerMeasurement,
    double TimingSecondsPerMeasurement,
    string Platform);

public sealed record TableBenchmark(int Resolution, int Layers, double BuildSeconds, double CalibrateSeconds, double EvaluateSeconds, TableCorrection? Correction, TableEvaluation Evaluation);

/// <summary>The figures, with the 1-minute load average before and after: other processes on the cores distort them.</summary>
public sealed record LatencyBenchmarkReport(IReadOnlyList<RepeatedMeasurement> Measurements, TableBenchmark? Table, double? LoadBefore, double? LoadAfter);

public static class LatencyBenchmark
{
    public static async Task<LatencyBenchmarkReport> RunAsync(LatencyBenchmarkSettings settings, IProgress<string>? progress = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(settings);
        var loadBefore = PlatformProbe.LoadAverage();
        var protocol = settings.Protocol ?? MeasurementProtocol.Default;
        var options = new NetworkOptions(settings.Resolution);
        var rows = new List<RepeatedMeasurement>();
        foreach (var backendName in settings.Backends)
        {
            await using var backend = LatencyBackends.Create(backendName, settings.Threads, (long)settings.Seed);
            foreach (var name in settings.Architectures)
            {
                var arch = ArchitectureResolver.Resolve(name);
                var medians = new List<double>();
                var cvs = new List<double>();
                var timing = new List<double>();
                var wall = Stopwatch.StartNew();
                for (var r = 0; r < settings.Repeats; r++)
                {
                    var m = await backend.MeasureAsync(arch, options, protocol, cancellationToken).ConfigureAwait(false);
                    medians.Add(m.MedianMs);
                    cvs.Add(m.Cv);
                    timing.Add(m.WallSeconds);
                }
                var row = new RepeatedMeasurement(name, backendName, settings.Resolution, medians, Statistics.Median(medians),
                    Statistics.CoefficientOfVariation(medians), Statistics.Mean(cvs), wall.Elapsed.TotalSeconds / settings.Repeats, Statistics.Mean(timing), backend.Platform.Summary);
                rows.Add(row);
                progress?.Report($"{name} on {backendName}: median {row.MedianOfMediansMs:F2} ms, CV of {settings.Repeats} medians {row.CvOfMedians:P1}, {row.SecondsPerMeasurement:F2} s per measurement ({row.TimingSecondsPerMeasurement:F2} s of it warm-up and timed runs)");
            }
        }
        TableBenchmark? table = null;
        if (settings.Table)
        {
            table = await BenchTableAsync(settings, progress, cancellationToken).ConfigureAwait(false);
        }
        return new LatencyBenchmarkReport(rows, table, loadBefore, PlatformProbe.LoadAverage());
    }

    private static async Task<TableBenchmark> BenchTableAsync(LatencyBenchmarkSettings settings, IProgress<string>? progress, CancellationToken cancellationToken)
    {
        var options = new NetworkOptions(settings.TableResolution);
        var protocol = settings.TableProtocol ?? new MeasurementProtocol(Warmup: 3, Runs: 10);
        await using var device = new OnnxRuntimeBackend(new OnnxRuntimeSettings(settings.Threads, Seed: (long)settings.Seed));
        var layers = LatencyTableBuilder.SearchSpaceLayers(MnasNetSearchSpace.Default, options);
        progress?.Report($"table: measuring {layers.Count} distinct layers of the search space at {options.Resolution}x{options.Resolution} on {device.DeviceId}");
        var build = Stopwatch.StartNew();
        var every = Math.Max(1, layers.Count / 10);
        var table = await LatencyTableBuilder.BuildAsync(device, layers, options, protocol,
            new Progress(p => { if (p.Done % every == 0) { progress?.Report($"  {p.Done}/{p.Total} layers ({build.Elapsed.TotalSeconds:F0} s)"); } }),
            cancellationToken, settings.TableEstimator).ConfigureAwait(false);
        var buildSeconds = build.Elapsed.TotalSeconds;
        var networkProtocol = settings.Protocol ?? new MeasurementProtocol(Warmup: 5, Runs: 20);
        var calibrate = Stopwatch.StartNew();
        if (settings.TableCalibrationSamples > 0)
        {
            progress?.Report($"table: calibrating on {settings.TableCalibrationSamples} random architectures (seed {settings.CalibrationSeed})");
            (table, _) = await LatencyTableCalibrator.CalibrateAsync(table, device, settings.TableCalibrationSamples, settings.CalibrationSeed, networkProtocol,
                cancellationToken: cancellationToken, rounds: settings.TableRounds).ConfigureAwait(false);
        }
        var calibrateSeconds = calibrate.Elapsed.TotalSeconds;
        if (settings.TableOut is { } path)
        {
            table.Save(path);
            progress?.Report($"table: wrote {path}");
        }
        var evaluate = Stopwatch.StartNew();
        var evaluation = await LatencyTableEvaluator.EvaluateAsync(table, device, settings.TableSamples, settings.Seed, networkProtocol,
            cancellationToken: cancellationToken, rounds: settings.TableRounds).ConfigureAwait(false);
        progress?.Report($"table: MAPE {evaluation.MapePercent:F1}%, Kendall tau {evaluation.KendallTau:F3} on {evaluation.HeldOut} held-out random architectures, " +
            $"{evaluation.ScaledMapePercent:F1}% with the device's speed factored out (× {evaluation.SpeedFactor:F3}) " +
            $"(per-layer sum alone: MAPE {evaluation.TableSumMapePercent:F1}%, tau {evaluation.TableSumKendallTau:F3})");
        return new TableBenchmark(options.Resolution, table.Entries.Count, buildSeconds, calibrateSeconds, evaluate.Elapsed.TotalSeconds, table.Correction, evaluation);
    }

    private sealed class Progress(Action<TableBuildProgress> report) : IProgress<TableBuildProgress>
    {
        public void Report(TableBuildProgress value) => report(value);
    }
}
