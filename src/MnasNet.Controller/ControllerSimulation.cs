namespace MnasNet.Controller;

/// <summary>
/// A simulated search: <paramref name="Budget"/> architectures in batches of <paramref name="Batch"/> (the last batch
/// may be smaller), scored by the <see cref="SurrogateObjective"/> with the reward preset and target.
/// <paramref name="Seed"/> seeds the strategy; <paramref name="ObjectiveSeed"/> picks the surrogate landscape, fixed by
/// default so that different search seeds are compared on the same problem.
/// </summary>
public sealed record SimulationSettings(
    string Strategy,
    int Budget,
    int Batch = 32,
    ulong Seed = 0,
    RewardPreset Reward = RewardPreset.Soft,
    double TargetMs = 75,
    ulong ObjectiveSeed = 1,
    ControllerOptions? Ppo = null,
    EvolutionOptions? Evolution = null,
    bool ComputeOptimum = false,
    TpeOptions? Tpe = null)
{
    public SimulationSettings Validate()
    {
        if (!SearchStrategies.All.Contains(Strategy))
        {
            throw new ControllerException($"strategy '{Strategy}': expected {string.Join(", ", SearchStrategies.All)}");
        }
        if (Budget is < 1 or > 10_000_000)
        {
            throw new ControllerException($"budget must be between 1 and 10000000 architectures, got {Budget}");
        }
        if (Batch < 1 || Batch > Budget)
        {
            throw new ControllerException($"batch must be between 1 and the budget ({Budget}), got {Batch}");
        }
        if (!(TargetMs > 0 && double.IsFinite(TargetMs)))
        {
            throw new ControllerException($"target latency must be a positive number of ms, got {TargetMs}");
        }
        Ppo?.Validate();
        Evolution?.Validate();
        Tpe?.Validate();
        return this;
    }
}

/// <summary>One batch of a simulation: its mean and best reward, and the best reward so far.</summary>
public sealed record BatchPoint(int Batch, int Samples, double MeanReward, double MaxReward, double BestSoFar);

public sealed record SimulationResult(
    string Strategy,
    double BestReward,
    IReadOnlyList<int> BestTokens,
    double BestAccuracy,
    double BestLatencyMs,
    double MeanRewardLastBatch,
    int Samples,
    IReadOnlyList<BatchPoint> Curve,
    string FinalVersion,
    SurrogateOptimum? Optimum);

/// <summary>Runs a strategy against the surrogate objective, without actors. Pure given the settings.</summary>
public static class ControllerSimulation
{
    public static SimulationResult Run(SimulationSettings settings, BlockObjective? objective = null)
    {
        ArgumentNullException.ThrowIfNull(settings);
        settings.Validate();
        objective ??= new SurrogateObjective(SurrogateOptions.Default with { Seed = settings.ObjectiveSeed });
        var target = LatencyTarget.For(settings.Reward, settings.TargetMs);
        using var sampler = ArchitectureSamplers.Create(settings.Strategy, settings.Seed, settings.Ppo, settings.Evolution, settings.Tpe);

        var curve = new List<BatchPoint>();
        var best = double.NegativeInfinity;
        IReadOnlyList<int> bestTokens = [];
        SurrogateEvaluation? bestEvaluation = null;
        var done = 0;
        var lastMean = double.NaN;
        while (done < settings.Budget)
        {
            var count = Math.Min(settings.Batch, settings.Budget - done);
            var proposals = sampler.Sample(count);
            var scored = new ScoredSample[count];
            for (var j = 0; j < count; j++)
            {
                var evaluation = objective.Evaluate(proposals[j].Tokens);
                var reward = RewardFormula.Compute(evaluation.Accuracy, evaluation.LatencyMs, target).Reward;
                scored[j] = ScoredSample.From(proposals[j], reward);
                if (reward > best)
                {
                    (best, bestTokens, bestEvaluation) = (reward, proposals[j].Tokens, evaluation);
                }
            }
            sampler.Observe(scored);
            done += count;
            lastMean = scored.Average(s => s.Reward);
            curve.Add(new BatchPoint(curve.Count + 1, done, lastMean, scored.Max(s => s.Reward), best));
        }
        return new SimulationResult(settings.Strategy, best, bestTokens, bestEvaluation!.Accuracy, bestEvaluation.LatencyMs,
            lastMean, done, curve, sampler.Version, settings.ComputeOptimum ? objective.Optimum(target) : null);
    }
}
