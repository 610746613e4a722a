using System.Diagnostics;
using MnasNet.Controller;

namespace MnasNet.Bench;

/// <summary>Controller throughput at given sizes: architectures sampled per second and PPO updates per second.</summary>
public sealed record ControllerBenchmarkResult(
    ControllerOptions Options,
    int Batch,
    long ParameterCount,
    int SampleBatches,
    double SamplesPerSecond,
    int Updates,
    double UpdatesPerSecond,
    double MillisecondsPerUpdate,
    double CpuMillisecondsPerSampleBatch,
    double CpuMillisecondsPerUpdate);

public static class ControllerBenchmark
{
    /// <summary>
    /// Times <paramref name="sampleBatches"/> batched samplings of <paramref name="batch"/> architectures, then
    /// <paramref name="updates"/> PPO updates on batches of that size (rewards from the surrogate), after one warm-up
    /// of each, on the engine <see cref="ControllerOptions.Engine"/> names.
    /// </summary>
    public static ControllerBenchmarkResult Run(ControllerOptions? options = null, int batch = 32, int sampleBatches = 20, int updates = 10)
    {
        options ??= ControllerOptions.Default;
        if (batch < 1 || sampleBatches < 1 || updates < 1)
        {
            throw new ControllerException("bench: batch, sample batches and updates must be at least 1");
        }
        var objective = new SurrogateObjective();
        var target = LatencyTarget.For(RewardPreset.Soft, 75);
        using var controller = ArchitectureSamplers.CreatePpo(options);
        var scored = Score(controller.Sample(batch), objective, target);
        controller.Observe(scored);

        // Process CPU time beside wall time: on a loaded machine the wall clock mostly measures the other processes.
        using var process = Process.GetCurrentProcess();
        var cpu = process.TotalProcessorTime;
        var watch = Stopwatch.StartNew();
        for (var i = 0; i < sampleBatches; i++)
        {
            controller.Sample(batch);
        }
        var sampleSeconds = watch.Elapsed.TotalSeconds;
        process.Refresh();
        var sampleCpu = (process.TotalProcessorTime - cpu).TotalMilliseconds;

        var batches = Enumerable.Range(0, updates).Select(_ => Score(controller.Sample(batch), objective, target)).ToArray();
        process.Refresh();
        cpu = process.TotalProcessorTime;
        watch.Restart();
        foreach (var b in batches)
        {
            controller.Observe(b);
        }
        var updateSeconds = watch.Elapsed.TotalSeconds;
        process.Refresh();
        var updateCpu = (process.TotalProcessorTime - cpu).TotalMilliseconds;
        return new ControllerBenchmarkResult(options, batch, controller.ParameterValues().Count, sampleBatches,
            sampleBatches * batch / sampleSeconds, updates, updates / updateSeconds, updateSeconds * 1000 / updates,
            sampleCpu / sampleBatches, updateCpu / updates);
    }

    private static ScoredSample[] Score(IReadOnlyList<Proposal> proposals, SurrogateObjective objective, LatencyTarget target) =>
        proposals.Select(p => ScoredSample.From(p, objective.Reward(p.Tokens, target).Reward)).ToArray();
}
