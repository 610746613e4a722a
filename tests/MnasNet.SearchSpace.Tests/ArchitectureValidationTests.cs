using MnasNet.SearchSpace;

namespace MnasNet.SearchSpace.Tests;

public sealed class ArchitectureValidationTests
{
    private const string Valid = """
        {"format":"mnasnet-arch/v1","stem":{"channels":32,"kernel":3,"stride":2},
         "blocks":[{"op":"mbconv","expansion":6,"kernel":3,"se":0.25,"skip":"identity","channels":24,"layers":2,"stride":2}],
         "head":{"channels":1280}}
        """;

    [Fact]
    public void A_valid_file_parses()
    {
        var arch = ArchitectureJson.Parse(Valid);
        Assert.Single(arch.Blocks);
        Assert.Equal(0.25, arch.Blocks[0].SeRatio);
    }

    [Theory]
    [InlineData("\"op\":\"mbconv\"", "\"op\":\"fancy\"", "blocks[0].op: unknown op 'fancy'")]
    [InlineData("\"kernel\":3,\"se\"", "\"kernel\":4,\"se\"", "blocks[0].kernel: kernel must be odd")]
    [InlineData("\"stride\":2}]", "\"stride\":3}]", "blocks[0].stride: stride must be 1 or 2")]
    [InlineData("\"se\":0.25", "\"se\":1.5", "blocks[0].se: squeeze-excite ratio must be in [0, 1)")]
    [InlineData("\"layers\":2", "\"layers\":0", "blocks[0].layers: must be at least 1")]
    [InlineData("\"channels\":24", "\"channels\":\"many\"", "blocks[0].channels: must be an integer")]
    [InlineData("\"skip\":\"identity\"", "\"skip\":\"bridge\"", "blocks[0].skip: unknown skip 'bridge'")]
    [InlineData("mnasnet-arch/v1", "mnasnet-arch/v9", "format: unsupported 'mnasnet-arch/v9'")]
    [InlineData("\"expansion\":6,", "\"expansion\":6,\"colour\":1,", "unknown property 'colour'")]
    [InlineData("\"op\":\"mbconv\",\"expansion\":6", "\"op\":\"conv\",\"expansion\":6", "conv has no expansion")]
    [InlineData("{\"format\"", "[{\"format\"", "not valid JSON")]
    public void Invalid_fields_are_named(string from, string to, string expected)
    {
        var e = Assert.Throws<ArchitectureException>(() => ArchitectureJson.Parse(Valid.Replace(from, to, StringComparison.Ordinal)));
        Assert.Contains(expected, e.Message);
    }

    [Fact]
    public void Missing_blocks_are_an_error()
    {
        var e = Assert.Throws<ArchitectureException>(() => ArchitectureJson.Parse("""{"stem":{"channels":32},"head":{"channels":1280}}"""));
        Assert.Contains("blocks: missing", e.Message);
    }

    [Fact]
    public void Resolver_explains_what_it_accepts()
    {
        var e = Assert.Throws<ArchitectureException>(() => ArchitectureResolver.Resolve("resnet50"));
        Assert.Contains("mnasnet-a1", e.Message);
        var missing = Assert.Throws<ArchitectureException>(() => ArchitectureResolver.Resolve("/nonexistent/arch.json"));
        Assert.Contains("does not exist", missing.Message);
        Assert.Equal(ReferenceArchitectures.MnasNetB1, ArchitectureResolver.Resolve("MnasNet-B1"));
    }

    [Fact]
    public void Width_scaling_follows_the_depth_divisor_rule()
    {
        Assert.Equal(16, Channels.MakeDivisible(16 * 0.75));
        Assert.Equal(24, Channels.MakeDivisible(24 * 0.75));
        Assert.Equal(8, Channels.MakeDivisible(16 * 0.5));
        var half = ReferenceArchitectures.MnasNetB1.ScaleWidth(0.5);
        Assert.Equal(new[] { 8, 16, 24, 40, 48, 96, 160 }, half.Blocks.Select(b => b.Channels));
        Assert.Equal(1280, half.Head.Channels);
        Assert.Equal(16, half.Stem.Channels);
    }

    [Fact]
    public void Cost_model_scales_with_resolution_and_classes()
    {
        var arch = ReferenceArchitectures.MobileNetV2;
        var at224 = CostModel.Compute(arch);
        var at112 = CostModel.Compute(arch, new NetworkOptions(Resolution: 112));
        Assert.Equal(at224.Params, at112.Params);
        // Ceil-mode strides round odd sizes up, so halving the resolution leaves a little more than a quarter.
        Assert.InRange((double)(at112.Macs - 1_280_000) / (at224.Macs - 1_280_000), 0.25, 0.28);
        var ten = CostModel.Compute(arch, new NetworkOptions(Classes: 10));
        Assert.Equal(at224.Params - 990 * 1281, ten.Params);
        var grey = CostModel.Compute(arch, new NetworkOptions(InputChannels: 1));
        Assert.Equal(at224.Params - 2 * 32 * 9, grey.Params);
    }

    [Fact]
    public void Squeeze_excite_is_counted_on_the_expanded_channels()
    {
        var plain = ReferenceArchitectures.MnasNetA1 with { Blocks = ReferenceArchitectures.MnasNetA1.Blocks.Select(b => b with { SeRatio = 0 }).ToArray() };
        var diff = CostModel.Compute(ReferenceArchitectures.MnasNetA1).Params - CostModel.Compute(plain).Params;
        // Block 3 (24→40, e3): first layer mid 72, se 6; then 2 layers mid 120, se 10. Block 5 (80→112, e6) and 6 (112→160, e6) likewise.
        long Se(int mid, int r) => 2L * mid * r + r + mid;
        var expected = Se(72, 6) + 2 * Se(120, 10) + Se(480, 20) + Se(672, 28) + Se(672, 28) + 2 * Se(960, 40);
        Assert.Equal(expected, diff);
        Assert.NotEqual(plain.Id, ReferenceArchitectures.MnasNetA1.Id);
    }
}
