using System.Text.Json;
using System.Text.Json.Serialization;
using MnasNet.Latency.Backends;
using MnasNet.Latency.Measurement;
using MnasNet.SearchSpace;

namespace MnasNet.Latency.Table;

/// <summary>One layer configuration's measured latency (median of its timed runs, call overhead included).</summary>
public sealed record LatencyTableEntry(double MedianMs, double P90Ms, double Cv, int Runs);

/// <summary>
/// Per-layer latencies of one platform at one set of network options (resolution, input channels, classes,
/// width), keyed by <see cref="LayerCost.Key"/>. A network is predicted as
/// Σ (layer − call overhead) + call overhead: each entry was timed as its own inference call, a network is one call.
/// </summary>
public sealed record LatencyTable(
    string Format,
    PlatformDescription Platform,
    string DeviceId,
    NetworkOptions Options,
    MeasurementProtocol Protocol,
    double CallOverheadMs,
    DateTimeOffset CreatedAt,
    IReadOnlyDictionary<string, LatencyTableEntry> Entries)
{
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
        var layers = new List<LayerPrediction>();
        foreach (var layer in CostModel.Compute(architecture, options).Layers)
        {
            if (!Entries.TryGetValue(layer.Key, out var entry))
            {
                throw new LatencyTableException($"the table has no entry for layer '{layer.Key}' (it holds {Entries.Count} layers); rebuild it over this search space");
            }
            layers.Add(new LayerPrediction(layer.Key, Math.Max(0, entry.MedianMs - CallOverheadMs)));
        }
        return new LatencyPrediction(CallOverheadMs + layers.Sum(l => l.Ms), layers);
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
        }
        return this;
    }
}

public sealed record LayerPrediction(string Key, double Ms);

public sealed record LatencyPrediction(double TotalMs, IReadOnlyList<LayerPrediction> Layers);
