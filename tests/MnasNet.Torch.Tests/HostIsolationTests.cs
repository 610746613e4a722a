using MnasNet.Torch;

namespace MnasNet.Torch.Tests;

public sealed class HostIsolationTests
{
    [Theory]
    [InlineData("0", new[] { 0 })]
    [InlineData(" 0 ", new[] { 0 })]
    [InlineData("0,0", new[] { 0 })]
    [InlineData("0-0", new[] { 0 })]
    public void Core_lists_parse(string spec, int[] expected) => Assert.Equal(expected, CpuAffinity.Parse(spec, "cores"));

    [Theory]
    [InlineData("x", "expected core numbers like 1, 0,2 or 2-3, got 'x'")]
    [InlineData("-1", "expected core numbers")]
    [InlineData("4096", "core 4096 does not exist (this machine has cores 0-")]
    [InlineData("1-0", "range 1-0 runs backwards")]
    public void Bad_core_lists_are_named(string spec, string message)
    {
        var e = Assert.Throws<ArgumentException>(() => CpuAffinity.Parse(spec, "workers.deviceCores"));
        Assert.StartsWith($"workers.deviceCores '{spec}': ", e.Message, StringComparison.Ordinal);
        Assert.Contains(message, e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_pinned_thread_runs_on_its_cores_and_run_pinned_restores_them()
    {
        var last = Environment.ProcessorCount - 1;
        IReadOnlyList<int>? inside = null, before = null, after = null;
        var thread = new Thread(() =>
        {
            before = CpuAffinity.OfCurrentThread();
            inside = CpuAffinity.RunPinned([last], CpuAffinity.OfCurrentThread);
            after = CpuAffinity.OfCurrentThread();
        });
        thread.Start();
        thread.Join();

        Assert.Equal([last], inside);
        Assert.Equal(before, after);
        Assert.Equal(Environment.ProcessorCount, before!.Count);
    }

    [Fact]
    public void A_measurement_starts_once_the_trainer_waits_at_a_batch_boundary_and_the_trainer_goes_on_after_it()
    {
        var window = new QuietWindow { MaxWaitForTrainers = TimeSpan.FromMinutes(5) };
        using var stop = new CancellationTokenSource();
        using var registered = new ManualResetEventSlim();
        var batches = 0;
        var trainer = new Thread(() =>
        {
            using var training = window.Training();
            registered.Set();
            while (!stop.IsCancellationRequested)
            {
                window.BetweenBatches();
                Interlocked.Increment(ref batches);
            }
        });
        trainer.Start();
        // A measurement opened before the trainer registers would not wait for it.
        Assert.True(registered.Wait(TimeSpan.FromMinutes(1), TestContext.Current.CancellationToken));

        int during;
        using (window.Measurement())
        {
            // Open only once the trainer has stopped at a boundary, and it stays there until the window closes.
            Assert.Equal(1, window.ParkedTrainers);
            during = Volatile.Read(ref batches);
            Assert.Equal(1, window.ParkedTrainers);
        }
        Assert.True(SpinWait.SpinUntil(() => Volatile.Read(ref batches) > during + 1, TimeSpan.FromMinutes(1)));
        stop.Cancel();
        trainer.Join();
        Assert.True(window.TrainersWaited > TimeSpan.Zero);
        Assert.Equal(0, window.ParkedTrainers);
    }

    [Fact]
    public void A_trainer_that_never_reaches_a_batch_boundary_holds_a_measurement_up_only_for_the_maximum_wait()
    {
        var window = new QuietWindow { MaxWaitForTrainers = TimeSpan.FromMilliseconds(50) };
        using var training = window.Training();

        using (window.Measurement())
        {
            Assert.Equal(0, window.ParkedTrainers);
        }
        // Without measurements a boundary does not wait.
        window.BetweenBatches(TestContext.Current.CancellationToken);
    }
}
