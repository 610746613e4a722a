using System.Text.Json;
using System.Text.Json.Serialization;
using MnasNet.Latency.Backends;
using MnasNet.Latency.Measurement;
using MnasNet.SearchSpace;

namespace MnasNet.Latency.Table;

/// <summary>One layer configuration's measured latency (median and fastest of its timed runs, call overhead included).</summary>
public sealed record LatencyTableEntry(double MedianMs, double P90Ms, double Cv, int Runs, double? MinMs = null);

/// <summary>
/// Which statistic of a layer's (and a network's) timed runs a table predicts. <see cref="Min"/> is for shared hosts:
/// other processes only ever slow a run down, so the fastest run is the device's own latency, while the median moves
/// with the load (mnasnet-a1 at 96² here under a load of 12–16: medians 8–21 ms, minima 1.9–2.3 ms).
/// </summary>
public enum LatencyEstimator
{
    Median,
    Min,
}

/// <summary>
/// Per-layer latencies of one platform at one set of network options (resolution, input channels, classes,
/// width), keyed by <see cref="LayerCost.Key"/>. A network is predicted as
/// Σ (layer − call overhead) + call overhead: each entry was timed as its own inference call, a network is one call.
/// With a <see cref="Correction"/> (fitted by <c>latency-table calibrate</c>), that sum is corrected per network.
/// </summary>
public sealed record LatencyTable(
    string Format,
    PlatformDescription Platform,
    string DeviceId,
    NetworkOptions Options,
    MeasurementProtocol Protocol,
    double CallOverheadMs,
    DateTimeOffset CreatedAt,
    IReadOnlyDictionary<string, LatencyTableEntry> Entries,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] TableCorrection? Correction = null,
    LatencyEstimator Estimator = LatencyEstimator.Median)
{
    /// <summary>The table's statistic of a measurement's runs.</summary>
    public double EstimateOf(SampleStatistics statistics) => Estimator == LatencyEstimator.Min ? statistics.MinMs : statistics.MedianMs;

    public const string CurrentFormat = "mnasnet-latency-table/v1";

    /// <summary>Predicted batch-1 latency in milliseconds, with each layer's share.</summary>
    public LatencyPrediction Predict(Architecture architecture, NetworkOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(architecture);
        options ??= Options;
        if (options.Resolution != Options.Resolution || options.InputChannels != Options.InputChannels ||
            options.Classes != Options.Classes || options.Width != Options.Width)
        {
            throw new LatencyTableException(
                $"the table was built for resolution {Options.Resolution}, {Options.InputChannels} input channels, {Options.Classes} classes, width {Options.Width}; " +
                $"asked for resolution {options.Resolution}, {options.InputChannels} input channels, {options.Classes} classes, width {options.Width} — build a table for those");
        }
        var cost = CostModel.Compute(architecture, options).Layers;
        var layers = new List<LayerPrediction>(cost.Count);
        foreach (var layer in cost)
        {
            if (!Entries.TryGetValue(layer.Key, out var entry))
            {
                throw new LatencyTableException($"the table has no entry for layer '{layer.Key}' (it holds {Entries.Count} layers); rebuild it over this search space");
            }
            var entryMs = Estimator == LatencyEstimator.Min ? entry.MinMs ?? throw new LatencyTableException($"entry '{layer.Key}' has no minMs, which a table with estimator 'min' predicts from") : entry.MedianMs;
            layers.Add(new LayerPrediction(layer.Key, Math.Max(0, entryMs - CallOverheadMs)));
        }
        var sum = CallOverheadMs + layers.Sum(l => l.Ms);
        if (Correction is null)
        {
            return new LatencyPrediction(sum, layers, sum);
        }
        // A network cannot take less than one inference call.
        var corrected = Correction.Apply(NetworkFeatures.Of(cost, layers.Select(l => l.Ms).ToArray()));
        return new LatencyPrediction(Math.Max(CallOverheadMs, corrected), layers, sum);
    }

    private static readonly JsonSerializerOptions Json = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.CamelCase,
        WriteIndented = true,
        Converters = { new JsonStringEnumConverter(JsonNamingPolicy.CamelCase) },
        NumberHandling = JsonNumberHandling.Strict,
    };

    public string ToJson() => JsonSerializer.Serialize(this, Json);

    public void Save(string path)
    {
        var directory = Path.GetDirectoryName(Path.GetFullPath(path));
        if (directory is not null)
        {
            Directory.CreateDirectory(directory);
        }
        File.WriteAllText(path, ToJson());
    }

    /// <summary>Reads and validates a table file; every problem is a <see cref="LatencyTableException"/> naming the file.</summary>
    public static LatencyTable Load(string path)
    {
        string text;
        try
        {
            text = File.ReadAllText(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new LatencyTableException($"cannot read latency table '{path}': {e.Message}", e);
        }
        try
        {
            return Parse(text);
        }
        catch (LatencyTableException e)
        {
            throw new LatencyTableException($"latency table '{path}': {e.Message}", e);
        }
    }

    public static LatencyTable Parse(string json)
    {
        LatencyTable? table;
        try
        {
            using (var doc = JsonDocument.Parse(json))
            {
                if (doc.RootElement.ValueKind != JsonValueKind.Object)
                {
                    throw new LatencyTableException("not a JSON object");
                }
                if (!doc.RootElement.TryGetProperty("format", out var format) || format.ValueKind != JsonValueKind.String)
                {
                    throw new LatencyTableException($"missing 'format' (expected \"{CurrentFormat}\")");
                }
                if (format.GetString() != CurrentFormat)
                {
                    throw new LatencyTableException($"unsupported format '{format.GetString()}' (this version reads \"{CurrentFormat}\")");
                }
            }
            table = JsonSerializer.Deserialize<LatencyTable>(json, Json);
        }
        catch (JsonException e)
        {
            throw new LatencyTableException($"not a valid table: {e.Message}", e);
        }
        return (table ?? throw new LatencyTableException("empty document")).Validate();
    }

    public LatencyTable Validate()
    {
        if (Platform is null)
        {
            throw new LatencyTableException("missing 'platform'");
        }
        if (Options is null)
        {
            throw new LatencyTableException("missing 'options'");
        }
        if (Entries is null || Entries.Count == 0)
        {
            throw new LatencyTableException("no entries");
        }
        try
        {
            Options.Validate();
        }
        catch (ArchitectureException e)
        {
            throw new LatencyTableException($"options: {e.Message}", e);
        }
        if (!(double.IsFinite(CallOverheadMs) && CallOverheadMs >= 0))
        {
            throw new LatencyTableException($"callOverheadMs must be a non-negative number, got {CallOverheadMs}");
        }
        foreach (var (key, entry) in Entries)
        {
            if (entry is null || !(double.IsFinite(entry.MedianMs) && entry.MedianMs > 0))
            {
                throw new LatencyTableException($"entry '{key}': medianMs must be a positive number");
            }
            if (entry.MinMs is { } min ? !(double.IsFinite(min) && min > 0) : Estimator == LatencyEstimator.Min)
            {
                throw new LatencyTableException($"entry '{key}': minMs must be a positive number (the table's estimator is '{Estimator.ToString().ToLowerInvariant()}')");
            }
        }
        Correction?.Validate();
        return this;
    }
}

public sealed record LayerPrediction(string Key, double Ms);

/// <param name="TotalMs">The prediction: the table's sum, corrected when the table has a correction.</param>
/// <param name="Layers">Each layer's share of the sum (call overhead taken out).</param>
/// <param name="TableSumMs">Σ layers + call overhead, before any correction.</param>
public sealed record LatencyPrediction(double TotalMs, IReadOnlyList<LayerPrediction> Layers, double TableSumMs);
