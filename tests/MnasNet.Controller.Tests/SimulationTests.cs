using MnasNet.Torch;

namespace MnasNet.Controller.Tests;

public sealed class SimulationTests
{
    public SimulationTests() => TorchRuntime.EnsureLoaded(threads: 1);

    [Fact]
    public void Ppo_beats_random_search_at_equal_budget_on_several_seeds()
    {
        // A smaller LSTM than the product default keeps this test to seconds; the figures with the defaults are in
        // the README (from `mnasnet controller simulate`).
        var ppo = ControllerOptions.Default with { HiddenSize = 32, EmbeddingSize = 32 };
        var output = TestContext.Current.TestOutputHelper;
        foreach (var seed in new ulong[] { 1, 2, 3 })
        {
            var learned = ControllerSimulation.Run(new SimulationSettings(SearchStrategies.Ppo, 384, 32, seed, Ppo: ppo));
            var random = ControllerSimulation.Run(new SimulationSettings(SearchStrategies.Random, 384, 32, seed));
            static double LastBatches(SimulationResult r) => r.Curve.TakeLast(3).Average(p => p.MeanReward);
            output?.WriteLine($"seed {seed} ppo    {string.Join(" ", learned.Curve.Select(p => p.MeanReward.ToString("F3")))}");
            output?.WriteLine($"seed {seed} random {string.Join(" ", random.Curve.Select(p => p.MeanReward.ToString("F3")))}");
            Assert.True(LastBatches(learned) > LastBatches(random) + 0.02,
                $"seed {seed}: PPO {LastBatches(learned):F4} vs random {LastBatches(random):F4}");
        }
    }

    [Fact]
    public void A_simulation_reports_a_consistent_curve_and_is_reproducible()
    {
        var settings = new SimulationSettings(SearchStrategies.Evolution, 100, 30, 4, RewardPreset.Hard, 60);
        var a = ControllerSimulation.Run(settings);
        var b = ControllerSimulation.Run(settings);
        Assert.Equal(a.BestTokens, b.BestTokens);
        Assert.Equal(a.Curve, b.Curve);
        Assert.Equal(100, a.Samples);
        Assert.Equal([30, 60, 90, 100], a.Curve.Select(p => p.Samples));
        Assert.Equal(a.Curve[^1].MeanReward, a.MeanRewardLastBatch);
        Assert.Equal(a.BestReward, a.Curve.Max(p => p.MaxReward));
        Assert.Equal(a.BestReward, RewardFormula.Compute(a.BestAccuracy, a.BestLatencyMs, RewardPreset.Hard, 60).Reward);
        Assert.True(a.Curve.Zip(a.Curve.Skip(1)).All(p => p.Second.BestSoFar >= p.First.BestSoFar));
    }
}
