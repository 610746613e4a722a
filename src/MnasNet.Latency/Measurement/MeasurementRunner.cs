using System.Diagnostics;
using MnasNet.Torch;

namespace MnasNet.Latency.Measurement;

/// <summary>The timed part of a measurement: samples in run order, rounds taken and why they stopped.</summary>
public sealed record TimedRuns(IReadOnlyList<double> SamplesMs, int Rounds, StopReason StopReason, double WallSeconds);

/// <summary>Runs a protocol against one "run the model once" function; shared by every local backend.</summary>
public static class MeasurementRunner
{
    /// <summary>
    /// Warm-up, then rounds of timed runs. <paramref name="runOnceMs"/> runs the model once and returns its time in
    /// milliseconds. The time budget counts wall time, or with <paramref name="virtualTime"/> the sum of the samples
    /// (simulated devices, whose samples are not real time, stay deterministic that way). With
    /// <paramref name="quietWindow"/>, local trainers pause from the first warm-up run to the last timed one.
    /// </summary>
    public static TimedRuns Run(MeasurementProtocol protocol, Func<double> runOnceMs, CancellationToken cancellationToken, bool virtualTime = false, Action? beforeEachRun = null, bool quietWindow = false)
    {
        protocol.Validate();
        using var window = quietWindow ? QuietWindow.Shared.Measurement() : null;
        var wall = Stopwatch.StartNew();
        for (var i = 0; i < protocol.Warmup; i++)
        {
            cancellationToken.ThrowIfCancellationRequested();
            beforeEachRun?.Invoke();
            runOnceMs();
        }
        var samples = new List<double>();
        var timed = Stopwatch.StartNew();
        var rounds = 0;
        while (true)
        {
            for (var i = 0; i < protocol.Runs; i++)
            {
                cancellationToken.ThrowIfCancellationRequested();
                beforeEachRun?.Invoke();
                samples.Add(runOnceMs());
            }
            rounds++;
            var spent = virtualTime ? TimeSpan.FromMilliseconds(samples.Sum()) : timed.Elapsed;
            if (Decide(protocol, samples, rounds, spent) is { } reason)
            {
                return new TimedRuns(samples, rounds, reason, wall.Elapsed.TotalSeconds);
            }
        }
    }

    /// <summary>Whether to stop after a round, and why; null: take another round.</summary>
    public static StopReason? Decide(MeasurementProtocol protocol, IReadOnlyList<double> samplesMs, int rounds, TimeSpan spent)
    {
        if (protocol.CvTarget is not { } target)
        {
            return StopReason.RunsCompleted;
        }
        if (Statistics.CoefficientOfVariation(samplesMs) <= target)
        {
            return StopReason.CvTargetMet;
        }
        if (spent >= protocol.TimeBudget)
        {
            return StopReason.TimeBudgetExhausted;
        }
        return rounds >= protocol.MaxRounds ? StopReason.MaxRoundsReached : null;
    }

    /// <summary>
    /// An untimed action that evicts the core's private caches by writing <paramref name="bytes"/> (null for 0).
    /// Timed alone in a loop, a layer keeps its weights in L2; inside a network the other layers' weights and
    /// activations have evicted them. Table builds run this before each run of a single layer.
    /// </summary>
    public static Action? CacheEvictor(int bytes)
    {
        if (bytes <= 0)
        {
            return null;
        }
        var buffer = new byte[bytes];
        return () =>
        {
            for (var i = 0; i < buffer.Length; i += 64)
            {
                buffer[i]++;
            }
        };
    }

    /// <summary>Milliseconds of one call, from the high-resolution timestamp.</summary>
    public static double Time(Action run)
    {
        var start = Stopwatch.GetTimestamp();
        run();
        return Stopwatch.GetElapsedTime(start).TotalMilliseconds;
    }
}
