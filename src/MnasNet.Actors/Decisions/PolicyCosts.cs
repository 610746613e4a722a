using System.Diagnostics;

namespace MnasNet.Actors.Decisions;

/// <summary>
/// Time this process spent in its searches' policies: sampling batches, PPO (or other) updates, and saving the updated
/// states for the journal (save, delta, compression, hash). A property of the process for benchmarks, like its GC
/// counts; it never reaches a decision or the journal.
/// </summary>
public static class PolicyCosts
{
    private static long _samplings, _samplingTicks, _updates, _updateTicks, _stateTicks;

    public static PolicyCostsSnapshot Now() => new(
        Interlocked.Read(ref _samplings), TimeSpan.FromTicks(Interlocked.Read(ref _samplingTicks)),
        Interlocked.Read(ref _updates), TimeSpan.FromTicks(Interlocked.Read(ref _updateTicks)),
        TimeSpan.FromTicks(Interlocked.Read(ref _stateTicks)));

    internal static void Sampled(long startedAt) => Add(ref _samplings, ref _samplingTicks, startedAt);

    internal static void Updated(long startedAt) => Add(ref _updates, ref _updateTicks, startedAt);

    internal static void StateSaved(long startedAt) => Interlocked.Add(ref _stateTicks, Stopwatch.GetElapsedTime(startedAt).Ticks);

    private static void Add(ref long count, ref long ticks, long startedAt)
    {
        Interlocked.Increment(ref count);
        Interlocked.Add(ref ticks, Stopwatch.GetElapsedTime(startedAt).Ticks);
    }
}

public readonly record struct PolicyCostsSnapshot(long Samplings, TimeSpan Sampling, long Updates, TimeSpan Updating, TimeSpan SavingStates)
{
    public static PolicyCostsSnapshot operator -(PolicyCostsSnapshot a, PolicyCostsSnapshot b) =>
        new(a.Samplings - b.Samplings, a.Sampling - b.Sampling, a.Updates - b.Updates, a.Updating - b.Updating, a.SavingStates - b.SavingStates);
}
