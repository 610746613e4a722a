using MnasNet.Actors.Settings;

namespace MnasNet.Actors.Timing;

/// <summary>
/// The time a search runs on: the wall clock, or a <see cref="VirtualSearchClock"/> (simulated searches) under which
/// the same actors and journal run but durations, timers and timestamps are virtual. The controller takes its
/// <c>now</c>, its timers and its event timestamps from here; simulated backends wait with <see cref="Delay"/>.
/// </summary>
/// <remarks>
/// <see cref="Hold"/> and <see cref="Release"/> count activity (messages between the search's actors not yet handled,
/// journal writes in flight, work running): a virtual clock advances only when nothing is active. Under the real
/// clock they do nothing.
/// </remarks>
public abstract class SearchClock
{
    public static SearchClock Real { get; } = new RealSearchClock();

    public abstract bool IsVirtual { get; }

    public abstract DateTimeOffset Now { get; }

    /// <summary>Called by code holding an activity token; under a virtual clock it gives it back while it waits.</summary>
    public abstract Task Delay(TimeSpan delay, CancellationToken cancellationToken);

    /// <summary>One more thing in flight (call before the message is sent, the write started, the work begun).</summary>
    public virtual void Hold()
    {
    }

    /// <summary>One thing in flight is done (call after the message is handled and everything it caused is held).</summary>
    public virtual void Release()
    {
    }

    /// <summary>The clock a search of these settings runs on in one process: virtual for simulated searches unless <c>simulation.clock = "real"</c>.</summary>
    public static SearchClock For(SearchDefinition settings, DateTimeOffset? start = null) =>
        settings.Simulated && settings.Simulation.Clock == SimulationClock.Virtual ? new VirtualSearchClock(start ?? DateTimeOffset.UtcNow) : Real;

    private sealed class RealSearchClock : SearchClock
    {
        public override bool IsVirtual => false;

        public override DateTimeOffset Now => DateTimeOffset.UtcNow;

        public override Task Delay(TimeSpan delay, CancellationToken cancellationToken) =>
            delay > TimeSpan.Zero ? Task.Delay(delay, cancellationToken) : Task.CompletedTask;
    }
}

/// <summary>
/// A discrete-event clock: work and timers register "due at t"; when no activity is held, time jumps to the earliest
/// due entry and every entry due then fires at once (each fired entry holds one token until its receiver releases it).
/// </summary>
public sealed class VirtualSearchClock(DateTimeOffset start) : SearchClock
{
    private readonly Lock _gate = new();
    private readonly PriorityQueue<Entry, (long Ticks, long Sequence)> _due = new();
    private long _ticks = start.UtcTicks;
    private long _sequence;
    private int _active;
    private int _idleTicks;

    /// <summary>
    /// Consecutive advances that fired only periodic timers with nothing else happening in between: a search that
    /// waits for nothing the clock holds (stuck, as it would be in real time) rests here instead of spinning through
    /// virtual time; the next <see cref="Hold"/> wakes it.
    /// </summary>
    public const int MaxIdleTicks = 1000;

    public override bool IsVirtual => true;

    public DateTimeOffset Start { get; } = start;

    public override DateTimeOffset Now
    {
        get
        {
            lock (_gate)
            {
                return new DateTimeOffset(_ticks, TimeSpan.Zero);
            }
        }
    }

    /// <summary>How many times the clock moved on (distinct due times reached).</summary>
    public long Advances { get; private set; }

    /// <summary>Activity held right now (0 once the search is at rest or waits for virtual time).</summary>
    public int Active
    {
        get
        {
            lock (_gate)
            {
                return _active;
            }
        }
    }

    public override void Hold()
    {
        lock (_gate)
        {
            _active++;
            _idleTicks = 0;
        }
    }

    public override void Release()
    {
        List<Entry>? due;
        lock (_gate)
        {
            if (--_active < 0)
            {
                throw new InvalidOperationException("virtual clock: more activity released than held");
            }
            due = _active == 0 ? TakeDue() : null;
        }
        Fire(due);
    }

    public override Task Delay(TimeSpan delay, CancellationToken cancellationToken)
    {
        if (delay <= TimeSpan.Zero)
        {
            return Task.CompletedTask;
        }
        cancellationToken.ThrowIfCancellationRequested();
        var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var entry = new Entry(() => done.TrySetResult(), null);
        List<Entry>? due;
        lock (_gate)
        {
            Enqueue(entry, _ticks + delay.Ticks);
            // The waiting work holds nothing until its time comes.
            _active--;
            due = _active == 0 ? TakeDue() : null;
        }
        if (cancellationToken.CanBeCanceled)
        {
            cancellationToken.Register(() =>
            {
                lock (_gate)
                {
                    if (entry.Fired || entry.Cancelled)
                    {
                        return;
                    }
                    entry.Cancelled = true;
                    _active++;
                }
                done.TrySetCanceled(cancellationToken);
            });
        }
        Fire(due);
        return done.Task;
    }

    /// <summary>
    /// Runs <paramref name="fire"/> at now + <paramref name="delay"/> (and every <paramref name="period"/> after, if
    /// given) holding one token, which whoever handles what it sends releases. Dispose to cancel.
    /// </summary>
    public IDisposable Schedule(TimeSpan delay, Action fire, TimeSpan? period = null)
    {
        var entry = new Entry(fire, period is { } p && p > TimeSpan.Zero ? p : null);
        List<Entry>? due;
        lock (_gate)
        {
            Enqueue(entry, _ticks + Math.Max(0, delay.Ticks));
            due = _active == 0 ? TakeDue() : null;
        }
        Fire(due);
        return entry.Canceller(this);
    }

    private void Enqueue(Entry entry, long ticks) => _due.Enqueue(entry, (ticks, _sequence++));

    /// <summary>Under the gate, with nothing active: moves time to the earliest live entry and takes every entry due then.</summary>
    private List<Entry>? TakeDue()
    {
        if (_idleTicks >= MaxIdleTicks)
        {
            return null;
        }
        while (_due.TryPeek(out _, out var first))
        {
            var taken = new List<Entry>();
            while (_due.TryPeek(out var entry, out var key) && key.Ticks == first.Ticks)
            {
                _due.Dequeue();
                if (entry.Cancelled)
                {
                    continue;
                }
                if (entry.Period is { } period)
                {
                    Enqueue(entry, key.Ticks + period.Ticks);
                }
                else
                {
                    entry.Fired = true;
                }
                taken.Add(entry);
            }
            if (taken.Count > 0)
            {
                _idleTicks = taken.All(e => e.Period is not null) ? _idleTicks + 1 : 0;
                _ticks = Math.Max(_ticks, first.Ticks);
                _active += taken.Count;
                Advances++;
                return taken;
            }
        }
        return null;
    }

    private static void Fire(List<Entry>? due)
    {
        foreach (var entry in due ?? [])
        {
            entry.Action();
        }
    }

    private sealed class Entry(Action action, TimeSpan? period)
    {
        public Action Action { get; } = action;

        public TimeSpan? Period { get; } = period;

        public bool Fired { get; set; }

        public bool Cancelled { get; set; }

        public IDisposable Canceller(VirtualSearchClock clock) => new Cancel(clock, this);

        private sealed class Cancel(VirtualSearchClock clock, Entry entry) : IDisposable
        {
            public void Dispose()
            {
                lock (clock._gate)
                {
                    entry.Cancelled = true;
                }
            }
        }
    }
}
