using MnasNet.SearchSpace;

namespace MnasNet.SearchSpace.Tests;

public sealed class CostModelTests
{
    private readonly ITestOutputHelper _output;

    public CostModelTests(ITestOutputHelper output) => _output = output;

    [Fact]
    public void MnasNetB1_matches_torchvision_mnasnet1_0_parameter_count()
    {
        var cost = CostModel.Compute(ReferenceArchitectures.MnasNetB1);
        _output.WriteLine($"mnasnet-b1: {cost.Params} params, {cost.Macs} MACs");
        Assert.Equal(4_383_312, cost.Params);
    }

    [Fact]
    public void MobileNetV2_matches_torchvision_mobilenet_v2_parameter_count()
    {
        var cost = CostModel.Compute(ReferenceArchitectures.MobileNetV2);
        _output.WriteLine($"mobilenet-v2: {cost.Params} params, {cost.Macs} MACs");
        Assert.Equal(3_504_872, cost.Params);
    }

    [Fact]
    public void Reference_multiply_adds_match_published_figures()
    {
        // TorchVision publishes 0.31 GFLOPs (MACs) for mnasnet1_0 and 0.30 for mobilenet_v2; FIELD-NOTES measured 314.4 M and 300.8 M.
        Assert.InRange(CostModel.Compute(ReferenceArchitectures.MnasNetB1).Macs, 314_000_000, 315_000_000);
        Assert.InRange(CostModel.Compute(ReferenceArchitectures.MobileNetV2).Macs, 300_000_000, 301_500_000);
    }

    [Fact]
    public void MnasNetA1_is_close_to_the_paper()
    {
        var cost = CostModel.Compute(ReferenceArchitectures.MnasNetA1);
        _output.WriteLine($"mnasnet-a1: {cost.Params} params, {cost.Macs} MACs");
        Assert.InRange(cost.Params, 3_800_000, 4_000_000);
        Assert.InRange(cost.Macs, 300_000_000, 325_000_000);
    }
}
