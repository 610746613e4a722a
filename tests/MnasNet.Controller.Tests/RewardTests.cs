namespace MnasNet.Controller.Tests;

public sealed class RewardTests
{
    [Fact]
    public void Formula_id_is_versioned()
    {
        Assert.Equal("mnasnet-reward/v1", RewardFormula.Id);
        RewardFormula.EnsureSupported("mnasnet-reward/v1");
        Assert.Contains("not supported", Assert.Throws<ControllerException>(() => RewardFormula.EnsureSupported("mnasnet-reward/v2")).Message);
    }

    [Theory]
    [InlineData(RewardPreset.Soft)]
    [InlineData(RewardPreset.Hard)]
    public void At_the_target_the_reward_is_the_accuracy(RewardPreset preset)
    {
        var r = RewardFormula.Compute(0.73, 80, preset, 80);
        Assert.Equal(0.73, r.Reward);
        Assert.False(r.Failed);
        Assert.Equal(RewardFormula.Id, r.FormulaId);
    }

    [Fact]
    public void Soft_rewards_faster_and_penalises_slower_models_with_exponent_minus_0_07()
    {
        var below = RewardFormula.Compute(0.7, 40, RewardPreset.Soft, 80);
        var above = RewardFormula.Compute(0.7, 160, RewardPreset.Soft, 80);
        Assert.Equal(-0.07, below.Exponents[0]);
        Assert.Equal(-0.07, above.Exponents[0]);
        Assert.Equal(0.7 * Math.Pow(0.5, -0.07), below.Reward);
        Assert.Equal(0.7 * Math.Pow(2, -0.07), above.Reward);
        Assert.True(below.Reward > 0.7 && above.Reward < 0.7);
        // Paper §3: with α=β=−0.07, twice the latency costs about 5% relative accuracy.
        Assert.Equal(0.953, above.Reward / 0.7, 3);
    }

    [Fact]
    public void Hard_ignores_latency_below_the_target_and_divides_by_the_overshoot_above()
    {
        var below = RewardFormula.Compute(0.7, 40, RewardPreset.Hard, 80);
        var above = RewardFormula.Compute(0.7, 160, RewardPreset.Hard, 80);
        Assert.Equal(0.7, below.Reward);
        Assert.Equal(0.0, below.Exponents[0]);
        Assert.Equal(-1.0, above.Exponents[0]);
        Assert.Equal(0.35, above.Reward, 15);
    }

    [Fact]
    public void Multi_device_reward_is_the_product_of_the_per_device_factors()
    {
        LatencyTarget[] targets = [LatencyTarget.For(RewardPreset.Soft, 80, "pixel1"), LatencyTarget.For(RewardPreset.Hard, 20, "edge-tpu")];
        var r = RewardFormula.Compute(0.75, [100, 30], targets);
        Assert.Equal(0.75 * Math.Pow(100 / 80.0, -0.07) * Math.Pow(30 / 20.0, -1.0), r.Reward);
        Assert.Equal([-0.07, -1.0], r.Exponents);
        var single = RewardFormula.Compute(0.75, 100, targets[0]).Reward;
        Assert.Equal(single * Math.Pow(1.5, -1.0), r.Reward, 15);
    }

    [Fact]
    public void A_failed_trial_gets_zero_and_is_marked_failed()
    {
        var r = RewardFormula.Failed([LatencyTarget.For(RewardPreset.Soft, 75)]);
        Assert.True(r.Failed);
        Assert.Equal(RewardFormula.FailedReward, r.Reward);
        Assert.Equal(0.0, RewardFormula.FailedReward);
        // Below every successful reward: even a tiny accuracy at a huge latency earns more.
        Assert.True(RewardFormula.Compute(1e-6, 1e6, RewardPreset.Hard, 1).Reward > r.Reward);
    }

    [Fact]
    public void Same_inputs_give_the_same_bits()
    {
        var a = RewardFormula.Compute(0.7123456789, 77.77, RewardPreset.Soft, 75).Reward;
        var b = RewardFormula.Compute(0.7123456789, 77.77, LatencyTarget.For(RewardPreset.Soft, 75)).Reward;
        Assert.Equal(BitConverter.DoubleToInt64Bits(a), BitConverter.DoubleToInt64Bits(b));
    }

    [Theory]
    [InlineData(1.5, 50, 75, "accuracy")]
    [InlineData(double.NaN, 50, 75, "accuracy")]
    [InlineData(0.7, 0, 75, "latency")]
    [InlineData(0.7, double.PositiveInfinity, 75, "latency")]
    [InlineData(0.7, 50, -1, "target latency")]
    public void Bad_inputs_are_rejected_naming_the_problem(double accuracy, double latency, double target, string named)
    {
        var e = Assert.Throws<ControllerException>(() => RewardFormula.Compute(accuracy, latency, RewardPreset.Soft, target));
        Assert.Contains(named, e.Message);
    }

    [Fact]
    public void Mismatched_devices_and_bad_exponents_are_rejected()
    {
        Assert.Contains("2 latencies for 1 targets", Assert.Throws<ControllerException>(() =>
            RewardFormula.Compute(0.7, [50, 60], [LatencyTarget.For(RewardPreset.Soft, 75)])).Message);
        Assert.Contains("exponents", Assert.Throws<ControllerException>(() =>
            RewardFormula.Compute(0.7, 50, new LatencyTarget("x", 75, 0.5, -1))).Message);
        Assert.Equal(RewardPreset.Hard, LatencyTarget.ParsePreset("HARD"));
        Assert.Contains("soft or hard", Assert.Throws<ControllerException>(() => LatencyTarget.ParsePreset("medium")).Message);
    }
}
