using Microsoft.ML.OnnxRuntime;
using MnasNet.Latency.Measurement;
using MnasNet.Latency.Onnx;
using MnasNet.SearchSpace;
using MnasNet.Torch;
using TorchSharp;

namespace MnasNet.Latency.Backends;

/// <summary>
/// ONNX Runtime session settings. Defaults follow the paper's single big core: one intra-op thread.
/// <paramref name="LayerCacheEvictionBytes"/>: written before each run when timing a single layer for a table
/// (see <see cref="MeasurementRunner.CacheEvictor"/>); 0 turns it off.
/// </summary>
public sealed record OnnxRuntimeSettings(int IntraOpThreads = 1, int InterOpThreads = 1, bool GraphOptimizations = true, long Seed = 0, int LayerCacheEvictionBytes = 4 << 20)
{
    public OnnxRuntimeSettings Validate()
    {
        if (IntraOpThreads < 1 || InterOpThreads < 1)
        {
            throw new ArgumentException($"ONNX Runtime threads must be at least 1 (intra {IntraOpThreads}, inter {InterOpThreads})");
        }
        return this;
    }
}

/// <summary>
/// The default host backend: exports the architecture to ONNX (BatchNorm folded, seeded random weights), opens a
/// session with sequential execution, the configured intra-op threads and all graph optimisations, then times
/// <c>Run</c> on a batch-1 input with a pre-allocated output.
/// </summary>
public sealed class OnnxRuntimeBackend : ILayerLatencyBackend
{
    public const string Name = "onnxruntime";

    private readonly DeviceGate _gate;
    private readonly ResolutionLimits _limits;

    public OnnxRuntimeSettings Settings { get; }

    public string DeviceId { get; }

    public PlatformDescription Platform { get; }

    /// <param name="isolation">Cores and quiet window of the timing thread (default: none).</param>
    public OnnxRuntimeBackend(OnnxRuntimeSettings? settings = null, string? deviceId = null, ResolutionLimits? limits = null, MeasurementIsolation? isolation = null)
    {
        _gate = new DeviceGate(isolation);
        Settings = (settings ?? new OnnxRuntimeSettings()).Validate();
        _limits = limits ?? ResolutionLimits.Default;
        DeviceId = deviceId ?? $"{Environment.MachineName}/{Name}/t{Settings.IntraOpThreads}";
        Platform = PlatformProbe.Host(Name, LatencySource.Measured, Settings.IntraOpThreads,
            new Dictionary<string, string> { ["onnxruntime"] = OrtEnv.Instance().GetVersionString() },
            $"inter-op {Settings.InterOpThreads}, sequential, graph optimisations {(Settings.GraphOptimizations ? "all" : "off")}, " +
            $"single-layer runs evict {Settings.LayerCacheEvictionBytes / 1024} KiB of cache first");
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
            var model = OnnxExporter.ToBytes(OnnxExporter.Export(architecture, options, Settings.Seed));
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
            var model = OnnxExporter.ToBytes(ExportLayer(layer, Settings.Seed));
            var timed = Time(model, layer.InputShape, protocol, cancellationToken, MeasurementRunner.CacheEvictor(Settings.LayerCacheEvictionBytes));
            return LatencyMeasurements.Create(layer.Key, layer.Cost.InputSize, DeviceId, Platform, protocol, timed, started, load);
        }, cancellationToken);
    }

    public Task<double> MeasureCallOverheadMsAsync(MeasurementProtocol protocol, CancellationToken cancellationToken = default)
    {
        protocol.Validate();
        return _gate.RunAsync(() =>
        {
            var timed = Time(OnnxExporter.ToBytes(OnnxExporter.ExportIdentity()), [1, 1, 1, 1], protocol, cancellationToken);
            return SampleStatistics.Of(timed.SamplesMs).MedianMs;
        }, cancellationToken);
    }

    /// <summary>One layer alone as an ONNX model (seeded default weights).</summary>
    public static global::Onnx.ModelProto ExportLayer(LayerConfiguration layer, long seed = 0) =>
        RandomWeights.WithLayerModule(layer, seed, module => module switch
        {
            Training.Models.ConvBnAct stem => OnnxExporter.ExportConvBnAct(stem, layer.Cost.InputSize, globalPool: false, layer.Key),
            LayerConfiguration.PooledConv head => OnnxExporter.ExportConvBnAct(head.conv, layer.Cost.InputSize, globalPool: true, layer.Key),
            LayerConfiguration.FlattenLinear classifier => OnnxExporter.ExportClassifier(classifier.linear, layer.Key),
            Training.Models.MnasNetLayer blockLayer => OnnxExporter.ExportLayer(blockLayer),
            _ => throw new InvalidOperationException($"no ONNX export for {module.GetType().Name}"),
        });

    private TimedRuns Time(byte[] model, long[] inputShape, MeasurementProtocol protocol, CancellationToken cancellationToken, Action? beforeEachRun = null)
    {
        using var session = OnnxInference.OpenSession(model, Settings);
        var input = OnnxInference.RandomInput(inputShape, Settings.Seed);
        using var inputValue = OrtValue.CreateTensorValueFromMemory(input, inputShape);
        var outputMeta = session.OutputMetadata.Single();
        var outputShape = outputMeta.Value.Dimensions.Select(d => (long)Math.Max(1, d)).ToArray();
        var output = new float[outputShape.Aggregate(1L, (a, b) => a * b)];
        using var outputValue = OrtValue.CreateTensorValueFromMemory(output, outputShape);
        using var runOptions = new RunOptions();
        string[] inputNames = [session.InputMetadata.Keys.Single()];
        string[] outputNames = [outputMeta.Key];
        OrtValue[] inputs = [inputValue];
        OrtValue[] outputs = [outputValue];
        try
        {
            return MeasurementRunner.Run(protocol, () => MeasurementRunner.Time(() => session.Run(runOptions, inputNames, inputs, outputNames, outputs)), cancellationToken, beforeEachRun: beforeEachRun, quietWindow: _gate.Isolation.QuietWindow);
        }
        catch (OnnxRuntimeException e)
        {
            throw new LatencyBackendException($"ONNX Runtime failed to run the model: {e.Message}", transient: false, e);
        }
    }

    public ValueTask DisposeAsync()
    {
        _gate.Dispose();
        return ValueTask.CompletedTask;
    }
}

