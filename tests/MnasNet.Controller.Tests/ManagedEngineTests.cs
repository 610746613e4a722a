using MnasNet.Controller.Managed;
using MnasNet.SearchSpace;
using MnasNet.Torch;
using TorchSharp;
using static TorchSharp.torch;

namespace MnasNet.Controller.Tests;

/// <summary>
/// The managed engine against the libtorch one (same algorithm, different rounding: agreement to float32 noise) and
/// its exactness (equal bits for every thread count, sampled = scored log-probabilities, save/restore).
/// </summary>
public sealed class ManagedEngineTests
{
    private static readonly SurrogateObjective Objective = new();
    private static readonly LatencyTarget Target = LatencyTarget.For(RewardPreset.Soft, 75);

    public ManagedEngineTests() => TorchRuntime.EnsureLoaded(threads: 1);

    private static ControllerOptions Options(int hidden, double temperature = 1.0, string engine = ControllerEngines.Managed, int threads = 1) =>
        new(Seed: 31, HiddenSize: hidden, EmbeddingSize: hidden, Temperature: temperature, Threads: threads, Engine: engine);

    private static ScoredSample[] Rewarded(IReadOnlyList<Proposal> proposals) =>
        proposals.Select(p => ScoredSample.From(p, Objective.Reward(p.Tokens, Target).Reward)).ToArray();

    [Theory]
    [InlineData(100, 1.0)]
    [InlineData(20, 1.6)]
    public void Same_initial_parameters_and_scores_as_libtorch(int hidden, double temperature)
    {
        using var libtorch = new PpoController(Options(hidden, temperature, ControllerEngines.Libtorch));
        using var managed = new ManagedPpoController(Options(hidden, temperature));
        Assert.Equal(libtorch.ParameterHash, managed.ParameterHash);
        Assert.Equal(libtorch.ParameterCount, managed.ParameterCount);

        var tokens = libtorch.Sample(24).Select(p => p.Tokens).ToArray();
        var expected = libtorch.Score(tokens);
        var actual = managed.Score(tokens);
        for (var j = 0; j < tokens.Length; j++)
        {
            AssertClose(expected[j].LogProb, actual[j].LogProb, 1e-5);
            AssertClose(expected[j].Entropy, actual[j].Entropy, 1e-5);
        }
    }

    [Theory]
    [InlineData(100, 1.0)]
    [InlineData(20, 1.6)]
    public void Every_parameter_gradient_agrees_with_libtorch_autograd(int hidden, double temperature)
    {
        using var libtorch = new PpoController(Options(hidden, temperature, ControllerEngines.Libtorch));
        using var managed = new ManagedPpoController(Options(hidden, temperature));
        var tokens = libtorch.Sample(32).Select(p => p.Tokens).ToArray();
        var random = new SeededRandom(5);
        var weights = tokens.Select(_ => random.NextDouble() - 0.5).ToArray();
        const double entropyWeight = 0.03;

        var policy = libtorch.Policy;
        foreach (var p in policy.parameters())
        {
            p.grad?.zero_();
        }
        using (var scope = NewDisposeScope())
        {
            var flat = tokens.SelectMany(t => t.Select(v => (long)v)).ToArray();
            var (logProb, entropy) = policy.Evaluate(tensor(flat).reshape(tokens.Length, 42), temperature);
            var loss = (logProb * tensor(weights.Select(w => (float)w).ToArray())).sum() + entropy.sum() * entropyWeight;
            loss.backward();
        }
        var expected = policy.named_parameters().ToDictionary(p => p.name, p => p.parameter.grad!.contiguous().data<float>().ToArray());

        managed.Score(tokens);
        managed.Policy.Backward(tokens.Length, weights, entropyWeight, temperature);
        foreach (var p in managed.Policy.Parameters)
        {
            var actual = managed.Policy.Gradient.AsSpan(p.Offset, p.Length).ToArray();
            var reference = expected[p.Name];
            var scale = Math.Max(reference.Max(v => Math.Abs(v)), 1e-6f);
            var worst = reference.Zip(actual, (a, b) => Math.Abs(a - b)).Max();
            Assert.True(worst <= 1e-5 * scale + 1e-9, $"{p.Name}: max |Δ| {worst} against max |g| {scale}");
        }
    }

