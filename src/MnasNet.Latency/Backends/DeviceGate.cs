using MnasNet.Latency.Measurement;
using MnasNet.Torch;

namespace MnasNet.Latency.Backends;

/// <summary>
/// How a host measurement keeps clear of other work on the machine: the cores its thread (and the runtime's threads
/// it creates) runs on, and whether co-located trainers pause in a <see cref="QuietWindow"/> while it runs.
/// </summary>
public sealed record MeasurementIsolation(IReadOnlyList<int>? Cores = null, bool QuietWindow = false)
{
    public static MeasurementIsolation None { get; } = new();

    /// <summary>The platform with this isolation named (unchanged without isolation).</summary>
    public PlatformDescription Describe(PlatformDescription platform) => this == None ? platform : platform with { Isolation = Summary };

    public string Summary => (Cores, QuietWindow) switch
    {
        (null, false) => "not isolated",
        _ => string.Join(", ", new[] { Cores is null ? null : $"pinned to cores {CpuAffinity.Format(Cores)}", QuietWindow ? "local trainers pause while timing" : null }.OfType<string>()),
    };
}

/// <summary>
/// Serialises measurements on one device (a device times one model at a time, even when shared) and runs each on
/// a dedicated thread so a caller's thread (an actor's mailbox, the thread pool) is never blocked by timing loops.
/// </summary>
internal sealed class DeviceGate(MeasurementIsolation? isolation = null) : IDisposable
{
    private readonly SemaphoreSlim _gate = new(1, 1);
    private readonly MeasurementIsolation _isolation = isolation ?? MeasurementIsolation.None;

    public MeasurementIsolation Isolation => _isolation;

    public async Task<T> RunAsync<T>(Func<T> work, CancellationToken cancellationToken)
    {
        await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            return await Task.Factory.StartNew(Isolated, cancellationToken, TaskCreationOptions.LongRunning, TaskScheduler.Default).ConfigureAwait(false);
        }
        finally
        {
            _gate.Release();
        }

        T Isolated()
        {
            // A dedicated thread: pinned for its whole life, nothing to restore.
            if (_isolation.Cores is { } cores)
            {
                CpuAffinity.PinCurrentThread(cores);
            }
            return work();
        }
    }

    public void Dispose() => _gate.Dispose();
}
