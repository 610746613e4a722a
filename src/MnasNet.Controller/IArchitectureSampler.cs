using System.Text;

namespace MnasNet.Controller;

/// <summary>
/// A search strategy: proposes architectures, learns from their rewards, and saves its whole state so a search can
/// resume exactly. PPO, uniform random search and regularized evolution all implement it.
/// </summary>
public interface IArchitectureSampler : IDisposable
{
    /// <summary>"ppo", "random", "evolution" or "tpe".</summary>
    string Strategy { get; }

    /// <summary>Identifies the current proposal distribution (PPO: the parameter hash).</summary>
    string Version { get; }

    IReadOnlyList<Proposal> Sample(int count);

    /// <summary>Feeds back one batch of rewards (PPO runs one update on it).</summary>
    void Observe(IReadOnlyList<ScoredSample> batch);

    /// <summary>Everything needed to continue exactly; <see cref="ArchitectureSamplers.Restore"/> reads it back.</summary>
    byte[] SaveState();
}

public static class SearchStrategies
{
    public const string Ppo = "ppo";
    public const string Random = "random";
    public const string Evolution = "evolution";
    public const string Tpe = "tpe";

    public static IReadOnlyList<string> All { get; } = [Ppo, Random, Evolution, Tpe];
}

/// <summary>Creates a sampler by strategy name and restores any sampler from its saved state.</summary>
public static class ArchitectureSamplers
{
    internal const int MagicLength = 8;

    public static IArchitectureSampler Create(string strategy, ulong seed, ControllerOptions? ppo = null, EvolutionOptions? evolution = null, TpeOptions? tpe = null) =>
        strategy switch
        {
            SearchStrategies.Ppo => new PpoController((ppo ?? ControllerOptions.Default) with { Seed = seed }),
            SearchStrategies.Random => new RandomSearchSampler(seed),
            SearchStrategies.Evolution => new EvolutionSampler((evolution ?? EvolutionOptions.Default) with { Seed = seed }),
            SearchStrategies.Tpe => new TpeSampler((tpe ?? TpeOptions.Default) with { Seed = seed }),
            _ => throw new ControllerException($"unknown strategy '{strategy}' (expected {string.Join(", ", SearchStrategies.All)})"),
        };

    public static IArchitectureSampler Restore(byte[] state)
    {
        ArgumentNullException.ThrowIfNull(state);
        var magic = state.Length >= MagicLength ? Encoding.ASCII.GetString(state, 0, MagicLength) : "";
        return magic switch
        {
            PpoController.Magic => PpoController.Restore(state),
            RandomSearchSampler.Magic => RandomSearchSampler.Restore(state),
            EvolutionSampler.Magic => EvolutionSampler.Restore(state),
            TpeSampler.Magic => TpeSampler.Restore(state),
            _ => throw new ControllerException("sampler state: unknown format (not a PPO, random, evolution or TPE state)"),
        };
    }
}