    [Fact]
    public void One_update_moves_the_parameters_as_libtorch_does()
    {
        using var libtorch = new PpoController(Options(100, engine: ControllerEngines.Libtorch));
        using var managed = new ManagedPpoController(Options(100));
        var batch = Rewarded(libtorch.Sample(48));
        var before = libtorch.ParameterValues();
        var expectedUpdate = libtorch.Update(batch);
        var actualUpdate = managed.Update(batch);
        AssertClose(expectedUpdate.PolicyLoss, actualUpdate.PolicyLoss, 1e-4, absolute: 1e-6);
        AssertClose(expectedUpdate.MeanEntropy, actualUpdate.MeanEntropy, 1e-5);
        AssertClose(expectedUpdate.GradNorm, actualUpdate.GradNorm, 1e-3);
        var expected = libtorch.ParameterValues();
        var actual = managed.ParameterValues();
        // Adam divides by √v, so where a gradient is tiny its rounding shows in the step: most parameters agree to
        // float noise, a few (where the 4 epochs' gradients nearly cancel) to a small fraction of the step.
        var moved = 0;
        var beyond = 0;
        var worst = 0.0;
        for (var i = 0; i < expected.Length; i++)
        {
            var difference = Math.Abs(expected[i] - actual[i]);
            worst = Math.Max(worst, difference);
            beyond += difference > 1e-5 ? 1 : 0;
            moved += expected[i] != before[i] ? 1 : 0;
        }
        Assert.True(worst <= 5e-4 && beyond <= expected.Length / 1000, $"max |Δ| {worst}, {beyond} of {expected.Length} beyond 1e-5");
        Assert.True(moved > expected.Length / 2, $"only {moved} parameters moved");
    }

    [Fact]
    public void Thread_counts_give_the_same_bits()
    {
        string? reference = null;
        foreach (var threads in new[] { 1, 2, 4 })
        {
            using var controller = new ManagedPpoController(Options(100, threads: threads));
            var fingerprint = new List<string>();
            foreach (var count in new[] { 64, 100 })
            {
                var proposals = controller.Sample(count);
                fingerprint.Add(string.Join(",", proposals.Select(p => $"{string.Concat(p.Tokens)}:{BitConverter.DoubleToInt64Bits(p.LogProb!.Value)}")));
                var update = controller.Update(Rewarded(proposals));
                fingerprint.Add($"{update.ParameterHash} {BitConverter.DoubleToInt64Bits(update.TotalLoss)} {BitConverter.DoubleToInt64Bits(update.GradNorm)}");
            }
            controller.ContinueWithThreads(1);
            fingerprint.Add(Convert.ToHexString(System.Security.Cryptography.SHA256.HashData(controller.SaveState())));
            var joined = string.Join("\n", fingerprint);
            reference ??= joined;
            Assert.Equal(reference, joined);
        }
    }

    [Theory]
    [InlineData(1.0)]
    [InlineData(0.7)]
    public void Sampled_log_probabilities_are_the_scores_bit_for_bit_and_the_first_ratio_is_one(double temperature)
    {
        using var controller = new ManagedPpoController(Options(100, temperature));
        var proposals = controller.Sample(37);
        var scores = controller.Score(proposals.Select(p => p.Tokens).Reverse().ToArray()).Reverse().ToArray();
        Assert.Equal(proposals.Select(p => BitConverter.DoubleToInt64Bits(p.LogProb!.Value)), scores.Select(s => BitConverter.DoubleToInt64Bits(s.LogProb)));
        var single = controller.Score([proposals[5].Tokens])[0];
        Assert.Equal(proposals[5].LogProb, single.LogProb);
        using var oneEpoch = new ManagedPpoController(Options(100, temperature) with { Epochs = 1 });
        var first = oneEpoch.Update(Rewarded(oneEpoch.Sample(37)));
        Assert.Equal(0.0, first.ApproxKl);
        Assert.Equal(0.0, first.ClipFraction);
    }

    [Fact]
    public void A_restored_controller_continues_bit_for_bit()
    {
        using var a = new ManagedPpoController(Options(40));
        var hashes = Enumerable.Range(0, 4).Select(_ => a.Update(Rewarded(a.Sample(16))).ParameterHash).ToArray();
        using var b = new ManagedPpoController(Options(40));
        b.Update(Rewarded(b.Sample(16)));
        b.Update(Rewarded(b.Sample(16)));
        var restored = (ManagedPpoController)ArchitectureSamplers.Restore(b.SaveState());
        Assert.Equal(hashes[1], restored.ParameterHash);
        Assert.Equal(hashes[2], restored.Update(Rewarded(restored.Sample(16))).ParameterHash);
        Assert.Equal(hashes[3], restored.Update(Rewarded(restored.Sample(16))).ParameterHash);
        Assert.Equal(a.SaveState(), restored.SaveState());
        Assert.Equal(a.Sample(3).Select(p => p.LogProb), restored.Sample(3).Select(p => p.LogProb));
    }

