using System.Text.Json.Serialization;

namespace MnasNet.Latency.Measurement;

/// <summary>
/// The full record of one latency measurement: every raw sample in run order, their statistics (outliers flagged,
/// not dropped), the protocol that produced them and the platform they are valid for. <see cref="HostLoadAverage"/>
/// is the host's 1-minute load average when the measurement started (null where unknown or simulated): figures
/// taken while other processes kept the cores busy are slower and noisier. <see cref="Device"/>: what a device
/// reported at the time of this measurement (a phone's model, build fingerprint, ABI, SDK, governor, temperature);
/// null for host backends.
/// </summary>
public sealed record LatencyMeasurement(
    string ArchitectureId,
    int Resolution,
    int Batch,
    string DeviceId,
    PlatformDescription Platform,
    int Warmup,
    int Runs,
    int Rounds,
    int Threads,
    StopReason StopReason,
    double? CvTarget,
    SampleStatistics Statistics,
    IReadOnlyList<double> SamplesMs,
    double WallSeconds,
    DateTimeOffset StartedAt,
    double? HostLoadAverage = null,
    IReadOnlyDictionary<string, string>? Device = null)
{
    [JsonIgnore]
    public double MedianMs => Statistics.MedianMs;

    [JsonIgnore]
    public double P90Ms => Statistics.P90Ms;

    [JsonIgnore]
    public double Cv => Statistics.Cv;

    /// <summary>True when the protocol asked for a CV target and it was reached.</summary>
    [JsonIgnore]
    public bool CvTargetMet => StopReason == StopReason.CvTargetMet;
}

public static class LatencyMeasurements
{
    /// <summary>The record of timed runs of one model (an architecture, or a single layer keyed by its table key).</summary>
    public static LatencyMeasurement Create(
        string modelId, int resolution, string deviceId, PlatformDescription platform, MeasurementProtocol protocol,
        TimedRuns timed, DateTimeOffset startedAt, double? hostLoadAverage = null) =>
        new(modelId, resolution, 1, deviceId, platform, protocol.Warmup, timed.SamplesMs.Count, timed.Rounds, platform.Threads,
            timed.StopReason, protocol.CvTarget, SampleStatistics.Of(timed.SamplesMs), timed.SamplesMs, timed.WallSeconds, startedAt, hostLoadAverage);
}
