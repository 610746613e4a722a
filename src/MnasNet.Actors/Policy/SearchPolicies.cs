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
            ? new TabularPpoPolicy(space, ControllerOptions(settings, SeededRandom.Derive(settings.Seed, "policy")))
            : ArchitectureSamplers.Create(settings.Strategy, SeededRandom.Derive(settings.Seed, "policy"), ControllerOptions(settings, 0));

    /// <param name="threads">The libtorch thread count to continue with; unset: the count saved in the state.</param>
    public static IArchitectureSampler Restore(SearchSettings settings, MnasNetSearchSpace space, byte[] state, int? threads = null) =>
        settings.Strategy == SearchStrategies.PpoTabular
            ? TabularPpoPolicy.Restore(space, ControllerOptions(settings, 0), state)
            : ArchitectureSamplers.Restore(state, ControllerOptions(settings, 0), threads);

    public static ControllerOptions ControllerOptions(SearchSettings s, ulong seed) => new(
        Seed: seed,
        LearningRate: s.Policy.LearningRate,
        ClipEpsilon: s.Policy.Clip,
        Epochs: s.Policy.Epochs,
        EntropyCoefficient: s.Policy.EntropyWeight,
        BaselineDecay: s.Policy.BaselineDecay,
        Threads: s.PolicyThreads);
}
