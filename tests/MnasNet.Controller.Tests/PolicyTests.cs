using CsCheck;
using MnasNet.SearchSpace;
using MnasNet.Torch;
using TorchSharp;
using static TorchSharp.torch;

namespace MnasNet.Controller.Tests;

public sealed class PolicyTests
{
    private static readonly ControllerOptions Small = new(Seed: 3, HiddenSize: 24, EmbeddingSize: 16);

    public PolicyTests() => TorchRuntime.EnsureLoaded(threads: 1);

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    public void Sampled_log_prob_equals_the_recomputed_log_prob(int layers)
    {
        using var controller = new PpoController(Small with { LstmLayers = layers });
        var proposals = controller.Sample(16);
        var scores = controller.Score(proposals.Select(p => p.Tokens).ToArray());
        for (var j = 0; j < proposals.Count; j++)
        {
            // Same batch: the very same computation, so equal to the bit.
            Assert.Equal(proposals[j].LogProb, scores[j].LogProb);
            // One at a time: another batch shape, equal up to float rounding.
            Assert.Equal(proposals[j].LogProb!.Value, controller.LogProb(proposals[j].Tokens), 4);
            Assert.True(scores[j].LogProb < 0);
            Assert.True(scores[j].Entropy > 0);
        }
    }

    [Fact]
    public void Log_probabilities_of_one_decision_sum_to_one()
    {
        // Vary only the last token (block 7's layer delta, whose −1 is masked): the probabilities of the allowed
        // completions of one prefix must sum to 1 and the masked one must have probability 0.
        using var controller = new PpoController(Small);
        var prefix = controller.Sample(1)[0].Tokens.ToArray();
        var last = MnasNetSearchSpace.Default.Decisions[^1];
        Assert.False(last.Allowed[0]);
        var sequences = Enumerable.Range(0, last.Choices.Count).Where(c => last.Allowed[c])
            .Select(c => (IReadOnlyList<int>)prefix[..^1].Append(c).ToArray()).ToArray();
        var scores = controller.Score(sequences);
        var prefixProb = scores.Sum(s => Math.Exp(s.LogProb));
        var choiceProbs = scores.Select(s => Math.Exp(s.LogProb) / prefixProb).ToArray();
        Assert.Equal(1.0, choiceProbs.Sum(), 5);
        var masked = prefix[..^1].Append(0).ToArray();
        Assert.Throws<ControllerException>(() => controller.Score([masked]));
    }

    [Fact]
    public void Masked_choices_are_never_sampled_even_when_the_policy_prefers_them()
    {
        var space = MnasNetSearchSpace.Default;
        using var policy = new ControllerPolicy(space, 1, 16, 16);
        policy.Initialize(new SeededRandom(1), 0.1);
        using (no_grad())
        {
            // Make "−1 layer" overwhelmingly likely in every block.
            var head = policy.heads[(int)DecisionKind.LayerDelta];
            head.bias!.copy_(tensor(new float[] { 50f, -50f, -50f }));
        }
        var masked = space.Decisions.Where(d => d.AllowedCount < d.Choices.Count).ToArray();
        Assert.NotEmpty(masked);
        Gen.ULong.Sample(seed =>
        {
            var (tokens, logProb, _) = policy.Sample(64, 1.0, new SeededRandom(seed));
            foreach (var t in tokens)
            {
                space.ValidateTokens(t);
            }
            Assert.All(logProb, lp => Assert.True(double.IsFinite(lp)));
            // Where −1 is allowed the policy takes it almost surely: the bias did work.
            Assert.All(tokens, t => Assert.Equal(0, t[space.Decisions.First(d => d.Kind == DecisionKind.LayerDelta && d.Allowed[0]).Index]));
        }, iter: 10, threads: 1);
        var (greedy, _, _) = policy.Sample(1, 1.0, null);
        space.ValidateTokens(greedy[0]);
    }

    [Fact]
    public void Sampling_is_a_function_of_seed_and_random_state()
    {
        using var a = new PpoController(Small);
        using var b = new PpoController(Small);
        using var c = new PpoController(Small with { Seed = 4 });
        var fromA = a.Sample(8).Select(p => p.Tokens.ToArray()).ToArray();
        var fromB = b.Sample(8).Select(p => p.Tokens.ToArray()).ToArray();
        var fromC = c.Sample(8).Select(p => p.Tokens.ToArray()).ToArray();
        Assert.Equal(fromA, fromB);
        Assert.NotEqual(fromA, fromC);
        Assert.Equal(a.ParameterHash, b.ParameterHash);
        Assert.NotEqual(a.ParameterHash, c.ParameterHash);
        Assert.NotEqual(fromA, a.Sample(8).Select(p => p.Tokens.ToArray()).ToArray());
    }

    [Fact]
    public void Greedy_decoding_uses_no_random_state_and_picks_the_mode()
    {
        using var controller = new PpoController(Small);
        var state = controller.RandomState.ToArray();
        var greedy = controller.Greedy();
        Assert.Equal(state, controller.RandomState);
        Assert.Equal(greedy.Tokens, controller.Greedy().Tokens);
        // The greedy sequence is at least as likely as any sampled one (the policy is near uniform, so its mode is
        // the product of per-step argmaxes along its own path, which here dominates random draws).
        var sampled = controller.Sample(32);
        Assert.All(sampled, s => Assert.True(greedy.LogProb >= s.LogProb));
    }

    [Fact]
    public void Higher_temperature_gives_higher_entropy()
    {
        using var cold = new PpoController(Small with { Temperature = 0.5, InitRange = 0.5 });
        using var hot = new PpoController(Small with { Temperature = 3.0, InitRange = 0.5 });
        var tokens = cold.Sample(8).Select(p => p.Tokens).ToArray();
        Assert.True(hot.Score(tokens).Average(s => s.Entropy) > cold.Score(tokens).Average(s => s.Entropy));
    }
}
