using MnasNet.SearchSpace;

namespace MnasNet.Controller.Tests;

public sealed class SurrogateTests
{
    private static readonly MnasNetSearchSpace Space = MnasNetSearchSpace.Default;
    private static readonly SurrogateObjective Objective = new();

    [Fact]
    public void Evaluation_is_deterministic_per_seed_and_differs_across_seeds()
    {
        var tokens = Space.Sample(new SeededRandom(9));
        Assert.Equal(Objective.Evaluate(tokens), new SurrogateObjective().Evaluate(tokens));
        var other = new SurrogateObjective(SurrogateOptions.Default with { Seed = 2 }).Evaluate(tokens);
        Assert.NotEqual(Objective.Evaluate(tokens).Accuracy, other.Accuracy);
        Assert.Equal(Objective.Evaluate(tokens).LatencyMs, other.LatencyMs);
    }

    [Fact]
    public void Latency_follows_the_cost_model()
    {
        var small = Space.Encode(ReferenceArchitectures.MobileNetV2);
        var cost = CostModel.Compute(Space.Decode(small));
        var options = SurrogateOptions.Default;
        var expected = cost.Layers.Sum(l => l.Macs / options.MacsPerMs + options.LayerOverheadMs
            + (l.SeChannels > 0 ? options.SeOverheadMs : 0) + (l.HasResidual ? options.ResidualOverheadMs : 0));
        Assert.Equal(expected, Objective.Evaluate(small).LatencyMs, 9);
        // MobileNetV2 (301 M MACs) lands near the paper's Pixel-1 range.
        Assert.InRange(Objective.Evaluate(small).LatencyMs, 70, 90);
    }

    [Fact]
    public void Accuracy_is_not_separable_by_decision()
    {
        // For a separable f, the effect of changing decision i would not depend on decision j. Find a pair where it does.
        var random = new SeededRandom(4);
        var baseTokens = Space.Sample(random);
        var found = false;
        for (var trial = 0; trial < 50 && !found; trial++)
        {
            var t = Space.Sample(random);
            var i = Space.Decisions[random.NextInt(Space.DecisionCount)];
            var j = Space.Decisions[random.NextInt(Space.DecisionCount)];
            if (i.Index == j.Index || i.AllowedCount < 2 || j.AllowedCount < 2)
            {
                continue;
            }
            int Other(Decision d, int current) => Enumerable.Range(0, d.Choices.Count).First(c => d.Allowed[c] && c != current);
            var ti = t.ToArray(); ti[i.Index] = Other(i, t[i.Index]);
            var tj = t.ToArray(); tj[j.Index] = Other(j, t[j.Index]);
            var tij = ti.ToArray(); tij[j.Index] = tj[j.Index];
            double S(int[] x) => Objective.Evaluate(x).Score;
            found = Math.Abs(S(tij) - S(tj) - (S(ti) - S(t))) > 1e-6;
        }
        Assert.True(found);
        Assert.InRange(Objective.Evaluate(baseTokens).Accuracy, 0.45, 0.85);
    }

    [Theory]
    [InlineData(RewardPreset.Soft)]
    [InlineData(RewardPreset.Hard)]
    public void The_exact_optimum_beats_every_neighbour_and_every_random_sample(RewardPreset preset)
    {
        var target = LatencyTarget.For(preset, 75);
        var optimum = Objective.Optimum(target);
        Space.ValidateTokens(optimum.Tokens);
        Assert.Equal(optimum.Reward, Objective.Reward(optimum.Tokens, target).Reward);
        foreach (var d in Space.Decisions)
        {
            for (var c = 0; c < d.Choices.Count; c++)
            {
                if (d.Allowed[c] && c != optimum.Tokens[d.Index])
                {
                    var neighbour = optimum.Tokens.ToArray();
                    neighbour[d.Index] = c;
                    Assert.True(Objective.Reward(neighbour, target).Reward <= optimum.Reward + 1e-12, $"{d.Name}={d.Choices[c]} beats the optimum");
                }
            }
        }
        var random = new SeededRandom(1);
        for (var i = 0; i < 2000; i++)
        {
            Assert.True(Objective.Reward(Space.Sample(random), target).Reward <= optimum.Reward + 1e-12);
        }
        if (preset == RewardPreset.Hard)
        {
            Assert.True(optimum.LatencyMs <= 75);
        }
    }
}
