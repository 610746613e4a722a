namespace MnasNet.Controller.Tests;

public sealed class OptionsTests
{
    public static TheoryData<ControllerOptions, string> Invalid => new()
    {
        { ControllerOptions.Default with { LstmLayers = 0 }, "LstmLayers" },
        { ControllerOptions.Default with { HiddenSize = 0 }, "HiddenSize" },
        { ControllerOptions.Default with { EmbeddingSize = -3 }, "EmbeddingSize" },
        { ControllerOptions.Default with { InitRange = 0 }, "InitRange" },
        { ControllerOptions.Default with { Temperature = 0 }, "Temperature" },
        { ControllerOptions.Default with { LearningRate = double.NaN }, "LearningRate" },
        { ControllerOptions.Default with { AdamBeta1 = 1 }, "AdamBeta1" },
        { ControllerOptions.Default with { AdamBeta2 = -0.1 }, "AdamBeta2" },
        { ControllerOptions.Default with { AdamEpsilon = 0 }, "AdamEpsilon" },
        { ControllerOptions.Default with { ClipEpsilon = 0 }, "ClipEpsilon" },
        { ControllerOptions.Default with { ClipEpsilon = 1.5 }, "ClipEpsilon" },
        { ControllerOptions.Default with { EntropyCoefficient = -1 }, "EntropyCoefficient" },
        { ControllerOptions.Default with { Epochs = 0 }, "Epochs" },
        { ControllerOptions.Default with { MaxGradNorm = 0 }, "MaxGradNorm" },
        { ControllerOptions.Default with { BaselineDecay = 1 }, "BaselineDecay" },
        { ControllerOptions.Default with { Threads = 0 }, "Threads" },
    };

    [Theory]
    [MemberData(nameof(Invalid))]
    public void Invalid_options_name_the_option_and_the_rule(ControllerOptions options, string name)
    {
        var e = Assert.Throws<ControllerException>(() => options.Validate());
        Assert.Contains(name, e.Message);
        Assert.Contains("must be", e.Message);
        Assert.Throws<ControllerException>(() => new PpoController(options));
    }

    [Fact]
    public void Defaults_are_valid_and_match_the_documented_choices()
    {
        var o = ControllerOptions.Default.Validate();
        Assert.Equal((1, 100), (o.LstmLayers, o.HiddenSize));
        Assert.Equal(0.2, o.ClipEpsilon);
    }

    [Theory]
    [InlineData("bayes", 100, 10, 75, "strategy")]
    [InlineData("ppo", 0, 10, 75, "budget")]
    [InlineData("ppo", 100, 0, 75, "batch")]
    [InlineData("ppo", 100, 101, 75, "batch")]
    [InlineData("random", 100, 10, 0, "target latency")]
    public void Simulation_settings_are_validated(string strategy, int budget, int batch, double target, string named)
    {
        var e = Assert.Throws<ControllerException>(() => ControllerSimulation.Run(new SimulationSettings(strategy, budget, batch, TargetMs: target)));
        Assert.Contains(named, e.Message);
    }
}
