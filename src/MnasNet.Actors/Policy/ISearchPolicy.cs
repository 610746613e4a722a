using MnasNet.SearchSpace;

namespace MnasNet.Actors.Policy;

/// <summary>One proposal: tokens and their log-probability under the policy version that drew them.</summary>
public sealed record PolicySample(IReadOnlyList<int> Tokens, double LogProb);

/// <summary>A finished trial fed back to the policy (always in trial-id order).</summary>
public sealed record PolicyFeedback(IReadOnlyList<int> Tokens, double LogProb, double Reward, bool Failed);

/// <summary>What one update did; the controller journals all of it.</summary>
public sealed record PolicyStepResult(
    long Step,
    string VersionBefore,
    string ParameterHash,
    IReadOnlyList<double> Advantages,
    double PolicyLoss,
    double Entropy,
    double ApproxKl,
    double ClipFraction,
    double BaselineBefore,
    double BaselineAfter);

/// <summary>
/// The search strategy the SearchController drives: sample a batch, learn from its rewards, save and restore its whole
/// state (parameters, optimizer, random stream) so a resumed search continues bit for bit.
/// </summary>
public interface ISearchPolicy : IDisposable
{
    string Strategy { get; }

    /// <summary>Parameter hash: identifies the distribution the next samples come from.</summary>
    string Version { get; }

    long Step { get; }

    IReadOnlyList<PolicySample> Sample(int count);

    PolicyStepResult Update(IReadOnlyList<PolicyFeedback> batch);

    byte[] SaveState();
}

public static class SearchPolicies
{
    /// <summary>
    /// "ppo": MnasNet.Controller's LSTM policy with PPO (the paper's controller); "random" and "evolution": its
    /// baselines; "ppo-tabular": a factorised softmax policy with PPO in plain C# (fast; benchmarks and big simulations).
    /// </summary>
    public static readonly IReadOnlyList<string> Strategies = ["ppo", "random", "evolution", "ppo-tabular"];

    public static ISearchPolicy Create(Settings.SearchSettings settings, MnasNetSearchSpace space)
    {
        var seed = SeededRandom.Derive(settings.Seed, "policy");
        return settings.Strategy switch
        {
            "ppo-tabular" => new TabularPpoPolicy(space, settings.Policy, seed),
            "ppo" => new ControllerSamplerPolicy(new Controller.PpoController(ControllerOptions(settings, seed), space)),
            "random" or "evolution" => new ControllerSamplerPolicy(Controller.ArchitectureSamplers.Create(settings.Strategy, seed)),
            _ => throw new Settings.SettingsException($"strategy '{settings.Strategy}' is not supported"),
        };
    }

    /// <param name="step">The policy step the state was saved at (the snapshot's journaled step).</param>
    public static ISearchPolicy Restore(Settings.SearchSettings settings, MnasNetSearchSpace space, byte[] state, long step) => settings.Strategy switch
    {
        "ppo-tabular" => TabularPpoPolicy.Restore(space, settings.Policy, state),
        _ => new ControllerSamplerPolicy(Controller.ArchitectureSamplers.Restore(state), step),
    };

    public static Controller.ControllerOptions ControllerOptions(Settings.SearchSettings s, ulong seed) => new(
        Seed: seed,
        LearningRate: s.Policy.LearningRate,
        ClipEpsilon: s.Policy.Clip,
        Epochs: s.Policy.Epochs,
        EntropyCoefficient: s.Policy.EntropyWeight,
        BaselineDecay: s.Policy.BaselineDecay,
        Threads: s.Threads);
}
