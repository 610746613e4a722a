using MnasNet.SearchSpace;
using MnasNet.Torch;

namespace MnasNet.Controller.Tests;

public sealed class WarmStartTests
{
    private static readonly MnasNetSearchSpace Space = MnasNetSearchSpace.Default;
    private static readonly SurrogateObjective Objective = new();
    private static readonly LatencyTarget Target = LatencyTarget.For(RewardPreset.Soft, 75);

    private static ScoredSample[] Score(IReadOnlyList<Proposal> proposals) =>
        proposals.Select(p => ScoredSample.From(p, Objective.Reward(p.Tokens, Target).Reward)).ToArray();

    private static int Differences(IReadOnlyList<int> a, IReadOnlyList<int> b) => a.Zip(b, (x, y) => x != y).Count(d => d);

    [Fact]
    public void Ppo_keeps_the_learned_parameters_and_moments_under_the_new_options_seed_and_no_baseline()
    {
        TorchRuntime.EnsureLoaded(threads: 1);
        var small = new ControllerOptions(Seed: 11, HiddenSize: 24, EmbeddingSize: 16, Epochs: 2);
        using var source = new PpoController(small);
        for (var i = 0; i < 3; i++)
        {
            source.Update(Score(source.Sample(8)));
        }
        var options = small with { Seed = 99, LearningRate = 0.02 };

        using var warm = PpoController.Restore(PpoController.WarmStartState(source.SaveState(), options));
        using var fresh = new PpoController(options);

        Assert.Equal(source.ParameterHash, warm.ParameterHash);
        Assert.Equal(3, warm.UpdateCount);
        Assert.Null(warm.Baseline);
        Assert.Equal(options, warm.Options);
        Assert.Equal(fresh.RandomState, warm.RandomState);
        Assert.NotEqual(source.RandomState, warm.RandomState);
        // Adam's moments came along: the next update moves the parameters, and a restored copy repeats it bit for bit.
        var batch = Score(warm.Sample(8));
        using var again = PpoController.Restore(PpoController.WarmStartState(source.SaveState(), options));
        again.Sample(8);
        Assert.Equal(warm.Update(batch).ParameterHash, again.Update(batch).ParameterHash);

        var bigger = Assert.Throws<ControllerException>(() => PpoController.WarmStartState(source.SaveState(), options with { HiddenSize = 32 }));
        Assert.Contains("its network (1 LSTM layers, 24 hidden, 16 embedding) is not this search's (1, 32, 16)", bigger.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Tabular_ppo_keeps_its_logits_and_step_with_a_new_random_stream()
    {
        var options = ControllerOptions.Default with { Seed = 3 };
        var source = new TabularPpoPolicy(Space, options);
        source.Observe(Score(source.Sample(16)));
        source.Observe(Score(source.Sample(16)));

        var warm = TabularPpoPolicy.Restore(Space, options, WarmStarts.PolicyState(SearchStrategies.PpoTabular, source.SaveState(), options with { Seed = 8 }));

        Assert.Equal(source.Version, warm.Version);
        Assert.Equal(2, warm.Step);
        var fresh = new TabularPpoPolicy(Space, options with { Seed = 8 });
        Assert.NotEqual(source.Sample(4).Select(p => string.Join(",", p.Tokens)), warm.Sample(4).Select(p => string.Join(",", p.Tokens)));
        Assert.NotEqual(fresh.Version, warm.Version);
    }

    [Fact]
    public void Trials_are_taken_best_first_up_to_the_capacity_and_handed_over_worst_first()
    {
        ScoredSample S(double reward) => new(Space.Sample(new SeededRandom((ulong)(reward * 1000))), null, reward);
        var trials = new[] { S(0.5), S(0.9), S(0.1), S(0.9), S(0.7) };

        Assert.Equal([4, 3, 1], WarmStarts.SelectTrials(trials, 3));
        Assert.Equal([2, 0, 4, 3, 1], WarmStarts.SelectTrials(trials, 10));
        Assert.Empty(WarmStarts.SelectTrials(trials, 0));
    }

    [Fact]
    public void Seeded_evolution_skips_the_random_warm_up_it_has_trials_for()
    {
        var random = new RandomSearchSampler(5);
        var trials = Score(random.Sample(64));
        using var full = new EvolutionSampler(EvolutionOptions.Default with { Seed = 1 });
        WarmStarts.Seed(full, trials);
        Assert.Equal(64, full.PopulationCount);
        Assert.All(full.Sample(16), p => Assert.Contains(trials, t => Differences(t.Tokens, p.Tokens) == 1));

        using var part = new EvolutionSampler(EvolutionOptions.Default with { Seed = 1 });
        part.Seed(trials[..60]);
        var proposals = part.Sample(8);
        // Four proposals complete the warm-up of 64 (uniform, unrelated to the seeds); the rest are mutations.
        Assert.All(proposals.Take(4), p => Assert.DoesNotContain(trials, t => Differences(t.Tokens, p.Tokens) <= 1));
        Assert.All(proposals.Skip(4), p => Assert.Contains(trials[..60], t => Differences(t.Tokens, p.Tokens) == 1));

        using var restored = EvolutionSampler.Restore(full.SaveState());
        Assert.Equal(full.Sample(4).Select(p => string.Join(",", p.Tokens)), restored.Sample(4).Select(p => string.Join(",", p.Tokens)));
    }

    [Fact]
    public void Warm_started_evolution_and_tpe_find_better_architectures_early_on_a_new_target()
    {
        var settings = new SuiteSettings([SearchStrategies.Evolution, SearchStrategies.Tpe], [ObjectiveFamilies.Surrogate], [RewardPreset.Soft], [48, 96],
            Seeds: 3, Batch: 16, TargetMs: 55);

        var result = WarmStartSuite.Execute(settings, sourceTargetMs: 75, sourceBudget: 400, cancellationToken: TestContext.Current.CancellationToken);

        Assert.Equal(4, result.Cells.Count);
        Assert.All(result.Cells, c => Assert.True(c.WarmMean > c.ColdMean, $"{c}"));
        Assert.All(result.Cells.Where(c => c.Budget == 96), c => Assert.True(c.Reached == 3 && c.BudgetToColdBestMean < 96, $"{c}"));
        Assert.Equal(result.Cells, WarmStartSuite.Execute(settings with { Parallelism = 1 }, 75, 400, cancellationToken: TestContext.Current.CancellationToken).Cells);
        Assert.Throws<ControllerException>(() => WarmStartSuite.Execute(settings with { Strategies = [SearchStrategies.Random] }, 75, cancellationToken: TestContext.Current.CancellationToken));
    }
}
