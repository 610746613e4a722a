using MnasNet.SearchSpace;

namespace MnasNet.Controller;

/// <summary>Uniform random search: every decision uniform over its allowed choices; ignores rewards.</summary>
public sealed class RandomSearchSampler : IArchitectureSampler
{
    internal const string Magic = "MNASRND1";
    private const int FormatVersion = 1;

    private SeededRandom _random;

    public RandomSearchSampler(ulong seed, MnasNetSearchSpace? space = null)
    {
        Seed = seed;
        Space = space ?? MnasNetSearchSpace.Default;
        _random = new SeededRandom(SeededRandom.Derive(seed, "random-search"));
        UniformLogProb = -Space.Decisions.Sum(d => Math.Log(d.AllowedCount));
    }

    public ulong Seed { get; }
    public MnasNetSearchSpace Space { get; }

    /// <summary>log of 1 / (number of valid architectures): the log-probability of every proposal.</summary>
    public double UniformLogProb { get; }

    public long Proposed { get; private set; }

    public string Strategy => SearchStrategies.Random;

    public string Version => "uniform";

    public IReadOnlyList<Proposal> Sample(int count)
    {
        if (count is < 1 or > 100_000)
        {
            throw new ControllerException($"sample count must be between 1 and 100000, got {count}");
        }
        var proposals = new Proposal[count];
        for (var j = 0; j < count; j++)
        {
            proposals[j] = new Proposal(Space.Sample(_random), UniformLogProb, Version);
        }
        Proposed += count;
        return proposals;
    }

    public SamplerStep Observe(IReadOnlyList<ScoredSample> batch)
    {
        ArgumentNullException.ThrowIfNull(batch);
        return SamplerStep.Unlearned(Version, Version, batch);
    }

    public byte[] SaveState() => StateCodec.Write(Magic, FormatVersion, w =>
    {
        w.Write(Seed);
        w.Write(Proposed);
        StateCodec.WriteRandom(w, _random);
    });

    public static RandomSearchSampler Restore(byte[] state) => StateCodec.Read(state, Magic, FormatVersion, "random search", r =>
    {
        var sampler = new RandomSearchSampler(r.ReadUInt64()) { Proposed = r.ReadInt64() };
        sampler._random = StateCodec.ReadRandom(r);
        return sampler;
    });

    public void Dispose() { }
}
