using System.Text.Json.Serialization;

namespace MnasNet.Latency.Measurement;

/// <summary>Where a latency figure came from.</summary>
[JsonConverter(typeof(JsonStringEnumConverter<LatencySource>))]
public enum LatencySource
{
    /// <summary>Timed on a real inference engine.</summary>
    Measured,

    /// <summary>From an analytic model with synthetic noise: not a measurement.</summary>
    Simulated,

    /// <summary>Predicted from a per-layer lookup table measured earlier.</summary>
    Predicted,
}

/// <summary>
/// What a latency figure is valid for: the engine and its settings, and the hardware and software it ran on. Devices
/// advertise this and searches match targets against it, so every field is plain data. Fields that cannot be read
/// on a device are null.
/// </summary>
public sealed record PlatformDescription(
    string Backend,
    LatencySource Source,
    int Threads,
    string CpuModel,
    int Cores,
    string Os,
    string Runtime,
    IReadOnlyDictionary<string, string> Libraries,
    string? Governor,
    string? Details = null,
    string? Isolation = null)
{
    [JsonIgnore]
    public bool IsSimulated => Source == LatencySource.Simulated;

    /// <summary>Short human form, e.g. <c>onnxruntime (onnxruntime 1.31.1), 1 thread, Intel Xeon (2 cores)</c>.</summary>
    [JsonIgnore]
    public string Summary =>
        $"{Backend}{(Source == LatencySource.Measured ? "" : $" [{Source.ToString().ToLowerInvariant()}]")}" +
        $"{(Libraries.Count == 0 ? "" : $" ({string.Join(", ", Libraries.Select(kv => $"{kv.Key} {kv.Value}"))})")}, {Threads} thread{(Threads == 1 ? "" : "s")}, " +
        $"{CpuModel} ({Cores} cores{(Governor is null ? "" : $", governor {Governor}")})" +
        (Isolation is null ? "" : $"; {Isolation}");
}
