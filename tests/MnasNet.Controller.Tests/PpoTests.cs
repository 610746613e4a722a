using MnasNet.SearchSpace;
using MnasNet.Torch;
using TorchSharp;
using static TorchSharp.torch;

namespace MnasNet.Controller.Tests;

public sealed class PpoTests
{
    private static readonly ControllerOptions Small = new(Seed: 11, HiddenSize: 24, EmbeddingSize: 16, Epochs: 3);
    private static readonly SurrogateObjective Objective = new();
    private static readonly LatencyTarget Target = LatencyTarget.For(RewardPreset.Soft, 75);

    public PpoTests() => TorchRuntime.EnsureLoaded(threads: 1);

    private static ScoredSample[] Score(IReadOnlyList<Proposal> proposals) =>
        proposals.Select(p => ScoredSample.From(p, Objective.Reward(p.Tokens, Target).Reward)).ToArray();

    private static PolicyUpdate Step(PpoController controller, int batch = 8) => controller.Update(Score(controller.Sample(batch)));

    [Fact]
    public void A_restored_controller_continues_bit_identically()
    {
        const int k = 3;
        using var a = new PpoController(Small);
        var hashesA = Enumerable.Range(0, 2 * k).Select(_ => Step(a).ParameterHash).ToArray();

        byte[] snapshot;
        using (var b = new PpoController(Small))
        {
            for (var i = 0; i < k; i++)
            {
                Assert.Equal(hashesA[i], Step(b).ParameterHash);
            }
            snapshot = b.SaveState();
        }
        using var restored = PpoController.Restore(snapshot);
        Assert.Equal(k, restored.UpdateCount);
        Assert.Equal(hashesA[k - 1], restored.ParameterHash);
        for (var i = k; i < 2 * k; i++)
        {
            Assert.Equal(hashesA[i], Step(restored).ParameterHash);
        }
        Assert.Equal(ParameterBytes(a), ParameterBytes(restored));
        Assert.Equal(a.Baseline, restored.Baseline);
        Assert.Equal(a.RandomState, restored.RandomState);
        Assert.Equal(a.SaveState(), restored.SaveState());
        var nextA = a.Sample(4);
        var nextR = restored.Sample(4);
        Assert.Equal(nextA.Select(p => p.Tokens.ToArray()), nextR.Select(p => p.Tokens.ToArray()));
        Assert.Equal(nextA.Select(p => p.LogProb), nextR.Select(p => p.LogProb));
    }

    private static byte[] ParameterBytes(PpoController controller) =>
        System.Runtime.InteropServices.MemoryMarshal.AsBytes(controller.ParameterValues().AsSpan()).ToArray();

    [Fact]
    public void An_update_raises_the_probability_of_the_best_sample_and_lowers_the_worst()
    {
        using var controller = new PpoController(Small);
        var proposals = controller.Sample(16);
        var scored = Score(proposals);
        var best = scored.MaxBy(s => s.Reward)!;
        var worst = scored.MinBy(s => s.Reward)!;
        var update = controller.Update(scored);
        Assert.True(controller.LogProb(best.Tokens) > best.LogProb);
        Assert.True(controller.LogProb(worst.Tokens) < worst.LogProb);
        Assert.NotEqual(update.ParameterHashBefore, update.ParameterHash);
        Assert.Equal(controller.ParameterHash, update.ParameterHash);
        Assert.Equal(1, update.Step);
    }

    [Fact]
    public void Baseline_and_advantages_follow_the_documented_formulas()
    {
        using var controller = new PpoController(Small with { NormalizeAdvantages = false, BaselineDecay = 0.75 });
        var proposals = controller.Sample(4);
        double[] rewards = [0.5, 0.6, 0.7, 0.8];
        var first = controller.Update(proposals.Select((p, j) => ScoredSample.From(p, rewards[j])).ToArray());
        Assert.Equal(0.65, first.BaselineBefore, 12);
        Assert.Equal(0.65, first.BaselineAfter, 12);
        Assert.Equal(rewards.Select(r => r - 0.65), first.Advantages);

        var second = controller.Update(controller.Sample(2).Select(p => ScoredSample.From(p, 0.85)).ToArray());
        Assert.Equal(first.BaselineAfter, second.BaselineBefore);
        Assert.Equal(0.75 * 0.65 + 0.25 * 0.85, second.BaselineAfter, 12);
        Assert.All(second.Advantages, a => Assert.Equal(0.85 - 0.65, a, 12));
        Assert.Equal(2, second.Step);

        var normalized = PpoController.Advantages(rewards, 0.6, normalize: true, out var used);
        Assert.Equal(0.6, used);
        var std = Math.Sqrt(rewards.Sum(r => (r - 0.65) * (r - 0.65)) / 4);
        Assert.Equal(rewards.Select(r => (r - 0.6) / std), normalized);
    }

