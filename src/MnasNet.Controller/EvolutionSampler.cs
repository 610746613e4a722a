using MnasNet.SearchSpace;

namespace MnasNet.Controller;

/// <summary>
/// Settings of regularized (aging) evolution. Real et al. (2019) use population 100 and sample size 25 for 20k
/// models; the defaults keep their 1:4 ratio at a size that still turns over several times in a budget of a few
/// thousand.
/// </summary>
public sealed record EvolutionOptions(int PopulationSize = 64, int SampleSize = 16, ulong Seed = 0)
{
    public static EvolutionOptions Default { get; } = new();

    public EvolutionOptions Validate()
    {
        if (PopulationSize is < 2 or > 1_000_000)
        {
            throw new ControllerException($"evolution option PopulationSize must be between 2 and 1000000, got {PopulationSize}");
        }
        if (SampleSize < 1 || SampleSize > PopulationSize)
        {
            throw new ControllerException($"evolution option SampleSize must be between 1 and PopulationSize ({PopulationSize}), got {SampleSize}");
        }
        return this;
    }
}

/// <summary>
/// Regularized (aging) evolution (Real et al. 2019): the first PopulationSize proposals are uniform random; after
/// that each proposal is a copy of the best of SampleSize members drawn at random (without replacement) from the
/// population, with one decision changed to a different allowed choice. Observed samples join the population in the
/// order given and the oldest leave, whatever their reward.
/// </summary>
public sealed class EvolutionSampler : ITrialSeededSampler
{
    internal const string Magic = "MNASEVO1";
    private const int FormatVersion = 1;

    private readonly Queue<(int[] Tokens, double Reward)> _population = new();
    private readonly int[] _mutable;
    private SeededRandom _random;

    public EvolutionSampler(EvolutionOptions options, MnasNetSearchSpace? space = null)
    {
        Options = (options ?? throw new ArgumentNullException(nameof(options))).Validate();
        Space = space ?? MnasNetSearchSpace.Default;
        _random = new SeededRandom(SeededRandom.Derive(Options.Seed, "evolution"));
        _mutable = Space.Decisions.Where(d => d.AllowedCount > 1).Select(d => d.Index).ToArray();
    }

    public EvolutionOptions Options { get; }
    public MnasNetSearchSpace Space { get; }

    public long Proposed { get; private set; }

    public int PopulationCount => _population.Count;

    public string Strategy => SearchStrategies.Evolution;

    public string Version => $"population-{PopulationCount}";

    public IReadOnlyList<Proposal> Sample(int count)
    {
        if (count is < 1 or > 100_000)
        {
            throw new ControllerException($"sample count must be between 1 and 100000, got {count}");
        }
        var proposals = new Proposal[count];
        var members = _population.ToArray();
        for (var j = 0; j < count; j++)
        {
            // Warm-up counts proposals, not observations, so exactly PopulationSize random ones go out.
            if (Proposed < Options.PopulationSize || members.Length == 0)
            {
                proposals[j] = new Proposal(Space.Sample(_random), null, Version);
            }
            else
            {
                proposals[j] = new Proposal(Mutate(Tournament(members)), null, Version);
            }
            Proposed++;
        }
        return proposals;
    }

    public SamplerStep Observe(IReadOnlyList<ScoredSample> batch)
    {
        ArgumentNullException.ThrowIfNull(batch);
        var before = Version;
        for (var j = 0; j < batch.Count; j++)
        {
            var s = batch[j];
            try
            {
                Space.ValidateTokens(s.Tokens);
            }
            catch (ArchitectureException e)
            {
                throw new ControllerException($"observe: sample {j}: {e.Message}", e);
            }
            if (!double.IsFinite(s.Reward))
            {
                throw new ControllerException($"observe: sample {j} has a non-finite reward {s.Reward}");
            }
            _population.Enqueue((s.Tokens.ToArray(), s.Reward));
            if (_population.Count > Options.PopulationSize)
            {
                _population.Dequeue();
            }
        }
        return SamplerStep.Unlearned(before, Version, batch);
    }

    public int SeedCapacity => Options.PopulationSize;

    /// <summary>The trials join the population as if proposed and observed: they count towards the random warm-up.</summary>
    public void Seed(IReadOnlyList<ScoredSample> trials)
    {
        Observe(trials);
        Proposed += trials.Count;
    }

    private int[] Tournament((int[] Tokens, double Reward)[] members)
    {
        var size = Math.Min(Options.SampleSize, members.Length);
        // Partial Fisher–Yates over indices: a sample without replacement.
        var indices = Enumerable.Range(0, members.Length).ToArray();
        var best = -1;
        for (var k = 0; k < size; k++)
        {
            var pick = k + _random.NextInt(members.Length - k);
            (indices[k], indices[pick]) = (indices[pick], indices[k]);
            var candidate = indices[k];
            if (best < 0 || members[candidate].Reward > members[best].Reward)
            {
                best = candidate;
            }
        }
        return members[best].Tokens;
    }

    private int[] Mutate(int[] parent)
    {
        var child = parent.ToArray();
        var decision = Space.Decisions[_mutable[_random.NextInt(_mutable.Length)]];
        var others = Enumerable.Range(0, decision.Choices.Count).Where(c => decision.Allowed[c] && c != parent[decision.Index]).ToArray();
        child[decision.Index] = others[_random.NextInt(others.Length)];
        return child;
    }

    public byte[] SaveState() => StateCodec.Write(Magic, FormatVersion, w =>
    {
        w.Write(Options.PopulationSize);
        w.Write(Options.SampleSize);
        w.Write(Options.Seed);
        w.Write(Proposed);
        StateCodec.WriteRandom(w, _random);
        w.Write(_population.Count);
        foreach (var (tokens, reward) in _population)
        {
            StateCodec.WriteTokens(w, tokens);
            w.Write(reward);
        }
    });

    public static EvolutionSampler Restore(byte[] state) => StateCodec.Read(state, Magic, FormatVersion, "evolution", r =>
    {
        var options = new EvolutionOptions(r.ReadInt32(), r.ReadInt32(), r.ReadUInt64());
        var sampler = new EvolutionSampler(options) { Proposed = r.ReadInt64() };
        sampler._random = StateCodec.ReadRandom(r);
        var count = r.ReadInt32();
        if (count < 0 || count > options.PopulationSize)
        {
            throw new ControllerException($"evolution state: population of {count} exceeds PopulationSize {options.PopulationSize}");
        }
        for (var i = 0; i < count; i++)
        {
            var tokens = StateCodec.ReadTokens(r);
            sampler.Space.ValidateTokens(tokens);
            sampler._population.Enqueue((tokens, r.ReadDouble()));
        }
        return sampler;
    });

    public void Dispose() { }
}
