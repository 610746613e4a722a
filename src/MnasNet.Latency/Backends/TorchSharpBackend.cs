using MnasNet.Latency.Measurement;
using MnasNet.Latency.Onnx;
using MnasNet.SearchSpace;
using MnasNet.Torch;
using MnasNet.Training.Models;
using TorchSharp;
using static TorchSharp.torch;

namespace MnasNet.Latency.Backends;

/// <summary>TorchSharp eager settings. libtorch's intra-op thread count is process-wide: the backend sets it per measurement.</summary>
public sealed record TorchSharpSettings(int Threads = 1, long Seed = 0, int LayerCacheEvictionBytes = 4 << 20)
{
    public TorchSharpSettings Validate()
    {
        if (Threads < 1)
        {
            throw new ArgumentException($"TorchSharp threads must be at least 1, got {Threads}");
        }
        return this;
    }
}

/// <summary>
/// Eager TorchSharp inference for comparison with ONNX Runtime: the module in eval mode under
/// <c>inference_mode</c>, one dispose scope per run, same protocol.
/// </summary>
public sealed class TorchSharpBackend : ILayerLatencyBackend
{
    public const string Name = "torchsharp";

    private readonly DeviceGate _gate;
    private readonly ResolutionLimits _limits;

    public TorchSharpSettings Settings { get; }

    public string DeviceId { get; }

    public PlatformDescription Platform { get; }

    /// <param name="isolation">Cores and quiet window of the timing thread (default: none).</param>
    public TorchSharpBackend(TorchSharpSettings? settings = null, string? deviceId = null, ResolutionLimits? limits = null, MeasurementIsolation? isolation = null)
    {
        _gate = new DeviceGate(isolation);
        Settings = (settings ?? new TorchSharpSettings()).Validate();
        _limits = limits ?? ResolutionLimits.Default;
        TorchRuntime.EnsureLoaded();
        DeviceId = deviceId ?? $"{Environment.MachineName}/{Name}/t{Settings.Threads}";
        Platform = PlatformProbe.Host(Name, LatencySource.Measured, Settings.Threads,
            new Dictionary<string, string>
            {
                ["torchsharp"] = typeof(torch).Assembly.GetName().Version?.ToString(3) ?? "unknown",
                ["libtorch"] = TorchRuntime.LibTorchVersion,
            },
            "eager, eval mode, inference_mode");
        Platform = _gate.Isolation.Describe(Platform);
    }

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
            TorchRuntime.EnsureLoaded(Settings.Threads);
            using var scope = NewDisposeScope();
            TorchRuntime.Seed(Settings.Seed);
            using var model = MnasNetModel.Build(architecture, options);
            RandomWeights.CalibrateBatchNorm(model, RandomWeights.InputShape(options), Settings.Seed);
            var timed = Time(model, [1, options.InputChannels, options.Resolution, options.Resolution], protocol, cancellationToken);
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
            TorchRuntime.EnsureLoaded(Settings.Threads);
            using var scope = NewDisposeScope();
            TorchRuntime.Seed(Settings.Seed);
            using var module = layer.BuildModule();
            RandomWeights.CalibrateBatchNorm(module, layer.InputShape, Settings.Seed);
            var timed = Time(module, layer.InputShape, protocol, cancellationToken, MeasurementRunner.CacheEvictor(Settings.LayerCacheEvictionBytes));
            return LatencyMeasurements.Create(layer.Key, layer.Cost.InputSize, DeviceId, Platform, protocol, timed, started, load);
        }, cancellationToken);
    }

    public Task<double> MeasureCallOverheadMsAsync(MeasurementProtocol protocol, CancellationToken cancellationToken = default)
    {
        protocol.Validate();
        return _gate.RunAsync(() =>
        {
            TorchRuntime.EnsureLoaded(Settings.Threads);
            using var scope = NewDisposeScope();
            using var module = nn.Identity();
            return SampleStatistics.Of(Time(module, [1, 1, 1, 1], protocol, cancellationToken).SamplesMs).MedianMs;
        }, cancellationToken);
    }

    private TimedRuns Time(nn.Module<Tensor, Tensor> module, long[] inputShape, MeasurementProtocol protocol, CancellationToken cancellationToken, Action? beforeEachRun = null)
    {
        module.eval();
        using var generator = new Generator((ulong)Settings.Seed);
        using var input = randn(inputShape, generator: generator);
        // inference_mode is thread-local: it is entered on the thread that runs the timing loop.
        using var inference = inference_mode();
        return MeasurementRunner.Run(protocol, () => MeasurementRunner.Time(() =>
        {
            using var runScope = NewDisposeScope();
            module.call(input);
        }), cancellationToken, beforeEachRun: beforeEachRun, quietWindow: _gate.Isolation.QuietWindow);
    }

    public ValueTask DisposeAsync()
    {
        _gate.Dispose();
        return ValueTask.CompletedTask;
    }
}
