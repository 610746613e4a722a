using MnasNet.Torch;

namespace MnasNet.Controller.Tests;

/// <summary>
/// The optimised sampling and update paths against the plain reference loop (<c>ReferenceSample</c>, the code before
/// the optimisation), bit for bit, on this machine: two controllers with the same seed run in lockstep, one through
/// <see cref="PpoController.Sample"/>, one through the reference, and both update on the same batches. Bits depend on
/// the CPU kind and libtorch build, so the reference is recomputed here rather than committed.
/// </summary>
public sealed class SamplingEquivalenceTests
{
    private static readonly SurrogateObjective Objective = new();
    private static readonly LatencyTarget Target = LatencyTarget.For(RewardPreset.Soft, 75);

    public SamplingEquivalenceTests() => TorchRuntime.EnsureLoaded(threads: 1);

    public static TheoryData<int, int, double> Shapes => new()
    {
        { 1, 100, 1.0 },
        { 1, 24, 1.7 },
        { 2, 16, 0.8 },
    };

    [Theory]
    [MemberData(nameof(Shapes))]
    public void Sampling_and_updates_equal_the_reference_loop_bit_for_bit(int layers, int hidden, double temperature)
    {
        var options = new ControllerOptions(Seed: 23, LstmLayers: layers, HiddenSize: hidden, EmbeddingSize: hidden, Temperature: temperature, Threads: 1);
        using var fast = new PpoController(options);
        using var reference = new PpoController(options);
        var fastLogits = new List<int>();
        var referenceLogits = new List<int>();
        fast.Policy.LogitsObserver = v => fastLogits.AddRange(v.ToArray().Select(BitConverter.SingleToInt32Bits));
        reference.Policy.LogitsObserver = v => referenceLogits.AddRange(v.ToArray().Select(BitConverter.SingleToInt32Bits));
        foreach (var count in new[] { 100, 1, 7, 33, 100, 16 })
        {
            var sampled = fast.Sample(count);
            var expected = reference.ReferenceSample(count);
            Assert.Equal(Fingerprint(expected), Fingerprint(sampled));
            Assert.Equal(reference.RandomState, fast.RandomState);
            Assert.NotEmpty(fastLogits);
            Assert.True(referenceLogits.SequenceEqual(fastLogits), "the sampling steps' logits differ from the reference loop's");
            Assert.Equal(Fingerprint(reference.ReferenceSample(1, greedy: true)), Fingerprint([fast.Greedy()]));

            var batch = sampled.Select(p => ScoredSample.From(p, Objective.Reward(p.Tokens, Target).Reward)).ToArray();
            var a = fast.Update(batch);
            var b = reference.Update(batch);
            Assert.Equal(b.ParameterHash, a.ParameterHash);
            Assert.Equal(Bits(b), Bits(a));
            Assert.Equal(reference.SaveState(), fast.SaveState());
        }
    }

    private static List<string> Fingerprint(IReadOnlyList<Proposal> proposals) =>
        proposals.Select(p => $"{string.Join(',', p.Tokens)}|{BitConverter.DoubleToInt64Bits(p.LogProb!.Value):x16}|{p.PolicyVersion}").ToList();

    private static long[] Bits(PolicyUpdate u) =>
        [.. new[] { u.PolicyLoss, u.EntropyLoss, u.TotalLoss, u.MeanEntropy, u.ApproxKl, u.ClipFraction, u.GradNorm, u.BaselineBefore, u.BaselineAfter }
            .Concat(u.Advantages).Select(BitConverter.DoubleToInt64Bits)];
}
