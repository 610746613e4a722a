using MnasNet.SearchSpace;

namespace MnasNet.Controller.Tests;

public sealed class TpeTests
{
    private static readonly MnasNetSearchSpace Space = MnasNetSearchSpace.Default;
    private static readonly BlockObjective Smooth = ObjectiveFamilies.Create(ObjectiveFamilies.Additive, 1);
    private static readonly LatencyTarget Target = LatencyTarget.For(RewardPreset.Soft, 75);

    private static double Best(string strategy, ulong seed, int budget, int batch)
    {
        using var sampler = ArchitectureSamplers.Create(strategy, seed);
        var best = double.NegativeInfinity;
        for (var done = 0; done < budget; done += batch)
        {
            var proposals = sampler.Sample(batch);
            var scored = proposals.Select(p => ScoredSample.From(p, Smooth.Reward(p.Tokens, Target).Reward)).ToArray();
            best = Math.Max(best, scored.Max(s => s.Reward));
            sampler.Observe(scored);
        }
        return best;
    }

    [Fact]
    public void Tpe_beats_random_search_on_a_smooth_landscape()
    {
        var tpe = Best(SearchStrategies.Tpe, 1, 400, 16);
        var random = Best(SearchStrategies.Random, 1, 400, 16);
        Assert.True(tpe > random + 0.01, $"tpe {tpe}, random {random}");
    }

    [Fact]
    public void A_batch_after_the_start_up_trials_has_no_repeats_and_no_log_probabilities()
    {
        using var sampler = new TpeSampler(new TpeOptions(StartupTrials: 10, Seed: 4));
        var first = sampler.Sample(10);
        sampler.Observe(first.Select(p => ScoredSample.From(p, Smooth.Reward(p.Tokens, Target).Reward)).ToArray());
        var batch = sampler.Sample(32);
        var keys = batch.Concat(first).Select(p => string.Join(",", p.Tokens)).ToArray();
        Assert.Equal(keys.Length, keys.Distinct().Count());
        Assert.All(batch, p => Assert.Null(p.LogProb));
        Assert.All(batch, p => Space.ValidateTokens(p.Tokens));
        Assert.Equal(42, sampler.Proposed);
        Assert.Equal("observed-10", sampler.Version);
    }

    [Fact]
    public void Proposals_favour_the_choices_of_the_best_observations()
    {
        // Reward 1 for op choice 4 in block 0, else 0: after the start-up trials nearly every proposal picks it.
        using var sampler = new TpeSampler(new TpeOptions(StartupTrials: 40, Seed: 2));
        for (var round = 0; round < 4; round++)
        {
            var proposals = sampler.Sample(20);
            sampler.Observe(proposals.Select(p => ScoredSample.From(p, p.Tokens[0] == 4 ? 1.0 : 0.0)).ToArray());
        }
        var late = sampler.Sample(20);
        Assert.True(late.Count(p => p.Tokens[0] == 4) >= 15, string.Join(" ", late.Select(p => p.Tokens[0])));
    }

    [Theory]
    [InlineData(0, 24, 0.1, "StartupTrials")]
    [InlineData(10, 0, 0.1, "Candidates")]
    [InlineData(10, 24, 0.0, "GammaFraction")]
    [InlineData(10, 24, double.NaN, "GammaFraction")]
    public void Options_are_validated(int startup, int candidates, double gamma, string named)
    {
        var e = Assert.Throws<ControllerException>(() => new TpeSampler(new TpeOptions(startup, candidates, gamma)));
        Assert.Contains(named, e.Message);
    }

    [Fact]
    public void A_corrupt_state_and_bad_feedback_are_rejected()
    {
        using var sampler = new TpeSampler(TpeOptions.Default);
        var state = sampler.SaveState();
        state[^40] ^= 1;
        Assert.Contains("checksum", Assert.Throws<ControllerException>(() => ArchitectureSamplers.Restore(state)).Message);
        var p = sampler.Sample(1)[0];
        Assert.Contains("non-finite", Assert.Throws<ControllerException>(() => sampler.Observe([ScoredSample.From(p, double.NaN)])).Message);
        Assert.Contains("sample 0", Assert.Throws<ControllerException>(() => sampler.Observe([new ScoredSample([1, 2], null, 0.5)])).Message);
    }
}
