namespace MnasNet.Controller;

/// <summary>A strategy that can start from trials another search scored (regularized evolution, TPE).</summary>
public interface ITrialSeededSampler : IArchitectureSampler
{
    /// <summary>The most trials it takes.</summary>
    int SeedCapacity { get; }

    /// <summary>Takes the trials as its own past: as if it had proposed them and observed their rewards, in this order.</summary>
    void Seed(IReadOnlyList<ScoredSample> trials);
}

/// <summary>What a new search's strategy takes from an earlier search.</summary>
public enum WarmStartKind
{
    /// <summary>PPO (LSTM or tabular): the policy's learned state, under the new search's seed and hyper-parameters.</summary>
    PolicyState,

    /// <summary>Evolution, TPE: the earlier search's best trials, re-scored on the new objective.</summary>
    Trials,
}

/// <summary>
/// Warm starts: a new search (for instance on another latency target) begins from what an earlier one of the same
/// strategy learned. PPO takes the earlier policy's parameters and optimiser state (<see cref="PolicyState"/>);
/// evolution and TPE take the earlier search's best trials re-scored under the new reward (<see cref="SelectTrials"/>,
/// <see cref="ITrialSeededSampler.Seed"/>). Random search learns nothing, so it has nothing to take.
/// </summary>
public static class WarmStarts
{
    public static WarmStartKind? KindOf(string strategy) => strategy switch
    {
        SearchStrategies.Ppo or SearchStrategies.PpoTabular => WarmStartKind.PolicyState,
        SearchStrategies.Evolution or SearchStrategies.Tpe => WarmStartKind.Trials,
        SearchStrategies.Random => null,
        _ => throw new ControllerException($"unknown strategy '{strategy}' (expected {string.Join(", ", SearchStrategies.All)})"),
    };

    /// <summary>The starting state of a PPO search of <paramref name="strategy"/> from an earlier search's saved state.</summary>
    public static byte[] PolicyState(string strategy, byte[] source, ControllerOptions options) => strategy switch
    {
        SearchStrategies.Ppo => PpoController.WarmStartState(source, options),
        SearchStrategies.PpoTabular => TabularPpoPolicy.WarmStartState(source, options.Seed),
        _ => throw new ControllerException($"strategy '{strategy}' does not start from a policy state"),
    };

    /// <summary>
    /// Which of <paramref name="trials"/> a trial-seeded strategy takes: the best <paramref name="capacity"/> by reward
    /// (ties: the earlier), as indices in ascending reward order, so in an aging population the best leave last.
    /// </summary>
    public static IReadOnlyList<int> SelectTrials(IReadOnlyList<ScoredSample> trials, int capacity)
    {
        ArgumentNullException.ThrowIfNull(trials);
        return Enumerable.Range(0, trials.Count)
            .OrderByDescending(i => trials[i].Reward).ThenBy(i => i)
            .Take(Math.Max(0, capacity))
            .Reverse()
            .ToList();
    }

    /// <summary>Seeds <paramref name="sampler"/> with its pick of <paramref name="trials"/>; returns the indices taken.</summary>
    public static IReadOnlyList<int> Seed(ITrialSeededSampler sampler, IReadOnlyList<ScoredSample> trials)
    {
        ArgumentNullException.ThrowIfNull(sampler);
        var taken = SelectTrials(trials, sampler.SeedCapacity);
        sampler.Seed([.. taken.Select(i => trials[i])]);
        return taken;
    }
}
