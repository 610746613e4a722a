using CsCheck;
using MnasNet.SearchSpace;
using MnasNet.Torch;
using MnasNet.Training.Models;
using TorchSharp;

namespace MnasNet.Training.Tests;

public sealed class ModelBuilderTests
{
    public ModelBuilderTests() => TorchRuntime.EnsureLoaded(threads: 1);

    [Theory]
    [InlineData("mnasnet-b1")]
    [InlineData("mobilenet-v2")]
    [InlineData("mnasnet-a1")]
    public void Reference_parameter_count_equals_the_cost_model(string name)
    {
        using var model = MnasNetModel.Build(ReferenceArchitectures.ByName[name]);
        Assert.Equal(CostModel.Compute(ReferenceArchitectures.ByName[name]).Params, model.ParameterCount());
    }

    [Fact]
    public void MnasNetB1_equals_torchvision_mnasnet1_0()
    {
        // TorchVision for .NET 0.107.0 has no MNASNet (only the Python package does), so this compares with the
        // count Python TorchVision documents for mnasnet1_0.
        using var model = MnasNetModel.Build(ReferenceArchitectures.MnasNetB1);
        Assert.Equal(4_383_312, model.ParameterCount());
    }

    [Fact]
    public void MobileNetV2_equals_torchvision_mobilenet_v2()
    {
        using var model = MnasNetModel.Build(ReferenceArchitectures.MobileNetV2);
        using var reference = torchvision.models.mobilenet_v2();
        Assert.Equal(reference.parameters().Sum(p => p.numel()), model.ParameterCount());
    }

    [Fact]
    public void Every_sampled_architecture_has_the_cost_models_parameter_count_and_output_shape()
    {
        var space = MnasNetSearchSpace.Default;
        Gen.Select(Gen.ULong, Gen.Int[1, 3], Gen.Int[2, 12], Gen.Int[8, 40], Gen.OneOf(0.25, 0.5, 1.0)).Sample((seed, inC, classes, res, width) =>
        {
            var arch = space.Decode(space.Sample(new SeededRandom(seed)));
            var net = new NetworkOptions(res, inC, classes, width);
            using var scope = torch.NewDisposeScope();
            using var model = MnasNetModel.Build(arch, net);
            model.eval();
            Assert.Equal(CostModel.Compute(arch, net).Params, model.ParameterCount());
            using var _ = torch.inference_mode();
            var y = model.call(torch.randn(2, inC, res, res));
            Assert.Equal(new long[] { 2, classes }, y.shape);
        }, iter: 12, threads: 1);
    }
}
