namespace MnasNet.Latency.Backends;

/// <summary>
/// Serialises measurements on one device (a device times one model at a time, even when shared) and runs each on
/// a dedicated thread so a caller's thread (an actor's mailbox, the thread pool) is never blocked by timing loops.
/// </summary>
internal sealed class DeviceGate : IDisposable
{
    private readonly SemaphoreSlim _gate = new(1, 1);

    public async Task<T> RunAsync<T>(Func<T> work, CancellationToken cancellationToken)
    {
        await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            return await Task.Factory.StartNew(work, cancellationToken, TaskCreationOptions.LongRunning, TaskScheduler.Default).ConfigureAwait(false);
        }
        finally
        {
            _gate.Release();
        }
    }

    public void Dispose() => _gate.Dispose();
}
