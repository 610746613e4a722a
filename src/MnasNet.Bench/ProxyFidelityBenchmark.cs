using MnasNet.Latency.Measurement;
using MnasNet.SearchSpace;
using MnasNet.Training.Data;
using MnasNet.Training.Proxy;

namespace MnasNet.Bench;

/// <summary>What <see cref="ProxyFidelityBenchmark"/> trains: the sampled architectures, the two recipes and the data sizes.</summary>
public sealed record ProxyFidelitySettings
{
    public int Architectures { get; init; } = 8;

    /// <summary>Seed of the architecture sample (the search space's uniform sampler).</summary>
    public ulong SampleSeed { get; init; } = 1;

    /// <summary>The search's proxy recipe; the final runs use it with <see cref="FinalEpochs"/>.</summary>
    public TrainingRecipe Proxy { get; init; } = TrainingRecipe.Proxy;

    public int FinalEpochs { get; init; } = 10;

    /// <summary>Seed, split, sizes, resolution, width and threads shared by every run.</summary>
    public ProxyTrainingOptions Run { get; init; } = new() { Width = 0.5, Seed = 1, SplitSeed = 1 };

    /// <summary>Runs trained at once (each on its own thread with <c>Run.Threads</c> libtorch threads; results do not depend on it).</summary>
    public int Parallelism { get; init; } = 1;

    public TrainingRecipe Final => Proxy with { Epochs = FinalEpochs };

    public ProxyFidelitySettings Validate()
    {
        var errors = new List<string>();
        if (Architectures < 2)
        {
            errors.Add($"architectures must be at least 2 (Kendall's tau ranks pairs), got {Architectures}");
        }
        if (FinalEpochs < Proxy.Epochs)
        {
            errors.Add($"final epochs ({FinalEpochs}) must be at least the proxy's ({Proxy.Epochs})");
        }
        if (Parallelism is < 1 or > 64)
        {
            errors.Add($"parallelism must be between 1 and 64, got {Parallelism}");
        }
        if (errors.Count > 0)
        {
            throw new TrainingConfigurationException("invalid proxy-fidelity settings: " + string.Join("; ", errors));
        }
        Proxy.Validate();
        Final.ApplyTo(Run).Validate();
        return this;
    }
}

/// <summary>One architecture trained with the proxy recipe and with the final (longer) one.</summary>
public sealed record ProxyFidelityRow(int Index, string ArchitectureId, long Parameters, long Macs, TrainingResult Proxy, TrainingResult Final);

public sealed record ProxyFidelityResult(ProxyFidelitySettings Settings, string Dataset, IReadOnlyList<ProxyFidelityRow> Rows, double KendallTau, double Seconds);

/// <summary>
/// Proxy fidelity: does the proxy task rank architectures as longer training does? Samples architectures with a fixed
/// seed, trains each with the proxy recipe and with the same recipe for more epochs (same data, split and seed),
/// and reports Kendall's τ-b between the two validation accuracies.
/// </summary>
public static class ProxyFidelityBenchmark
{
    public static IReadOnlyList<int[]> SampleArchitectures(MnasNetSearchSpace space, int count, ulong seed)
    {
        var random = new SeededRandom(seed);
        return Enumerable.Range(0, count).Select(_ => space.Sample(random)).ToArray();
    }

    public static ProxyFidelityResult Run(ProxyFidelitySettings settings, Dataset dataset, Action<string>? log, CancellationToken cancellation)
    {
        ArgumentNullException.ThrowIfNull(settings);
        ArgumentNullException.ThrowIfNull(dataset);
        settings.Validate();
        var clock = System.Diagnostics.Stopwatch.StartNew();
        var space = MnasNetSearchSpace.Default;
        var archs = SampleArchitectures(space, settings.Architectures, settings.SampleSeed).Select(space.Decode).ToArray();
        var data = ProxyTrainer.PrepareData(dataset, settings.Proxy.ApplyTo(settings.Run));
        var jobs = archs.SelectMany((a, i) => new[] { (Index: i, Final: false), (Index: i, Final: true) })
            .OrderByDescending(j => j.Final) // long runs first: better packing when parallel
            .ToArray();
        var results = new TrainingResult[archs.Length, 2];
        var gate = new object();
        // One job at a time per thread (no range partitioning), so the long runs spread over the threads.
        Parallel.ForEach(System.Collections.Concurrent.Partitioner.Create(jobs, System.Collections.Concurrent.EnumerablePartitionerOptions.NoBuffering), new ParallelOptions { MaxDegreeOfParallelism = settings.Parallelism, CancellationToken = cancellation }, job =>
        {
            var recipe = job.Final ? settings.Final : settings.Proxy;
            var r = ProxyTrainer.Train(archs[job.Index], data, dataset.Classes, recipe.ApplyTo(settings.Run), cancellation: cancellation);
            results[job.Index, job.Final ? 1 : 0] = r;
            lock (gate)
            {
                log?.Invoke(FormattableString.Invariant(
                    $"arch {job.Index + 1}/{archs.Length} {(job.Final ? "final" : "proxy")} ({recipe.Epochs} epochs): {r.Outcome} val top-1 {r.ValAccuracy:P1}, {r.Seconds:F0} s"));
            }
        });
        var rows = archs.Select((a, i) => new ProxyFidelityRow(i + 1, a.Id, results[i, 0].Parameters, results[i, 0].Macs, results[i, 0], results[i, 1])).ToArray();
        var tau = Statistics.KendallTau(rows.Select(r => r.Proxy.ValAccuracy).ToArray(), rows.Select(r => r.Final.ValAccuracy).ToArray());
        return new ProxyFidelityResult(settings, dataset.Name, rows, tau, clock.Elapsed.TotalSeconds);
    }
}