    [Fact]
    public void A_libtorch_state_warm_starts_a_managed_search_and_back()
    {
        using var libtorch = new PpoController(Options(30, engine: ControllerEngines.Libtorch));
        libtorch.Update(Rewarded(libtorch.Sample(16)));
        var options = Options(30) with { Seed = 99 };
        var state = WarmStarts.PolicyState(SearchStrategies.Ppo, libtorch.SaveState(), options);
        Assert.Equal(ControllerEngines.Managed, PpoStates.EngineOf(state));
        using var managed = (ManagedPpoController)ArchitectureSamplers.Restore(state);
        Assert.Equal(libtorch.ParameterHash, managed.ParameterHash);
        Assert.Equal(1, managed.UpdateCount);
        Assert.Null(managed.Baseline);
        Assert.Equal(ControllerEngines.Managed, managed.Options.Engine);
        managed.Update(Rewarded(managed.Sample(16)));

        var back = WarmStarts.PolicyState(SearchStrategies.Ppo, managed.SaveState(), options with { Engine = ControllerEngines.Libtorch });
        using var again = (PpoController)ArchitectureSamplers.Restore(back);
        Assert.Equal(managed.ParameterHash, again.ParameterHash);

        var other = Assert.Throws<ControllerException>(() => PpoStates.WarmStart(libtorch.SaveState(), Options(31)));
        Assert.Contains("is not this search's", other.Message);
    }

    [Fact]
    public void A_libtorch_state_saves_its_options_without_the_engine()
    {
        using var libtorch = new PpoController(Options(16, engine: ControllerEngines.Libtorch));
        var text = System.Text.Encoding.UTF8.GetString(libtorch.SaveState());
        Assert.DoesNotContain("Engine", text);
        Assert.Contains("\"EntropyDecayUpdates\":0}", text);
        using var managed = new ManagedPpoController(Options(16));
        Assert.Contains("\"Engine\":\"managed\"", System.Text.Encoding.UTF8.GetString(managed.SaveState()));
        Assert.Throws<ControllerException>(() => new PpoController(Options(16)));
        var bad = Assert.Throws<ControllerException>(() => ArchitectureSamplers.Create(SearchStrategies.Ppo, 1, Options(16) with { Engine = "cuda" }));
        Assert.Contains("Engine", bad.Message);
    }

    [Fact]
    public void The_managed_engine_learns_on_the_surrogate_as_libtorch_does()
    {
        // README: libtorch's last-batch mean over seeds 1–5 is 0.7713 ± 0.0043 (soft reward, 960 samples, batch 32).
        var means = new ulong[] { 1, 2, 3 }.Select(seed => ControllerSimulation.Run(new SimulationSettings(
            SearchStrategies.Ppo, 960, 32, seed, Ppo: ControllerOptions.Default with { Engine = ControllerEngines.Managed })).MeanRewardLastBatch).ToArray();
        var mean = means.Average();
        Assert.True(Math.Abs(mean - 0.7713) < 0.015, $"managed last-batch mean {mean:F4} ({string.Join(", ", means.Select(m => m.ToString("F4")))})");
    }

