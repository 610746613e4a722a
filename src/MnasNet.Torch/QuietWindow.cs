namespace MnasNet.Torch;

/// <summary>
/// Latency measurements and training that share a host, in one process: while a measurement runs, trainers that
/// opted in stop at their next batch boundary, and the measurement starts its runs once every such trainer has
/// stopped (or after <see cref="MaxWaitForTrainers"/>, so a long batch cannot hold it up indefinitely).
/// Training results do not change: a trainer only waits between batches.
/// </summary>
public sealed class QuietWindow
{
    private readonly object _lock = new();
    private int _measurements;
    private int _trainers;
    private int _parked;

    /// <summary>The window of this process: every local trainer and device.</summary>
    public static QuietWindow Shared { get; } = new();

    public TimeSpan MaxWaitForTrainers { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>Trainers waiting at a batch boundary now.</summary>
    public int ParkedTrainers
    {
        get
        {
            lock (_lock)
            {
                return _parked;
            }
        }
    }

    /// <summary>Total time trainers spent waiting for measurements.</summary>
    public TimeSpan TrainersWaited { get; private set; }

    /// <summary>Registers a trainer for its whole run; it must call <see cref="BetweenBatches"/> at every batch boundary.</summary>
    public IDisposable Training()
    {
        lock (_lock)
        {
            _trainers++;
        }
        return new Exit(() =>
        {
            lock (_lock)
            {
                _trainers--;
                Monitor.PulseAll(_lock);
            }
        });
    }

    /// <summary>Waits while any measurement runs.</summary>
    public void BetweenBatches(CancellationToken cancellationToken = default)
    {
        lock (_lock)
        {
            if (_measurements == 0)
            {
                return;
            }
            var started = DateTime.UtcNow;
            _parked++;
            Monitor.PulseAll(_lock);
            try
            {
                while (_measurements > 0)
                {
                    // Woken by the measurement's end; the timeout only lets cancellation through.
                    Monitor.Wait(_lock, TimeSpan.FromMilliseconds(200));
                    cancellationToken.ThrowIfCancellationRequested();
                }
            }
            finally
            {
                _parked--;
                TrainersWaited += DateTime.UtcNow - started;
            }
        }
    }

    /// <summary>Opens the window for one measurement; returns once every registered trainer is waiting.</summary>
    public IDisposable Measurement()
    {
        lock (_lock)
        {
            _measurements++;
            var deadline = DateTime.UtcNow + MaxWaitForTrainers;
            while (_parked < _trainers && deadline - DateTime.UtcNow is { Ticks: > 0 } remaining)
            {
                Monitor.Wait(_lock, remaining);
            }
        }
        return new Exit(() =>
        {
            lock (_lock)
            {
                _measurements--;
                Monitor.PulseAll(_lock);
            }
        });
    }

    private sealed class Exit(Action exit) : IDisposable
    {
        private Action? _exit = exit;

        public void Dispose() => Interlocked.Exchange(ref _exit, null)?.Invoke();
    }
}
