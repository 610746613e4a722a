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
    double MillisecondsPerUpdate);

public static class ControllerBenchmark
{
    /// <summary>
    /// Times <paramref name="sampleBatches"/> batched samplings of <paramref name="batch"/> architectures, then
    /// <paramref name="updates"/> PPO updates on batches of that size (rewards from the surrogate), after one warm-up
    /// of each.
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
        using var controller = new PpoController(options);
        var scored = Score(controller.Sample(batch), objective, target);
        controller.Update(scored);

        var watch = Stopwatch.StartNew();
        for (var i = 0; i < sampleBatches; i++)
        {
            controller.Sample(batch);
        }
        var sampleSeconds = watch.Elapsed.TotalSeconds;

        var batches = Enumerable.Range(0, updates).Select(_ => Score(controller.Sample(batch), objective, target)).ToArray();
        watch.Restart();
        foreach (var b in batches)
        {
            controller.Update(b);
        }
        var updateSeconds = watch.Elapsed.TotalSeconds;
        return new ControllerBenchmarkResult(options, batch, controller.ParameterCount, sampleBatches,
            sampleBatches * batch / sampleSeconds, updates, updates / updateSeconds, updateSeconds * 1000 / updates);
    }

    private static ScoredSample[] Score(IReadOnlyList<Proposal> proposals, SurrogateObjective objective, LatencyTarget target) =>
        proposals.Select(p => ScoredSample.From(p, objective.Reward(p.Tokens, target).Reward)).ToArray();
}