/// <summary>ONNX Runtime helpers shared by the backend, the export checks and the CLI.</summary>
public static class OnnxInference
{
    public static InferenceSession OpenSession(byte[] model, OnnxRuntimeSettings? settings = null)
    {
        settings ??= new OnnxRuntimeSettings();
        using var options = new SessionOptions
        {
            IntraOpNumThreads = settings.IntraOpThreads,
            InterOpNumThreads = settings.InterOpThreads,
            ExecutionMode = ExecutionMode.ORT_SEQUENTIAL,
            GraphOptimizationLevel = settings.GraphOptimizations ? GraphOptimizationLevel.ORT_ENABLE_ALL : GraphOptimizationLevel.ORT_DISABLE_ALL,
        };
        try
        {
            return new InferenceSession(model, options);
        }
        catch (OnnxRuntimeException e)
        {
            throw new LatencyBackendException($"ONNX Runtime rejected the model: {e.Message}", transient: false, e);
        }
    }

    /// <summary>Runs the model once on <paramref name="input"/> and returns the (single) output, flattened.</summary>
    public static float[] Run(byte[] model, float[] input, long[] inputShape, OnnxRuntimeSettings? settings = null)
    {
        using var session = OpenSession(model, settings);
        using var value = OrtValue.CreateTensorValueFromMemory(input, inputShape);
        using var runOptions = new RunOptions();
        using var outputs = session.Run(runOptions, [session.InputMetadata.Keys.Single()], [value], [session.OutputMetadata.Keys.Single()]);
        return outputs[0].GetTensorDataAsSpan<float>().ToArray();
    }

    /// <summary>Standard-normal input from a seeded generator.</summary>
    public static float[] RandomInput(long[] shape, long seed)
    {
        var random = new SeededRandom((ulong)seed);
        var data = new float[shape.Aggregate(1L, (a, b) => a * b)];
        for (var i = 0; i < data.Length; i++)
        {
            data[i] = (float)random.NextGaussian();
        }
        return data;
    }
}
