using System.Collections.Concurrent;

namespace MnasNet.Controller;

/// <summary>
/// The objective families of the benchmark suite, all over the real 42-token space with the analytic latency model
/// and an exact optimum: "surrogate" (<see cref="SurrogateObjective"/>), three seeded <see cref="RandomLandscape"/>s
/// — "additive" (ruggedness 0), "interacting" (1), "rugged" (3) — and "fitted" (<see cref="FittedLandscape"/>, the
/// committed fit to real proxy accuracies).
/// </summary>
public static class ObjectiveFamilies
{
    public const string Surrogate = "surrogate";
    public const string Additive = "additive";
    public const string Interacting = "interacting";
    public const string Rugged = "rugged";
    public const string Fitted = "fitted";

    public static IReadOnlyList<string> All { get; } = [Surrogate, Additive, Interacting, Rugged, Fitted];

    /// <summary>The family's objective; <paramref name="seed"/> picks the landscape (ignored by "fitted").</summary>
    public static BlockObjective Create(string family, ulong seed = 1) => family switch
    {
        Surrogate => new SurrogateObjective(SurrogateOptions.Default with { Seed = seed }),
        Additive => new RandomLandscape(new RandomLandscapeOptions(seed, Ruggedness: 0)),
        Interacting => new RandomLandscape(new RandomLandscapeOptions(seed, Ruggedness: 1)),
        Rugged => new RandomLandscape(new RandomLandscapeOptions(seed, Ruggedness: 3)),
        Fitted => FittedLandscape.LoadDefault(),
        _ => throw new ControllerException($"objective family '{family}': expected one of {string.Join(", ", All)}"),
    };
}

/// <summary>
/// What the suite runs: every strategy × family × reward preset × seed (strategy seeds 1..Seeds) once, up to the
/// largest budget, reading the best reward found at each budget off the same run (no strategy knows its budget).
/// Each landscape is fixed (<paramref name="ObjectiveSeed"/>), so seeds differ only in the strategy's randomness.
/// </summary>
public sealed record SuiteSettings(
    IReadOnlyList<string> Strategies,
    IReadOnlyList<string> Families,
    IReadOnlyList<RewardPreset> Presets,
    IReadOnlyList<int> Budgets,
    int Seeds = 5,
    int Batch = 16,
    double TargetMs = 75,
    ulong ObjectiveSeed = 1,
    int Parallelism = 2,
    ControllerOptions? Ppo = null,
    EvolutionOptions? Evolution = null,
    TpeOptions? Tpe = null)
{
    public static SuiteSettings Full { get; } = new(SearchStrategies.Compared, ObjectiveFamilies.All, [RewardPreset.Soft, RewardPreset.Hard], [250, 500, 1000, 2000]);

    /// <summary>CI-sized: two families, both presets, two seeds, small budgets.</summary>
    public static SuiteSettings Quick { get; } = Full with
    {
        Families = [ObjectiveFamilies.Additive, ObjectiveFamilies.Fitted],
        Budgets = [48, 96],
        Seeds = 2,
    };

    public int MaxBudget => Budgets.Max();

    public SuiteSettings Validate()
    {
        Require(Strategies.Count > 0 && Strategies.All(SearchStrategies.All.Contains), $"strategies must be among {string.Join(", ", SearchStrategies.All)}, got {string.Join(", ", Strategies)}");
        Require(Families.Count > 0 && Families.All(ObjectiveFamilies.All.Contains), $"families must be among {string.Join(", ", ObjectiveFamilies.All)}, got {string.Join(", ", Families)}");
        Require(Presets.Count > 0, "at least one reward preset is needed");
        Require(Budgets.Count > 0 && Budgets.All(b => b is >= 1 and <= 1_000_000), $"budgets must be between 1 and 1000000, got {string.Join(", ", Budgets)}");
        Require(Seeds is >= 1 and <= 1000, $"seeds must be between 1 and 1000, got {Seeds}");
        Require(Batch >= 1 && Batch <= Budgets.Min(), $"batch must be between 1 and the smallest budget ({Budgets.Min()}), got {Batch}");
        Require(TargetMs > 0 && double.IsFinite(TargetMs), $"target latency must be a positive number of ms, got {TargetMs}");
        Require(Parallelism is >= 1 and <= 256, $"parallelism must be between 1 and 256, got {Parallelism}");
        Ppo?.Validate();
        Evolution?.Validate();
        Tpe?.Validate();
        return this;
    }

    private static void Require(bool ok, string message)
    {
        if (!ok)
        {
            throw new ControllerException($"bench controller: {message}");
        }
    }
}

/// <summary>Mean ± sample sd over seeds of the best reward found within one budget, and of the regret to the optimum.</summary>
public sealed record SuiteCell(
    string Family,
    RewardPreset Preset,
    string Strategy,
    int Budget,
    double Optimum,
    double MeanBest,
    double SdBest,
    double MeanRegret,
    double SdRegret,
    int Seeds);

/// <summary>Mean over seeds of the best reward so far after each batch.</summary>
public sealed record SuiteCurve(string Family, RewardPreset Preset, string Strategy, IReadOnlyList<int> Samples, IReadOnlyList<double> MeanBestSoFar);

