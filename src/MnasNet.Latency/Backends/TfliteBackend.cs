using MnasNet.Latency.Measurement;
using MnasNet.Latency.Tflite;
using MnasNet.SearchSpace;

namespace MnasNet.Latency.Backends;

/// <summary>
/// TensorFlow Lite interpreter settings. Defaults follow the paper (one thread) and current TFLite (the XNNPACK
/// delegate runs float graphs). <paramref name="LayerCacheEvictionBytes"/>: as for ONNX Runtime, written before each
/// run when timing a single layer for a table; 0 turns it off.
/// </summary>
public sealed record TfliteSettings(int Threads = 1, bool XnnPack = true, long Seed = 0, int LayerCacheEvictionBytes = 4 << 20)
{
    public TfliteSettings Validate()
    {
        if (Threads < 1)
        {
            throw new ArgumentException($"TFLite threads must be at least 1, got {Threads}");
        }
        return this;
    }

    public TfliteInterpreterSettings Interpreter => new(Threads, XnnPack);
}

/// <summary>
/// TensorFlow Lite on the host: exports the architecture to .tflite (BatchNorm folded, seeded random weights, the
/// same weights as the ONNX export), opens an interpreter (threads, XNNPACK delegate) through the TFLite 2.9 C
/// library and times <c>Invoke</c> on a batch-1 input with the shared measurement protocol.
/// </summary>
public sealed class TfliteBackend : ILayerLatencyBackend
{
    public const string Name = "tflite";

    private readonly DeviceGate _gate;
    private readonly ResolutionLimits _limits;

    public TfliteSettings Settings { get; }

    public string DeviceId { get; }

    public PlatformDescription Platform { get; }

    /// <summary>Throws <see cref="TfliteLibraryNotFoundException"/> (naming deploy/setup.sh) when the library is missing.</summary>
    /// <param name="isolation">Cores and quiet window of the timing thread (default: none).</param>
    public TfliteBackend(TfliteSettings? settings = null, string? deviceId = null, ResolutionLimits? limits = null, MeasurementIsolation? isolation = null)
    {
        _gate = new DeviceGate(isolation);
        Settings = (settings ?? new TfliteSettings()).Validate();
        _limits = limits ?? ResolutionLimits.Default;
        var version = TfliteInterpreter.Version;
        DeviceId = deviceId ?? $"{Environment.MachineName}/{Name}/t{Settings.Threads}{(Settings.XnnPack ? "" : "/no-xnnpack")}";
        Platform = PlatformProbe.Host(Name, LatencySource.Measured, Settings.Threads,
            new Dictionary<string, string> { ["tflite"] = version },
            $"xnnpack {OnOff(Settings.XnnPack)}, float32 NHWC, C library {TfliteInterpreter.LibraryPath}, " +
            $"single-layer runs evict {Settings.LayerCacheEvictionBytes / 1024} KiB of cache first");
        Platform = _gate.Isolation.Describe(Platform);
    }

    public static string OnOff(bool value) => value ? "on" : "off";

    public Task<LatencyMeasurement> MeasureAsync(Architecture architecture, NetworkOptions options, MeasurementProtocol protocol, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(architecture);
        ArgumentNullException.ThrowIfNull(options);
        protocol.Validate();
        _limits.Check(architecture, options);
        return _gate.RunAsync(() =>
        {
            var started = DateTimeOffset.UtcNow;
            var load = PlatformProbe.LoadAverage();
            var timed = Time(TfliteExporter.Export(architecture, options, Settings.Seed), protocol, cancellationToken);
            return LatencyMeasurements.Create(architecture.Id, options.Resolution, DeviceId, Platform, protocol, timed, started, load);
        }, cancellationToken);
    }

    public Task<LatencyMeasurement> MeasureLayerAsync(LayerConfiguration layer, MeasurementProtocol protocol, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(layer);
        protocol.Validate();
        return _gate.RunAsync(() =>
        {
            var started = DateTimeOffset.UtcNow;
            var load = PlatformProbe.LoadAverage();
            var timed = Time(TfliteExporter.ExportLayer(layer, Settings.Seed), protocol, cancellationToken, MeasurementRunner.CacheEvictor(Settings.LayerCacheEvictionBytes));
            return LatencyMeasurements.Create(layer.Key, layer.Cost.InputSize, DeviceId, Platform, protocol, timed, started, load);
        }, cancellationToken);
    }

    public Task<double> MeasureCallOverheadMsAsync(MeasurementProtocol protocol, CancellationToken cancellationToken = default)
    {
        protocol.Validate();
        return _gate.RunAsync(() => SampleStatistics.Of(Time(TfliteExporter.ExportIdentity(), protocol, cancellationToken).SamplesMs).MedianMs, cancellationToken);
    }

    private TimedRuns Time(byte[] model, MeasurementProtocol protocol, CancellationToken cancellationToken, Action? beforeEachRun = null)
    {
        using var interpreter = new TfliteInterpreter(model, Settings.Interpreter);
        interpreter.SetInput(OnnxInference.RandomInput([interpreter.InputLength], Settings.Seed));
        return MeasurementRunner.Run(protocol, () => MeasurementRunner.Time(interpreter.Invoke), cancellationToken, beforeEachRun: beforeEachRun, quietWindow: _gate.Isolation.QuietWindow);
    }

    public ValueTask DisposeAsync()
    {
        _gate.Dispose();
        return ValueTask.CompletedTask;
    }
}
