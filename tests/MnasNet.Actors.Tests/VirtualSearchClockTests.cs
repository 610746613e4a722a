using MnasNet.Actors.Timing;

namespace MnasNet.Actors.Tests;

/// <summary>The discrete-event clock on its own: time moves only when nothing is held, to the earliest entry.</summary>
public sealed class VirtualSearchClockTests
{
    private static readonly DateTimeOffset Start = new(2026, 1, 1, 0, 0, 0, TimeSpan.Zero);

    [Fact]
    public async Task A_delay_ends_only_once_nothing_else_is_held_and_time_jumps_to_it()
    {
        var clock = new VirtualSearchClock(Start);
        clock.Hold();
        clock.Hold();
        var waiting = clock.Delay(TimeSpan.FromSeconds(30), CancellationToken.None);
        Assert.False(waiting.IsCompleted);
        Assert.Equal(Start, clock.Now);

        clock.Release();
        await waiting.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Equal(Start.AddSeconds(30), clock.Now);
        // The woken work holds the clock again until it is done.
        Assert.Equal(1, clock.Active);
        clock.Release();
        Assert.Equal(0, clock.Active);
    }

    [Fact]
    public async Task Entries_due_at_the_same_time_fire_together_and_later_ones_wait_for_them()
    {
        var clock = new VirtualSearchClock(Start);
        var fired = new List<(string, DateTimeOffset)>();
        clock.Hold();
        clock.Schedule(TimeSpan.FromSeconds(10), () => fired.Add(("a", clock.Now)));
        clock.Schedule(TimeSpan.FromSeconds(10), () => fired.Add(("b", clock.Now)));
        clock.Schedule(TimeSpan.FromSeconds(20), () => fired.Add(("c", clock.Now)));
        clock.Release();

        Assert.Equal([("a", Start.AddSeconds(10)), ("b", Start.AddSeconds(10))], fired);
        Assert.Equal(2, clock.Active);
        clock.Release();
        Assert.Equal(2, fired.Count);
        clock.Release();
        Assert.Equal(("c", Start.AddSeconds(20)), fired[^1]);
        clock.Release();
        await Task.CompletedTask;
    }

    [Fact]
    public async Task A_cancelled_delay_takes_its_hold_back_and_a_cancelled_timer_never_fires()
    {
        var clock = new VirtualSearchClock(Start);
        using var cancel = new CancellationTokenSource();
        var fired = 0;
        clock.Hold();
        clock.Hold();
        var waiting = clock.Delay(TimeSpan.FromSeconds(5), cancel.Token);
        var timer = clock.Schedule(TimeSpan.FromSeconds(1), () => fired++);
        timer.Dispose();
        await cancel.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => waiting);
        Assert.Equal(2, clock.Active);
        clock.Release();
        clock.Release();
        Assert.Equal((0, Start), (fired, clock.Now));
    }

    [Fact]
    public void A_periodic_timer_fires_every_period_while_nothing_else_is_due()
    {
        var clock = new VirtualSearchClock(Start);
        var times = new List<DateTimeOffset>();
        clock.Hold();
        using var timer = clock.Schedule(TimeSpan.FromSeconds(3), () => times.Add(clock.Now), period: TimeSpan.FromSeconds(3));
        clock.Release();
        for (var i = 0; i < 3; i++)
        {
            clock.Release();
        }
        Assert.Equal([Start.AddSeconds(3), Start.AddSeconds(6), Start.AddSeconds(9), Start.AddSeconds(12)], times);
    }

    [Fact]
    public void A_search_waiting_on_nothing_but_its_periodic_timer_rests_until_someone_acts()
    {
        var clock = new VirtualSearchClock(Start);
        var fired = 0;
        clock.Hold();
        using var timer = clock.Schedule(TimeSpan.FromSeconds(1), () => fired++, period: TimeSpan.FromSeconds(1));
        clock.Release();
        // Each tick's handler does nothing but release its hold.
        for (var i = 0; i < 2 * VirtualSearchClock.MaxIdleTicks && clock.Active > 0; i++)
        {
            clock.Release();
        }
        Assert.Equal((VirtualSearchClock.MaxIdleTicks, 0), (fired, clock.Active));

        // A message (a pause request) wakes the clock again.
        clock.Hold();
        clock.Release();
        Assert.Equal(VirtualSearchClock.MaxIdleTicks + 1, fired);
        clock.Release();
    }

    [Fact]
    public void Releasing_more_than_was_held_is_a_bug_named_as_such()
    {
        var clock = new VirtualSearchClock(Start);
        Assert.Contains("more activity released than held", Assert.Throws<InvalidOperationException>(clock.Release).Message);
    }
}
