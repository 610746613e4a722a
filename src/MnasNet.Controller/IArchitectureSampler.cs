using System.Text;

namespace MnasNet.Controller;

/// <summary>
/// A search strategy: proposes architectures, learns from their rewards, and saves its whole state so a search can
/// resume exactly. PPO (LSTM or tabular), uniform random search and regularized evolution all implement it, and the
/// search's controller (MnasNet.Actors) drives every strategy through it alone.
/// </summary>
public interface IArchitectureSampler : IDisposable
{
    /// <summary>One of <see cref="SearchStrategies.All"/>.</summary>
    string Strategy { get; }

    /// <summary>Identifies the current proposal distribution (PPO: the parameter hash).</summary>
    string Version { get; }

    IReadOnlyList<Proposal> Sample(int count);

    /// <summary>Feeds back one batch of rewards (PPO runs one update on it) and says what the update did.</summary>
    SamplerStep Observe(IReadOnlyList<ScoredSample> batch);

    /// <summary>Everything needed to continue exactly; <see cref="ArchitectureSamplers.Restore"/> reads it back.</summary>
    byte[] SaveState();

    /// <summary>Leaves the random state where sampling <paramref name="count"/> proposals would (recovery: the journal holds them).</summary>
    void SkipSamples(int count) => Sample(count);

    /// <summary>The float parameters the last bits of an update depend on (empty for strategies of exact arithmetic).</summary>
    IReadOnlyList<float> ParameterValues() => [];

    /// <summary>Whether samples and updates are plain arithmetic that gives equal bits on every platform.</summary>
    bool ExactArithmetic => true;

    /// <summary>The libtorch intra-op thread count its updates run with (null for strategies that use no libtorch).</summary>
    int? Threads => null;

    /// <summary>Runs later samples and updates with <paramref name="threads"/> libtorch threads (no-op without libtorch).</summary>
    void ContinueWithThreads(int threads)
    {
    }
}

/// <summary>
/// What one <see cref="IArchitectureSampler.Observe"/> did, as the search journals it. Strategies without a learned
/// policy report the batch's rewards centred on their mean as advantages and the mean as baseline.
/// </summary>
public sealed record SamplerStep(
    string VersionBefore,
    string ParameterHash,
    IReadOnlyList<double> Advantages,
    double PolicyLoss,
    double Entropy,
    double ApproxKl,
    double ClipFraction,
    double BaselineBefore,
    double BaselineAfter)
{
    /// <summary>No update at all (a batch with nothing to learn from).</summary>
    public static SamplerStep Unchanged(string version) => new(version, version, [], 0, 0, 0, 0, 0, 0);

    public static SamplerStep Unlearned(string versionBefore, string versionAfter, IReadOnlyList<ScoredSample> batch)
    {
        var mean = batch.Count > 0 ? batch.Average(b => b.Reward) : 0;
        return new SamplerStep(versionBefore, versionAfter, [.. batch.Select(b => b.Reward - mean)], 0, 0, 0, 0, mean, mean);
    }
}

/// <summary>The strategy names: the one list settings, the CLI and the factories accept.</summary>
public static class SearchStrategies
{
    public const string Ppo = "ppo";
    public const string Random = "random";
    public const string Evolution = "evolution";
    public const string Tpe = "tpe";
    public const string PpoTabular = "ppo-tabular";

    public static IReadOnlyList<string> All { get; } = [Ppo, Random, Evolution, Tpe, PpoTabular];

    /// <summary>What the controller suite compares by default: ppo-tabular only stands in for ppo where speed matters.</summary>
    public static IReadOnlyList<string> Compared { get; } = [Ppo, Random, Evolution, Tpe];
}

/// <summary>Creates a sampler by strategy name and restores any sampler from its saved state.</summary>
public static class ArchitectureSamplers
{
    internal const int MagicLength = 8;

    public static IArchitectureSampler Create(string strategy, ulong seed, ControllerOptions? ppo = null, EvolutionOptions? evolution = null, TpeOptions? tpe = null) =>
        strategy switch
        {
            SearchStrategies.Ppo => CreatePpo((ppo ?? ControllerOptions.Default) with { Seed = seed }),
            SearchStrategies.Random => new RandomSearchSampler(seed),
            SearchStrategies.Evolution => new EvolutionSampler((evolution ?? EvolutionOptions.Default) with { Seed = seed }),
            SearchStrategies.Tpe => new TpeSampler((tpe ?? TpeOptions.Default) with { Seed = seed }),
            SearchStrategies.PpoTabular => new TabularPpoPolicy(MnasNet.SearchSpace.MnasNetSearchSpace.Default, (ppo ?? ControllerOptions.Default) with { Seed = seed }),
            _ => throw new ControllerException($"unknown strategy '{strategy}' (expected {string.Join(", ", SearchStrategies.All)})"),
        };

    /// <summary>Strategy "ppo" on the engine <see cref="ControllerOptions.Engine"/> names.</summary>
    public static IArchitectureSampler CreatePpo(ControllerOptions options) => options.Engine switch
    {
        ControllerEngines.Managed => new Managed.ManagedPpoController(options),
        ControllerEngines.Libtorch => new PpoController(options),
        _ => throw new ControllerException($"controller option Engine must be one of {string.Join(", ", ControllerEngines.All)}, got {options.Engine}"),
    };

    /// <param name="ppo">The options a tabular PPO policy was created with (its saved state holds no hyper-parameters).</param>
    public static IArchitectureSampler Restore(byte[] state, ControllerOptions? ppo = null)
    {
        ArgumentNullException.ThrowIfNull(state);
        if (state.Length > 0 && state[0] == (byte)'{')
        {
            return TabularPpoPolicy.Restore(MnasNet.SearchSpace.MnasNetSearchSpace.Default, ppo ?? ControllerOptions.Default, state);
        }
        var magic = state.Length >= MagicLength ? Encoding.ASCII.GetString(state, 0, MagicLength) : "";
        return magic switch
        {
            PpoController.Magic => PpoController.Restore(state),
            Managed.ManagedPpoController.Magic => Managed.ManagedPpoController.Restore(state),
            RandomSearchSampler.Magic => RandomSearchSampler.Restore(state),
            EvolutionSampler.Magic => EvolutionSampler.Restore(state),
            TpeSampler.Magic => TpeSampler.Restore(state),
            _ => throw new ControllerException("sampler state: unknown format (not a PPO, random, evolution or TPE state)"),
        };
    }
}
