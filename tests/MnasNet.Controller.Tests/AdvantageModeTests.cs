using System.Text.Json;

namespace MnasNet.Controller.Tests;

public sealed class AdvantageModeTests
{
    [Fact]
    public void Options_journaled_before_the_new_settings_mean_the_old_behaviour()
    {
        // PpoController.Restore reads its options with this call: keys missing from an old state take the defaults.
        var json = JsonSerializer.SerializeToNode(ControllerOptions.Default with { Seed = 5, LearningRate = 0.02 })!.AsObject();
        json.Remove(nameof(ControllerOptions.Advantage));
        json.Remove(nameof(ControllerOptions.EntropyDecayUpdates));
        var old = JsonSerializer.Deserialize<ControllerOptions>(json.ToJsonString())!;
        Assert.Equal(ControllerOptions.Default with { Seed = 5, LearningRate = 0.02 }, old);
        Assert.Equal(AdvantageModes.Baseline, old.Advantage);
        Assert.Equal(0, old.EntropyDecayUpdates);
    }

    [Fact]
    public void Baseline_mode_is_the_original_formula_batch_and_rank_centre_on_the_batch()
    {
        double[] rewards = [0.70, 0.72, 0.71, 0.80];
        var old = PpoController.Advantages(rewards, 0.69, normalize: true, out var b0);
        Assert.Equal(old, PpoController.Advantages(rewards, 0.69, true, AdvantageModes.Baseline, out var b1));
        Assert.Equal(b0, b1);
        var batch = PpoController.Advantages(rewards, 0.69, true, AdvantageModes.Batch, out _);
        Assert.Equal(0, batch.Sum(), 9);
        Assert.True(old.Sum() > 0);
        var rank = PpoController.Advantages(rewards, 0.69, true, AdvantageModes.Rank, out _);
        Assert.Equal(0, rank.Sum(), 9);
        Assert.True(rank[0] < rank[2] && rank[2] < rank[1] && rank[1] < rank[3]);
        // Rank advantages ignore the spread: a far-away best sample gets the same advantage as a near one.
        var near = PpoController.Advantages([0.70, 0.72, 0.71, 0.73], null, true, AdvantageModes.Rank, out _);
        Assert.Equal(near, rank);
        // Ties share their rank.
        var tied = PpoController.Advantages([0.5, 0.5, 0.9], null, false, AdvantageModes.Rank, out _);
        Assert.Equal(tied[0], tied[1]);
        Assert.Contains("Advantage", Assert.Throws<ControllerException>(() => (ControllerOptions.Default with { Advantage = "value" }).Validate()).Message);
    }

    [Fact]
    public void The_entropy_weight_decays_linearly_when_asked()
    {
        using var constant = new PpoController(ControllerOptions.Default with { HiddenSize = 8, EmbeddingSize = 8 });
        Assert.Equal(0.005, constant.EntropyCoefficientAt(1000));
        using var decaying = new PpoController(ControllerOptions.Default with { HiddenSize = 8, EmbeddingSize = 8, EntropyDecayUpdates = 10 });
        Assert.Equal(0.005, decaying.EntropyCoefficientAt(0));
        Assert.Equal(0.0025, decaying.EntropyCoefficientAt(5), 12);
        Assert.Equal(0, decaying.EntropyCoefficientAt(20));
    }

    [Fact]
    public void Rank_mode_updates_replay_bit_identically_from_a_saved_state()
    {
        var objective = new SurrogateObjective();
        var target = LatencyTarget.For(RewardPreset.Soft, 75);
        var options = ControllerOptions.Default with { HiddenSize = 16, EmbeddingSize = 16, Advantage = AdvantageModes.Rank, EntropyDecayUpdates = 3, Seed = 4 };
        using var a = new PpoController(options);
        ScoredSample[] Batch(PpoController c) => c.Sample(8).Select(p => ScoredSample.From(p, objective.Reward(p.Tokens, target).Reward)).ToArray();
        a.Update(Batch(a));
        using var b = PpoController.Restore(a.SaveState());
        Assert.Equal(options, b.Options);
        for (var i = 0; i < 3; i++)
        {
            var ua = a.Update(Batch(a));
            var ub = b.Update(Batch(b));
            Assert.Equal(ua.ParameterHash, ub.ParameterHash);
            Assert.Equal(ua.Advantages, ub.Advantages);
        }
        Assert.NotEqual(ControllerOptions.Default with { HiddenSize = 16, EmbeddingSize = 16, Seed = 4 }, b.Options);
    }
}