    [Fact]
    public void Exp_and_log_are_within_two_ulp_of_the_platform()
    {
        var random = new SeededRandom(3);
        for (var i = 0; i < 200_000; i++)
        {
            var x = (random.NextDouble() * 2 - 1) * (i % 3 == 0 ? 740 : i % 3 == 1 ? 20 : 1e-3);
            AssertUlps(Math.Exp(x), ExactMath.Exp(x), 2, $"exp({x:R})");
            var y = Math.Exp((random.NextDouble() * 2 - 1) * 700);
            AssertUlps(Math.Log(y), ExactMath.Log(y), 2, $"log({y:R})");
        }
        Assert.Equal(1.0, ExactMath.Exp(0));
        Assert.Equal(0.0, ExactMath.Exp(-1e9));
        Assert.Equal(double.PositiveInfinity, ExactMath.Exp(1000));
        Assert.Equal(0.0, ExactMath.Log(1));
        Assert.Equal(double.NegativeInfinity, ExactMath.Log(0));
        AssertUlps(Math.Log(5e-320), ExactMath.Log(5e-320), 2, "log of a subnormal");
        AssertUlps(Math.Exp(-740), ExactMath.Exp(-740), 2, "exp to a subnormal");
        // The float32 gate functions: within a few float ulps (absolute 2e−7) of the double-precision ones.
        for (var i = 0; i < 100_000; i++)
        {
            var x = (float)((random.NextDouble() * 2 - 1) * (i % 2 == 0 ? 30 : 1));
            Assert.True(Math.Abs(Math.Tanh(x) - ExactMath.Tanh(x)) <= 2e-7, $"tanh({x:R}) = {ExactMath.Tanh(x):R}");
            var sigmoid = 1 / (1 + Math.Exp(-x));
            Assert.True(Math.Abs(sigmoid - ExactMath.Sigmoid(x)) <= 3e-7 * sigmoid, $"sigmoid({x:R}) = {ExactMath.Sigmoid(x):R}");
        }
    }

    [Fact]
    public void Vector_and_scalar_paths_give_the_same_bits()
    {
        var random = new SeededRandom(8);
        // The kernel's vector blocks against a plain scalar fma chain in the same order.
        const int rows = 9, k = 37, columns = 43;
        var a = Enumerable.Range(0, rows * k).Select(_ => (float)(random.NextDouble() - 0.5)).ToArray();
        var b = Enumerable.Range(0, k * columns).Select(_ => (float)(random.NextDouble() - 0.5)).ToArray();
        var c = Enumerable.Range(0, rows * columns).Select(_ => (float)random.NextDouble()).ToArray();
        var expected = (float[])c.Clone();
        for (var i = 0; i < rows; i++)
        {
            for (var j = 0; j < columns; j++)
            {
                for (var p = 0; p < k; p++)
                {
                    expected[i * columns + j] = MathF.FusedMultiplyAdd(a[i * k + p], b[p * columns + j], expected[i * columns + j]);
                }
            }
        }
        foreach (var threads in new[] { 1, 3 })
        {
            var actual = (float[])c.Clone();
            ExactKernels.MultiplyAdd(a, 0, k, 1, b, 0, columns, actual, 0, columns, rows, k, columns, threads);
            Assert.Equal(expected.Select(BitConverter.SingleToInt32Bits), actual.Select(BitConverter.SingleToInt32Bits));
        }
        // σ and tanh: vector lanes (256 and 512 bits) against the scalar twins.
        var values = Enumerable.Range(0, 1003).Select(i => (float)((random.NextDouble() * 2 - 1) * (i % 2 == 0 ? 10 : 200))).ToArray();
        var tanh = (float[])values.Clone();
        ManagedLstmPolicy.Tanh(tanh);
        Assert.Equal(values.Select(v => BitConverter.SingleToInt32Bits(ExactMath.Tanh(v))), tanh.Select(BitConverter.SingleToInt32Bits));
        for (var i = 0; i + 16 <= values.Length; i += 16)
        {
            var wide = ExactMath.Sigmoid(System.Runtime.Intrinsics.Vector512.Create<float>(values.AsSpan(i)));
            var narrow = ExactMath.Sigmoid(System.Runtime.Intrinsics.Vector256.Create<float>(values.AsSpan(i)));
            for (var lane = 0; lane < 16; lane++)
            {
                var scalar = BitConverter.SingleToInt32Bits(ExactMath.Sigmoid(values[i + lane]));
                Assert.Equal(scalar, BitConverter.SingleToInt32Bits(wide[lane]));
                if (lane < 8)
                {
                    Assert.Equal(scalar, BitConverter.SingleToInt32Bits(narrow[lane]));
                }
            }
        }
    }

    private static void AssertClose(double expected, double actual, double relative, double absolute = 1e-9) =>
        Assert.True(Math.Abs(expected - actual) <= relative * Math.Abs(expected) + absolute, $"expected {expected:R}, got {actual:R}");

    private static void AssertUlps(double expected, double actual, long ulps, string what, double absolute = 0)
    {
        if (expected == actual || Math.Abs(expected - actual) <= absolute)
        {
            return;
        }
        var distance = Math.Abs(BitConverter.DoubleToInt64Bits(expected) - BitConverter.DoubleToInt64Bits(actual));
        Assert.True(distance <= ulps, $"{what}: {actual:R} is {distance} ulp from {expected:R}");
    }
}