public sealed record SuiteResult(SuiteSettings Settings, IReadOnlyList<SuiteCell> Cells, IReadOnlyList<SuiteCurve> Curves, double Seconds);

/// <summary>Runs the benchmark suite. Each run is a pure function of its inputs, so parallelism changes only the time.</summary>
public static class ControllerSuite
{
    private sealed record Run(string Family, RewardPreset Preset, string Strategy, ulong Seed);

    public static SuiteResult Execute(SuiteSettings settings, Action<string>? progress = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(settings);
        settings.Validate();
        var watch = System.Diagnostics.Stopwatch.StartNew();
        var objectives = settings.Families.ToDictionary(f => f, f => ObjectiveFamilies.Create(f, settings.ObjectiveSeed));
        var problems = settings.Families.SelectMany(f => settings.Presets.Select(p => (Family: f, Preset: p))).ToArray();
        var optima = new ConcurrentDictionary<(string, RewardPreset), double>();
        var parallel = new ParallelOptions { MaxDegreeOfParallelism = settings.Parallelism, CancellationToken = cancellationToken };
        Parallel.ForEach(problems, parallel, p =>
            optima[p] = objectives[p.Family].Optimum(LatencyTarget.For(p.Preset, settings.TargetMs)).Reward);
        progress?.Invoke($"optima of {problems.Length} problems in {watch.Elapsed.TotalSeconds:F1} s");

        var runs = problems
            .SelectMany(p => settings.Strategies.SelectMany(s => Enumerable.Range(1, settings.Seeds).Select(seed => new Run(p.Family, p.Preset, s, (ulong)seed))))
            .ToArray();
        var curves = new double[runs.Length][];
        var done = 0;
        Parallel.ForEach(Enumerable.Range(0, runs.Length), parallel, RunOne);

        void RunOne(int i)
        {
            var r = runs[i];
            curves[i] = BestSoFar(settings, objectives[r.Family], LatencyTarget.For(r.Preset, settings.TargetMs), r.Strategy, r.Seed);
            var n = Interlocked.Increment(ref done);
            if (n % Math.Max(1, runs.Length / 10) == 0 || n == runs.Length)
            {
                progress?.Invoke($"{n}/{runs.Length} runs, {watch.Elapsed.TotalSeconds:F0} s");
            }
        }

        var cells = new List<SuiteCell>();
        var curveList = new List<SuiteCurve>();
        foreach (var (family, preset) in problems)
        {
            var optimum = optima[(family, preset)];
            foreach (var strategy in settings.Strategies)
            {
                var mine = Enumerable.Range(0, runs.Length)
                    .Where(i => runs[i].Family == family && runs[i].Preset == preset && runs[i].Strategy == strategy)
                    .Select(i => curves[i]).ToArray();
                foreach (var budget in settings.Budgets.Order())
                {
                    var best = mine.Select(c => c[budget - 1]).ToArray();
                    var regret = best.Select(b => optimum - b).ToArray();
                    cells.Add(new SuiteCell(family, preset, strategy, budget, optimum, best.Average(), Sd(best), regret.Average(), Sd(regret), best.Length));
                }
                var samples = Enumerable.Range(1, settings.MaxBudget).Where(k => k % settings.Batch == 0 || k == settings.MaxBudget).ToArray();
                curveList.Add(new SuiteCurve(family, preset, strategy, samples, samples.Select(k => mine.Average(c => c[k - 1])).ToArray()));
            }
        }
        return new SuiteResult(settings, cells, curveList, watch.Elapsed.TotalSeconds);
    }

    /// <summary>One simulated search: the best reward found after each sample (index k = k + 1 samples).</summary>
    public static double[] BestSoFar(SuiteSettings settings, BlockObjective objective, LatencyTarget target, string strategy, ulong seed)
    {
        using var sampler = ArchitectureSamplers.Create(strategy, seed, settings.Ppo, settings.Evolution, settings.Tpe);
        return BestSoFar(settings, objective, target, sampler);
    }

    /// <summary>The same with a given sampler (a warm-started one, say): the best reward after each of its proposals.</summary>
    public static double[] BestSoFar(SuiteSettings settings, BlockObjective objective, LatencyTarget target, IArchitectureSampler sampler)
    {
        ArgumentNullException.ThrowIfNull(sampler);
        var budget = settings.MaxBudget;
        var result = new double[budget];
        var best = double.NegativeInfinity;
        var done = 0;
        while (done < budget)
        {
            var count = Math.Min(settings.Batch, budget - done);
            var proposals = sampler.Sample(count);
            var scored = new ScoredSample[count];
            for (var j = 0; j < count; j++)
            {
                var reward = objective.Reward(proposals[j].Tokens, target).Reward;
                scored[j] = ScoredSample.From(proposals[j], reward);
                best = Math.Max(best, reward);
                result[done + j] = best;
            }
            sampler.Observe(scored);
            done += count;
        }
        return result;
    }

    /// <summary>Sample standard deviation (0 for a single value).</summary>
    public static double Sd(IReadOnlyList<double> values)
    {
        if (values.Count < 2)
        {
            return 0;
        }
        var mean = values.Average();
        return Math.Sqrt(values.Sum(v => (v - mean) * (v - mean)) / (values.Count - 1));
    }
}
