using MnasNet.SearchSpace;

namespace MnasNet.Controller.Tests;

public sealed class ObjectiveFamilyTests
{
    private static readonly MnasNetSearchSpace Space = MnasNetSearchSpace.Default;

    public static TheoryData<string, string> Problems()
    {
        var data = new TheoryData<string, string>();
        foreach (var family in ObjectiveFamilies.All.Where(f => f != ObjectiveFamilies.Surrogate))
        {
            data.Add(family, "soft");
            data.Add(family, "hard");
        }
        return data;
    }

    [Theory]
    [MemberData(nameof(Problems))]
    public void The_optimum_beats_every_single_block_change_and_random_architectures(string family, string preset)
    {
        var objective = ObjectiveFamilies.Create(family, 3);
        var target = LatencyTarget.For(LatencyTarget.ParsePreset(preset), 75);
        var optimum = objective.Optimum(target);
        Assert.Equal(optimum.Reward, objective.Reward(optimum.Tokens, target).Reward);
        // Exhaustive over each block with the other six held at the optimum: 7 × 540 architectures.
        var per = MnasNetSearchSpace.DecisionsPerBlock;
        for (var b = 0; b < Space.Skeleton.Count; b++)
        {
            foreach (var block in BlockSettings(b))
            {
                var tokens = optimum.Tokens.ToArray();
                block.CopyTo(tokens, b * per);
                Assert.True(objective.Reward(tokens, target).Reward <= optimum.Reward + 1e-12, $"block {b} setting {string.Join(",", block)} beats the optimum");
            }
        }
        var random = new SeededRandom(11);
        for (var i = 0; i < 1000; i++)
        {
            Assert.True(objective.Reward(Space.Sample(random), target).Reward <= optimum.Reward);
        }
    }

    [Theory]
    [InlineData(ObjectiveFamilies.Additive)]
    [InlineData(ObjectiveFamilies.Interacting)]
    [InlineData(ObjectiveFamilies.Rugged)]
    public void Random_landscapes_are_reproducible_per_seed_and_differ_across_seeds(string family)
    {
        var tokens = Space.Sample(new SeededRandom(5));
        var a = ObjectiveFamilies.Create(family, 7).Evaluate(tokens);
        Assert.Equal(a, ObjectiveFamilies.Create(family, 7).Evaluate(tokens));
        var other = ObjectiveFamilies.Create(family, 8).Evaluate(tokens);
        Assert.NotEqual(a.Accuracy, other.Accuracy);
        Assert.Equal(a.LatencyMs, other.LatencyMs);
        Assert.Equal(new SurrogateObjective().Evaluate(tokens).LatencyMs, a.LatencyMs);
    }

    [Fact]
    public void Ruggedness_scales_only_the_interaction_terms()
    {
        var tokens = Enumerable.Range(0, 20).Select(i => Space.Sample(new SeededRandom((ulong)i))).ToArray();
        var smooth = new RandomLandscape(new RandomLandscapeOptions(2, Ruggedness: 0));
        var smoothOtherScale = new RandomLandscape(new RandomLandscapeOptions(2, Ruggedness: 0, InteractionScale: 0.5));
        var rugged = new RandomLandscape(new RandomLandscapeOptions(2, Ruggedness: 3));
        Assert.Equal(tokens.Select(t => smooth.Evaluate(t)), tokens.Select(t => smoothOtherScale.Evaluate(t)));
        Assert.NotEqual(tokens.Select(t => smooth.Evaluate(t).Accuracy), tokens.Select(t => rugged.Evaluate(t).Accuracy));
        // MobileNetV2 sits at the same accuracy in every landscape (the centring).
        var reference = Space.Encode(ReferenceArchitectures.MobileNetV2);
        Assert.Equal(smooth.Evaluate(reference).Accuracy, rugged.Evaluate(reference).Accuracy, 12);
    }

