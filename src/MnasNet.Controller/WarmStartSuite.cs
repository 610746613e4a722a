using System.Collections.Concurrent;

namespace MnasNet.Controller;

/// <summary>
/// One warm-start cell: a strategy on a problem at latency target T (<see cref="SuiteSettings.TargetMs"/>), run cold
/// and warm-started from a run of the same strategy at <see cref="WarmStartSuiteResult.SourceTargetMs"/>. Best reward
/// after <paramref name="Budget"/> new architectures, mean ± sd over seeds, for both; and the architectures the warm
/// run needed to reach the cold run's best at that budget (same seed), mean ± sd over the <paramref name="Reached"/>
/// seeds that reached it within the suite's largest budget (null when none did).
/// </summary>
public sealed record WarmStartCell(
    string Family,
    RewardPreset Preset,
    string Strategy,
    int Budget,
    double Optimum,
    double ColdMean,
    double ColdSd,
    double WarmMean,
    double WarmSd,
    double? BudgetToColdBestMean,
    double BudgetToColdBestSd,
    int Reached,
    int Seeds);

public sealed record WarmStartSuiteResult(SuiteSettings Settings, double SourceTargetMs, int SourceBudget, IReadOnlyList<WarmStartCell> Cells, double Seconds);

/// <summary>
/// The warm-start benchmark: what a second search on a new latency target gains from the first. Per problem,
/// strategy and seed: a source run at the source target for the source budget (seed + 1000), then a cold run and a
/// warm-started run at the suite's target (same seed). The warm run starts as <c>search --warm-start</c> does
/// (<see cref="WarmStarts"/>): PPO from the source's policy state re-seeded, evolution and TPE from the source's best
/// trials re-scored at the new target. Only the new run's own proposals count towards its budget and best reward.
/// </summary>
public static class WarmStartSuite
{
    private sealed record Run(string Family, RewardPreset Preset, string Strategy, ulong Seed);