    [Fact]
    public void Adam_matches_torch_optim_Adam()
    {
        TorchRuntime.Seed(5);
        using var mine = nn.Linear(6, 3);
        using var theirs = nn.Linear(6, 3);
        theirs.load_state_dict(mine.state_dict());
        using var adam = new AdamOptimizer(mine.parameters(), 0.01, 0.9, 0.999, 1e-8);
        using var reference = optim.Adam(theirs.parameters(), 0.01, 0.9, 0.999, 1e-8);
        for (var step = 0; step < 5; step++)
        {
            using var scope = NewDisposeScope();
            var x = randn(4, 6);
            adam.ZeroGrad();
            reference.zero_grad();
            mine.call(x).pow(2).sum().backward();
            theirs.call(x).pow(2).sum().backward();
            adam.Step();
            reference.step();
        }
        foreach (var (p, q) in mine.parameters().Zip(theirs.parameters()))
        {
            Assert.True(p.allclose(q, rtol: 1e-5, atol: 1e-7), "parameters diverged from torch.optim.Adam");
        }
        Assert.Equal(5, adam.Steps);
    }

    [Fact]
    public void A_failed_trial_with_the_failed_reward_pushes_its_architecture_down()
    {
        using var controller = new PpoController(Small);
        var proposals = controller.Sample(8);
        var batch = Score(proposals);
        batch[3] = ScoredSample.From(proposals[3], RewardFormula.FailedReward, failed: true);
        var update = controller.Update(batch);
        Assert.True(update.Advantages[3] < 0);
        Assert.True(update.Advantages[3] == update.Advantages.Min());
        Assert.True(controller.LogProb(proposals[3].Tokens) < proposals[3].LogProb);
    }

    [Fact]
    public void Update_rejects_bad_batches_with_clear_errors()
    {
        using var controller = new PpoController(Small);
        var p = controller.Sample(1)[0];
        var bad = p.Tokens.ToArray();
        bad[^1] = 0; // block 7 has one layer: −1 is not allowed
        Assert.Contains("empty", Assert.Throws<ControllerException>(() => controller.Update([])).Message);
        Assert.Contains("log-probability", Assert.Throws<ControllerException>(() => controller.Update([new ScoredSample(p.Tokens, null, 0.5)])).Message);
        Assert.Contains("not allowed", Assert.Throws<ControllerException>(() => controller.Update([new ScoredSample(bad, p.LogProb, 0.5)])).Message);
        Assert.Contains("expected 42 tokens", Assert.Throws<ControllerException>(() => controller.Update([new ScoredSample([1, 2], p.LogProb, 0.5)])).Message);
        Assert.Contains("non-finite reward", Assert.Throws<ControllerException>(() => controller.Update([ScoredSample.From(p, double.NaN)])).Message);
        Assert.Equal(0, controller.UpdateCount);
    }

    [Fact]
    public void Restore_rejects_corrupt_and_foreign_states()
    {
        using var controller = new PpoController(Small);
        var state = controller.SaveState();
        var flipped = state.ToArray();
        flipped[flipped.Length / 2] ^= 1;
        Assert.Contains("checksum", Assert.Throws<ControllerException>(() => PpoController.Restore(flipped)).Message);
        Assert.Contains("too short", Assert.Throws<ControllerException>(() => PpoController.Restore(state[..10])).Message);
        var random = new RandomSearchSampler(1).SaveState();
        Assert.Contains("wrong header", Assert.Throws<ControllerException>(() => PpoController.Restore(random)).Message);
        using var any = ArchitectureSamplers.Restore(state);
        Assert.Equal(controller.ParameterHash, any.Version);
    }

    [Fact]
    public void Parameter_hash_changes_with_any_parameter_and_is_short_hex()
    {
        using var controller = new PpoController(Small);
        var hash = controller.ParameterHash;
        Assert.Matches("^[0-9a-f]{16}$", hash);
        Assert.Equal(hash, new PpoController(Small).ParameterHash);
        Step(controller);
        Assert.NotEqual(hash, controller.ParameterHash);
    }
}
