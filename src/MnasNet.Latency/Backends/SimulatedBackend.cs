using MnasNet.Latency.Measurement;
using MnasNet.SearchSpace;

namespace MnasNet.Latency.Backends;

/// <summary>
/// The analytic device. A layer costs MACs / <see cref="MacsPerMs"/> + bytes moved / <see cref="BytesPerMs"/> +
/// <see cref="OverheadPerOpMs"/> per operator; a network adds <see cref="CallOverheadMs"/> once. Each sample is the
/// model's time times log-normal noise of coefficient of variation ≈ <see cref="NoiseCv"/>, drawn from a generator
/// seeded by (<see cref="Seed"/>, architecture id, resolution, run), so the same inputs give the same samples.
/// Defaults are of the order of ONNX Runtime on one core of this kind of machine. With <see cref="Model"/> =
/// <see cref="SimulatedModel.Surrogate"/> a layer costs instead what <see cref="AnalyticLatency.Default"/> says and a
/// network nothing more: the latency the simulated device of a simulated search reports (at 224×224, its resolution),
/// so a table built on it predicts a simulated search's device.
/// </summary>
public sealed record SimulatedSettings(
    double MacsPerMs = 20e6,
    double BytesPerMs = 8e6,
    double OverheadPerOpMs = 0.004,
    double CallOverheadMs = 0.01,
    double NoiseCv = 0.03,
    ulong Seed = 0,
    int Threads = 1,
    SimulatedModel Model = SimulatedModel.Device)
{
    /// <summary>The settings of <see cref="SimulatedModel.Surrogate"/>: no call overhead.</summary>
    public static SimulatedSettings Surrogate(double noiseCv, ulong seed, int threads = 1) =>
        new(CallOverheadMs: 0, NoiseCv: noiseCv, Seed: seed, Threads: threads, Model: SimulatedModel.Surrogate);

    public SimulatedSettings Validate()
    {
        if (!(MacsPerMs > 0) || !(BytesPerMs > 0) || OverheadPerOpMs < 0 || CallOverheadMs < 0)
        {
            throw new ArgumentException("simulated device: throughputs must be positive and overheads non-negative");
        }
        if (!(NoiseCv >= 0 && NoiseCv < 1))
        {
            throw new ArgumentException($"simulated device: noise must be in [0, 1), got {NoiseCv}");
        }
        if (Threads < 1)
        {
            throw new ArgumentException($"simulated device: threads must be at least 1, got {Threads}");
        }
        return this;
    }
}

/// <summary>Which analytic model a <see cref="SimulatedBackend"/> times.</summary>
public enum SimulatedModel
{
    /// <summary>MACs, bytes moved and operators against the device's throughputs (<see cref="SimulatedSettings"/>).</summary>
    Device,

    /// <summary>The simulated searches' latency: <see cref="AnalyticLatency.Default"/> per layer.</summary>
    Surrogate,
}

/// <summary>Latency from <see cref="SimulatedSettings"/>'s analytic model; labelled simulated in its platform.</summary>
public sealed class SimulatedBackend : ILayerLatencyBackend
{
    public const string Name = "simulated";

    private readonly ResolutionLimits _limits;

    public SimulatedSettings Settings { get; }

    public string DeviceId { get; }

    public PlatformDescription Platform { get; }

    public SimulatedBackend(SimulatedSettings? settings = null, string? deviceId = null, ResolutionLimits? limits = null)
    {
        Settings = (settings ?? new SimulatedSettings()).Validate();
        _limits = limits ?? ResolutionLimits.Default;
        DeviceId = deviceId ?? $"simulated/seed{Settings.Seed}";
        var s = Settings;
        Platform = new PlatformDescription(Name, LatencySource.Simulated, s.Threads, "simulated CPU", s.Threads, "none", "analytic model",
            new Dictionary<string, string>(), Governor: null,
            Details: s.Model == SimulatedModel.Surrogate
                ? FormattableString.Invariant($"SIMULATED: the simulated searches' surrogate latency ({AnalyticLatency.Default.MacsPerMs / 1e6:G4} GMAC/s + per-layer overheads), noise CV {s.NoiseCv:G3}, seed {s.Seed}")
                : FormattableString.Invariant(
                    $"SIMULATED: {s.MacsPerMs / 1e6:G4} GMAC/s, {s.BytesPerMs / 1e6:G4} GB/s, {s.OverheadPerOpMs * 1000:G4} µs/op, {s.CallOverheadMs * 1000:G4} µs/call, noise CV {s.NoiseCv:G3}, seed {s.Seed}"));
    }

    /// <summary>The noise-free model of a network, in milliseconds.</summary>
    public double ExpectedMs(Architecture architecture, NetworkOptions options) =>
        Settings.CallOverheadMs + CostModel.Compute(architecture, options).Layers.Sum(LayerMs);

    /// <summary>The noise-free model of one layer (no call overhead), in milliseconds.</summary>
    public double LayerMs(LayerCost layer)
    {
        ArgumentNullException.ThrowIfNull(layer);
        if (Settings.Model == SimulatedModel.Surrogate)
        {
            return AnalyticLatency.Default.Layer(layer);
        }
        var traffic = CostModel.Traffic(layer);
        return layer.Macs / Settings.MacsPerMs + (traffic.ActivationElements + layer.Params) * sizeof(float) / Settings.BytesPerMs + traffic.Ops * Settings.OverheadPerOpMs;
    }

    public Task<LatencyMeasurement> MeasureAsync(Architecture architecture, NetworkOptions options, MeasurementProtocol protocol, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(architecture);
        ArgumentNullException.ThrowIfNull(options);
        protocol.Validate();
        _limits.Check(architecture, options);
        var expected = ExpectedMs(architecture, options);
        return Task.FromResult(Simulate(architecture.Id, options.Resolution, $"{architecture.Id}@{options.Resolution}/{options.Width}/{options.Classes}", expected, protocol, cancellationToken));
    }

    public Task<LatencyMeasurement> MeasureLayerAsync(LayerConfiguration layer, MeasurementProtocol protocol, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(layer);
        protocol.Validate();
        return Task.FromResult(Simulate(layer.Key, layer.Cost.InputSize, layer.Key, Settings.CallOverheadMs + LayerMs(layer.Cost), protocol, cancellationToken));
    }

    public Task<double> MeasureCallOverheadMsAsync(MeasurementProtocol protocol, CancellationToken cancellationToken = default) =>
        Task.FromResult(Settings.CallOverheadMs);

    private LatencyMeasurement Simulate(string modelId, int resolution, string noiseKey, double expectedMs, MeasurementProtocol protocol, CancellationToken cancellationToken)
    {
        var random = new SeededRandom(SeededRandom.Derive(Settings.Seed, noiseKey));
        // Log-normal with E = 1 and CV = NoiseCv: σ² = ln(1 + CV²), μ = −σ²/2.
        var sigma = Math.Sqrt(Math.Log(1 + Settings.NoiseCv * Settings.NoiseCv));
        double Sample() => expectedMs * Math.Exp(sigma * random.NextGaussian() - sigma * sigma / 2);
        var timed = MeasurementRunner.Run(protocol, Sample, cancellationToken, virtualTime: true);
        return LatencyMeasurements.Create(modelId, resolution, DeviceId, Platform, protocol, timed with { WallSeconds = 0 }, DateTimeOffset.UnixEpoch);
    }

    public ValueTask DisposeAsync() => ValueTask.CompletedTask;
}