    public static WarmStartSuiteResult Execute(SuiteSettings settings, double sourceTargetMs, int? sourceBudget = null, Action<string>? progress = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(settings);
        settings.Validate();
        if (!(sourceTargetMs > 0 && double.IsFinite(sourceTargetMs)))
        {
            throw new ControllerException($"bench controller: the source's target latency must be a positive number of ms, got {sourceTargetMs}");
        }
        var budget = sourceBudget ?? settings.MaxBudget;
        if (budget is < 1 or > 1_000_000)
        {
            throw new ControllerException($"bench controller: the source budget must be between 1 and 1000000, got {budget}");
        }
        if (settings.Strategies.FirstOrDefault(s => WarmStarts.KindOf(s) is null) is { } none)
        {
            throw new ControllerException($"bench controller: strategy {none} has nothing to warm-start from");
        }
        var watch = System.Diagnostics.Stopwatch.StartNew();
        var objectives = settings.Families.ToDictionary(f => f, f => ObjectiveFamilies.Create(f, settings.ObjectiveSeed));
        var problems = settings.Families.SelectMany(f => settings.Presets.Select(p => (Family: f, Preset: p))).ToArray();
        var optima = new ConcurrentDictionary<(string, RewardPreset), double>();
        var parallel = new ParallelOptions { MaxDegreeOfParallelism = settings.Parallelism, CancellationToken = cancellationToken };
        Parallel.ForEach(problems, parallel, p => optima[p] = objectives[p.Family].Optimum(LatencyTarget.For(p.Preset, settings.TargetMs)).Reward);
        var runs = problems
            .SelectMany(p => settings.Strategies.SelectMany(s => Enumerable.Range(1, settings.Seeds).Select(seed => new Run(p.Family, p.Preset, s, (ulong)seed))))
            .ToArray();
        var cold = new double[runs.Length][];
        var warm = new double[runs.Length][];
        var done = 0;
        Parallel.ForEach(Enumerable.Range(0, runs.Length), parallel, RunOne);

        void RunOne(int i)
        {
            var r = runs[i];
            var objective = objectives[r.Family];
            var target = LatencyTarget.For(r.Preset, settings.TargetMs);
            cold[i] = ControllerSuite.BestSoFar(settings, objective, target, r.Strategy, r.Seed);
            using var started = WarmStarted(settings, objective, LatencyTarget.For(r.Preset, sourceTargetMs), budget, target, r.Strategy, r.Seed);
            warm[i] = ControllerSuite.BestSoFar(settings, objective, target, started);
            var n = Interlocked.Increment(ref done);
            if (n % Math.Max(1, runs.Length / 10) == 0 || n == runs.Length)
            {
                progress?.Invoke($"{n}/{runs.Length} runs, {watch.Elapsed.TotalSeconds:F0} s");
            }
        }

        var cells = new List<WarmStartCell>();
        foreach (var (family, preset) in problems)
        {
            foreach (var strategy in settings.Strategies)
            {
                var mine = Enumerable.Range(0, runs.Length).Where(i => runs[i].Family == family && runs[i].Preset == preset && runs[i].Strategy == strategy).ToArray();
                foreach (var b in settings.Budgets.Order())
                {
                    var coldBest = mine.Select(i => cold[i][b - 1]).ToArray();
                    var warmBest = mine.Select(i => warm[i][b - 1]).ToArray();
                    var needed = mine.Select(i => Array.FindIndex(warm[i], v => v >= cold[i][b - 1]) + 1).Where(k => k > 0).Select(k => (double)k).ToArray();
                    cells.Add(new WarmStartCell(family, preset, strategy, b, optima[(family, preset)], coldBest.Average(), ControllerSuite.Sd(coldBest),
                        warmBest.Average(), ControllerSuite.Sd(warmBest), needed.Length > 0 ? needed.Average() : null, ControllerSuite.Sd(needed), needed.Length, mine.Length));
                }
            }
        }
        return new WarmStartSuiteResult(settings, sourceTargetMs, budget, cells, watch.Elapsed.TotalSeconds);
    }

    /// <summary>
    /// A sampler of <paramref name="strategy"/> started from a source run of <paramref name="sourceBudget"/>
    /// architectures at <paramref name="sourceTarget"/>, as a warm-started search at <paramref name="target"/> begins.
    /// </summary>
    public static IArchitectureSampler WarmStarted(SuiteSettings settings, BlockObjective objective, LatencyTarget sourceTarget, int sourceBudget, LatencyTarget target, string strategy, ulong seed)
    {
        var trials = new List<ScoredSample>(sourceBudget);
        byte[] state;
        using (var source = ArchitectureSamplers.Create(strategy, seed + 1000, settings.Ppo, settings.Evolution, settings.Tpe))
        {
            for (var done = 0; done < sourceBudget;)
            {
                var proposals = source.Sample(Math.Min(settings.Batch, sourceBudget - done));
                var scored = proposals.Select(p => ScoredSample.From(p, objective.Reward(p.Tokens, sourceTarget).Reward)).ToArray();
                source.Observe(scored);
                trials.AddRange(scored);
                done += proposals.Count;
            }
            state = source.SaveState();
        }
        if (WarmStarts.KindOf(strategy) == WarmStartKind.PolicyState)
        {
            var options = (settings.Ppo ?? ControllerOptions.Default) with { Seed = seed };
            return ArchitectureSamplers.Restore(WarmStarts.PolicyState(strategy, state, options), options);
        }
        var sampler = ArchitectureSamplers.Create(strategy, seed, settings.Ppo, settings.Evolution, settings.Tpe);
        WarmStarts.Seed((ITrialSeededSampler)sampler, [.. trials.Select(t => t with { Reward = objective.Reward(t.Tokens, target).Reward, LogProb = null })]);
        return sampler;
    }
}