    [Fact]
    public void Interaction_effects_grow_with_ruggedness()
    {
        double MeanInteraction(double ruggedness)
        {
            var landscape = new RandomLandscape(new RandomLandscapeOptions(4, ruggedness, CapacityWeight: 0));
            var random = new SeededRandom(6);
            var total = 0.0;
            for (var k = 0; k < 200; k++)
            {
                var t = Space.Sample(random);
                // Decisions 0 (op) and 2 (SE) of block 1: both have ≥ 2 choices.
                var ti = t.ToArray(); ti[6] = (t[6] + 1) % 5;
                var tj = t.ToArray(); tj[8] = 1 - t[8];
                var tij = ti.ToArray(); tij[8] = tj[8];
                double S(int[] x) => landscape.Evaluate(x).Score;
                total += Math.Abs(S(tij) - S(tj) - (S(ti) - S(t)));
            }
            return total / 200;
        }
        Assert.True(MeanInteraction(0) < 1e-12);
        Assert.True(MeanInteraction(3) > 2 * MeanInteraction(1));
    }

    [Fact]
    public void The_fit_recovers_a_known_additive_accuracy()
    {
        var random = new SeededRandom(21);
        var truth = Space.Decisions.Select(d => Enumerable.Range(0, d.Choices.Count).Select(c => d.Allowed[c] ? 0.02 * random.NextGaussian() : 0).ToArray()).ToArray();
        double True(int[] t) => 0.6 + t.Select((c, i) => truth[i][c]).Sum();
        var trials = Enumerable.Range(0, 400).Select(_ => Space.Sample(random)).Select(t => ((IReadOnlyList<int>)t, True(t))).ToList();
        var fit = FittedLandscape.Fit(trials, "synthetic", "test");
        Assert.True(fit.LeaveOneOutRmse < 0.25 * fit.AccuracyStd, $"LOO RMSE {fit.LeaveOneOutRmse} vs sd {fit.AccuracyStd}");
        var landscape = new FittedLandscape(FittedLandscape.Parse(FittedLandscape.Serialize(fit), "round trip"));
        var fresh = Enumerable.Range(0, 50).Select(_ => Space.Sample(random)).ToArray();
        var errors = fresh.Select(t => Math.Abs(landscape.Evaluate(t).Accuracy - True(t))).ToArray();
        Assert.True(errors.Average() < 0.02, $"mean error {errors.Average()}");
    }

    [Fact]
    public void The_committed_fit_loads_and_bad_coefficients_are_rejected()
    {
        var fitted = FittedLandscape.LoadDefault();
        Assert.Equal(Space.DecisionCount, fitted.Coefficients.Weights.Length);
        Assert.True(fitted.Coefficients.Trials >= 20);
        Assert.Contains("fit-landscape", fitted.Coefficients.Command);
        Assert.Contains("weight row 3", Assert.Throws<ControllerException>(() => new FittedLandscape(fitted.Coefficients with
        {
            Weights = fitted.Coefficients.Weights.Select((w, i) => i == 3 ? new double[1] : w).ToArray(),
        })).Message);
        Assert.Contains("not a coefficient file", Assert.Throws<ControllerException>(() => FittedLandscape.Parse("[1, 2]", "x.json")).Message);
        Assert.Contains("at least 3 trials", Assert.Throws<ControllerException>(() => FittedLandscape.Fit([], "none", "test")).Message);
        Assert.Contains("expected one of", Assert.Throws<ControllerException>(() => ObjectiveFamilies.Create("nope")).Message);
    }

    private static IEnumerable<int[]> BlockSettings(int b)
    {
        var per = MnasNetSearchSpace.DecisionsPerBlock;
        IEnumerable<int[]> settings = [[]];
        for (var i = 0; i < per; i++)
        {
            var d = Space.Decisions[b * per + i];
            var choices = Enumerable.Range(0, d.Choices.Count).Where(c => d.Allowed[c]).ToArray();
            settings = settings.SelectMany(prefix => choices.Select(c => (int[])[.. prefix, c])).ToArray();
        }
        return settings;
    }
}
