using MnasNet.Latency.Measurement;
using MnasNet.SearchSpace;

namespace MnasNet.Latency;

/// <summary>
/// One device that can time an architecture. Implementations may be slow (a phone over ADB), flaky (a transient
/// failure throws <see cref="LatencyBackendException"/> with <see cref="LatencyBackendException.Transient"/> set,
/// and the caller may retry) and shared (calls are serialised per instance: a device times one model at a time).
/// Measuring runs off the caller's thread and honours cancellation between runs.
/// </summary>
public interface ILatencyBackend : IAsyncDisposable
{
    /// <summary>Stable id of the device, e.g. <c>host:onnxruntime:t1</c> or a phone's serial.</summary>
    string DeviceId { get; }

    /// <summary>What this device's figures are valid for; advertised to searches that target a platform.</summary>
    PlatformDescription Platform { get; }

    /// <summary>
    /// Times the architecture built with <paramref name="options"/> (weights do not matter for latency).
    /// Throws <see cref="ArchitectureTooLargeException"/> when the architecture does not fit the resolution,
    /// <see cref="OperationCanceledException"/> when cancelled.
    /// </summary>
    Task<LatencyMeasurement> MeasureAsync(
        Architecture architecture,
        NetworkOptions options,
        MeasurementProtocol protocol,
        CancellationToken cancellationToken = default);
}
