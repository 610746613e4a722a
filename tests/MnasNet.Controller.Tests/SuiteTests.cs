namespace MnasNet.Controller.Tests;

public sealed class SuiteTests
{
    private static SuiteSettings Tiny(int parallelism) => new(
        [SearchStrategies.Random, SearchStrategies.Evolution, SearchStrategies.Tpe],
        [ObjectiveFamilies.Additive, ObjectiveFamilies.Rugged],
        [RewardPreset.Soft, RewardPreset.Hard],
        [20, 60],
        Seeds: 2,
        Batch: 10,
        Parallelism: parallelism,
        Evolution: new EvolutionOptions(20, 5));

    [Fact]
    public void Regret_is_never_negative_best_grows_with_budget_and_parallelism_changes_nothing()
    {
        var one = ControllerSuite.Execute(Tiny(1), cancellationToken: TestContext.Current.CancellationToken);
        var two = ControllerSuite.Execute(Tiny(2), cancellationToken: TestContext.Current.CancellationToken);
        Assert.Equal(2 * 2 * 3 * 2, one.Cells.Count);
        Assert.Equal(one.Cells, two.Cells);
        Assert.All(one.Cells, c => Assert.True(c.MeanRegret >= 0 && c.MeanBest <= c.Optimum, $"{c}"));
        foreach (var g in one.Cells.GroupBy(c => (c.Family, c.Preset, c.Strategy)))
        {
            var byBudget = g.OrderBy(c => c.Budget).ToArray();
            Assert.True(byBudget[1].MeanBest >= byBudget[0].MeanBest);
        }
        var curve = one.Curves.First();
        Assert.Equal([10, 20, 30, 40, 50, 60], curve.Samples);
        Assert.Equal(one.Cells.First(c => c.Family == curve.Family && c.Preset == curve.Preset && c.Strategy == curve.Strategy && c.Budget == 60).MeanBest, curve.MeanBestSoFar[^1], 12);
    }

    [Fact]
    public void Bad_settings_name_the_problem()
    {
        Assert.Contains("families", Assert.Throws<ControllerException>(() => ControllerSuite.Execute(Tiny(1) with { Families = ["flat"] }, cancellationToken: TestContext.Current.CancellationToken)).Message);
        Assert.Contains("batch", Assert.Throws<ControllerException>(() => ControllerSuite.Execute(Tiny(1) with { Batch = 30 }, cancellationToken: TestContext.Current.CancellationToken)).Message);
        Assert.Contains("strategies", Assert.Throws<ControllerException>(() => ControllerSuite.Execute(Tiny(1) with { Strategies = ["bayes"] }, cancellationToken: TestContext.Current.CancellationToken)).Message);
        Assert.Contains("seeds", Assert.Throws<ControllerException>(() => ControllerSuite.Execute(Tiny(1) with { Seeds = 0 }, cancellationToken: TestContext.Current.CancellationToken)).Message);
    }
}
