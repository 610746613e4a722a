using MnasNet.SearchSpace;

namespace MnasNet.Controller.Tests;

public sealed class BaselineTests
{
    private static readonly MnasNetSearchSpace Space = MnasNetSearchSpace.Default;
    private static readonly SurrogateObjective Objective = new();
    private static readonly LatencyTarget Target = LatencyTarget.For(RewardPreset.Soft, 75);

    private static ScoredSample[] Score(IReadOnlyList<Proposal> proposals) =>
        proposals.Select(p => ScoredSample.From(p, Objective.Reward(p.Tokens, Target).Reward)).ToArray();

    private static int[][] Run(IArchitectureSampler sampler, int batches, int batch = 10)
    {
        var all = new List<int[]>();
        for (var i = 0; i < batches; i++)
        {
            var proposals = sampler.Sample(batch);
            all.AddRange(proposals.Select(p => p.Tokens.ToArray()));
            sampler.Observe(Score(proposals));
        }
        return [.. all];
    }

    [Theory]
    [InlineData(SearchStrategies.Random)]
    [InlineData(SearchStrategies.Evolution)]
    [InlineData(SearchStrategies.Tpe)]
    public void Same_seed_same_proposals_other_seed_other_proposals(string strategy)
    {
        var options = new EvolutionOptions(PopulationSize: 20, SampleSize: 5);
        using var a = ArchitectureSamplers.Create(strategy, 7, evolution: options);
        using var b = ArchitectureSamplers.Create(strategy, 7, evolution: options);
        using var c = ArchitectureSamplers.Create(strategy, 8, evolution: options);
        var ra = Run(a, 6);
        Assert.Equal(ra, Run(b, 6));
        Assert.NotEqual(ra, Run(c, 6));
        Assert.All(ra, t => Space.ValidateTokens(t));
    }

    [Theory]
    [InlineData(SearchStrategies.Random)]
    [InlineData(SearchStrategies.Evolution)]
    [InlineData(SearchStrategies.Tpe)]
    public void Saved_state_continues_exactly(string strategy)
    {
        var options = new EvolutionOptions(PopulationSize: 20, SampleSize: 5);
        using var a = ArchitectureSamplers.Create(strategy, 3, evolution: options);
        using var b = ArchitectureSamplers.Create(strategy, 3, evolution: options);
        Run(a, 3);
        Run(b, 3);
        using var restored = ArchitectureSamplers.Restore(b.SaveState());
        Assert.Equal(strategy, restored.Strategy);
        Assert.Equal(Run(a, 4), Run(restored, 4));
    }

    [Fact]
    public void Random_search_proposals_carry_the_uniform_log_probability()
    {
        using var sampler = new RandomSearchSampler(1);
        var expected = -Space.Decisions.Sum(d => Math.Log(d.AllowedCount));
        Assert.All(sampler.Sample(5), p => Assert.Equal(expected, p.LogProb));
        Assert.Equal(Space.Log10Size, -expected / Math.Log(10), 9);
    }

    [Fact]
    public void Evolution_warms_up_randomly_then_mutates_one_allowed_decision_of_a_member()
    {
        var options = new EvolutionOptions(PopulationSize: 20, SampleSize: 5, Seed: 2);
        using var sampler = new EvolutionSampler(options);
        var warmUp = sampler.Sample(20);
        sampler.Observe(Score(warmUp));
        Assert.Equal(20, sampler.PopulationCount);
        var members = warmUp.Select(p => p.Tokens.ToArray()).ToArray();
        var children = sampler.Sample(50);
        foreach (var child in children)
        {
            Space.ValidateTokens(child.Tokens);
            Assert.Null(child.LogProb);
            Assert.Contains(members, m => m.Zip(child.Tokens).Count(z => z.First != z.Second) == 1);
        }
        // Aging: the population keeps its size and the oldest leave first.
        sampler.Observe(Score(children.Take(5).ToArray()));
        Assert.Equal(20, sampler.PopulationCount);
        using var restored = EvolutionSampler.Restore(sampler.SaveState());
        Assert.Equal(20, restored.PopulationCount);
    }

    [Fact]
    public void Evolution_finds_better_architectures_than_its_random_warm_up()
    {
        using var sampler = new EvolutionSampler(new EvolutionOptions(PopulationSize: 30, SampleSize: 8, Seed: 5));
        var first = Score(sampler.Sample(30));
        sampler.Observe(first);
        ScoredSample[] last = [];
        for (var i = 0; i < 20; i++)
        {
            last = Score(sampler.Sample(15));
            sampler.Observe(last);
        }
        Assert.True(last.Average(s => s.Reward) > first.Average(s => s.Reward) + 0.05);
    }

    [Theory]
    [InlineData(1, 1, "PopulationSize")]
    [InlineData(10, 0, "SampleSize")]
    [InlineData(10, 11, "SampleSize")]
    public void Evolution_options_are_validated(int population, int sampleSize, string named)
    {
        var e = Assert.Throws<ControllerException>(() => new EvolutionSampler(new EvolutionOptions(population, sampleSize)));
        Assert.Contains(named, e.Message);
    }

    [Fact]
    public void Unknown_strategy_and_state_are_rejected()
    {
        Assert.Contains("expected ppo, random, evolution", Assert.Throws<ControllerException>(() => ArchitectureSamplers.Create("bayes", 1)).Message);
        Assert.Contains("unknown format", Assert.Throws<ControllerException>(() => ArchitectureSamplers.Restore([1, 2, 3])).Message);
        Assert.Contains("between 1 and 100000", Assert.Throws<ControllerException>(() => new RandomSearchSampler(1).Sample(0)).Message);
    }
}
