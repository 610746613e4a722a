using MnasNet.Actors.Protocol;
using MnasNet.Actors.Settings;
using MnasNet.Controller;
using MnasNet.SearchSpace;

namespace MnasNet.Actors.Policy;

/// <summary>
/// The search's strategy from its settings: one of <see cref="SearchStrategies.All"/>, created or restored through
/// MnasNet.Controller's <see cref="ArchitectureSamplers"/> with the settings' policy options and a seed derived from
/// the search seed.
/// </summary>
public static class SearchPolicies
{
    public static IArchitectureSampler Create(SearchSettings settings, MnasNetSearchSpace space) =>
        settings.Strategy == SearchStrategies.PpoTabular
            ? new TabularPpoPolicy(space, ControllerOptions(settings, PolicySeed(settings)))
            : ArchitectureSamplers.Create(settings.Strategy, PolicySeed(settings), ControllerOptions(settings, 0));

    /// <summary>
    /// The starting sampler of a warm-started search: the planned policy state, or a new sampler seeded with the
    /// journaled trials (so the audit re-derives it from the journal alone).
    /// </summary>
    public static IArchitectureSampler Create(SearchSettings settings, MnasNetSearchSpace space, WarmStart warm, byte[]? policyState)
    {
        if (warm.Taken == WarmStartKind.PolicyState)
        {
            return Restore(settings, space, policyState ?? throw new InvalidOperationException("a policy-state warm start without its state"));
        }
        var sampler = Create(settings, space);
        if (sampler is not ITrialSeededSampler seeded)
        {
            sampler.Dispose();
            throw new WarmStartException($"strategy {settings.Strategy} cannot start from trials");
        }
        seeded.Seed([.. (warm.Trials ?? []).Select(t => new ScoredSample(t.Tokens, null, t.Reward, t.Failed))]);
        return sampler;
    }

    /// <summary>The strategy's seed, derived from the search seed.</summary>
    public static ulong PolicySeed(SearchSettings settings) => SeededRandom.Derive(settings.Seed, "policy");

    /// <param name="threads">The libtorch thread count to continue with; unset: the count saved in the state.</param>
    public static IArchitectureSampler Restore(SearchSettings settings, MnasNetSearchSpace space, byte[] state, int? threads = null)
    {
        var policy = settings.Strategy == SearchStrategies.PpoTabular
            ? TabularPpoPolicy.Restore(space, ControllerOptions(settings, 0), state)
            : ArchitectureSamplers.Restore(state, ControllerOptions(settings, 0));
        if (threads is { } count)
        {
            policy.ContinueWithThreads(count);
        }
        return policy;
    }

    public static ControllerOptions ControllerOptions(SearchSettings s, ulong seed) => new(
        Seed: seed,
        LearningRate: s.Policy.LearningRate,
        ClipEpsilon: s.Policy.Clip,
        Epochs: s.Policy.Epochs,
        EntropyCoefficient: s.Policy.EntropyWeight,
        BaselineDecay: s.Policy.BaselineDecay,
        Threads: s.PolicyThreads,
        Engine: s.Policy.Engine);
}
