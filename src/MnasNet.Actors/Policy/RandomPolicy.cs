using System.Text.Json;
using MnasNet.SearchSpace;

namespace MnasNet.Actors.Policy;

/// <summary>Uniform random search over the allowed choices; the baseline strategy. Updates only count steps.</summary>
public sealed class RandomPolicy(MnasNetSearchSpace space, ulong seed) : ISearchPolicy
{
    private const string Format = "random/v1";
    private SeededRandom _random = new(seed);

    public string Strategy => "random";

    public string Version => "uniform";

    public long Step { get; private set; }

    public IReadOnlyList<PolicySample> Sample(int count)
    {
        var logProb = -space.Decisions.Sum(d => Math.Log(d.AllowedCount));
        return Enumerable.Range(0, count).Select(_ => new PolicySample(space.Sample(_random), logProb)).ToList();
    }

    public PolicyStepResult Update(IReadOnlyList<PolicyFeedback> batch)
    {
        Step++;
        var mean = batch.Average(b => b.Reward);
        return new PolicyStepResult(Step, Version, Version, batch.Select(b => b.Reward - mean).ToList(), 0, 0, 0, 0, mean, mean);
    }

    private sealed record StateDocument(string Format, long Step, ulong[] Random);

    public byte[] SaveState() => JsonSerializer.SerializeToUtf8Bytes(new StateDocument(Format, Step, _random.State));

    public static RandomPolicy Restore(MnasNetSearchSpace space, byte[] state)
    {
        var doc = JsonSerializer.Deserialize<StateDocument>(state) ?? throw new InvalidDataException("policy state: empty");
        if (doc.Format != Format)
        {
            throw new InvalidDataException($"policy state: format '{doc.Format}', expected '{Format}'");
        }
        return new RandomPolicy(space, 1) { Step = doc.Step, _random = SeededRandom.FromState(doc.Random) };
    }
}
