namespace MnasNet.SearchSpace;

/// <summary>
/// Published models as explicit architectures. Their first block (TorchVision's and the paper's "SepConv") is a
/// depthwise conv followed by a linear 1×1 projection, which is exactly <see cref="ConvOp.MBConv"/> with expansion 1.
/// </summary>
public static class ReferenceArchitectures
{
    private static readonly StemSpec Stem = new(32, 3, 2);
    private static readonly HeadSpec Head = new(1280);

    /// <summary>The paper's searched model (Fig. 7(a)); blocks with squeeze-excite use ratio 0.25.</summary>
    public static Architecture MnasNetA1 { get; } = new(Stem,
    [
        new(ConvOp.MBConv, 1, 3, 0, SkipOp.None, 16, 1, 1),
        new(ConvOp.MBConv, 6, 3, 0, SkipOp.Identity, 24, 2, 2),
        new(ConvOp.MBConv, 3, 5, 0.25, SkipOp.Identity, 40, 3, 2),
        new(ConvOp.MBConv, 6, 3, 0, SkipOp.Identity, 80, 4, 2),
        new(ConvOp.MBConv, 6, 3, 0.25, SkipOp.Identity, 112, 2, 1),
        new(ConvOp.MBConv, 6, 5, 0.25, SkipOp.Identity, 160, 3, 2),
        new(ConvOp.MBConv, 6, 3, 0, SkipOp.Identity, 320, 1, 1),
    ], Head);

    /// <summary>MnasNet-B1, the no-SE model that TorchVision ships as <c>mnasnet1_0</c>.</summary>
    public static Architecture MnasNetB1 { get; } = new(Stem,
    [
        new(ConvOp.MBConv, 1, 3, 0, SkipOp.None, 16, 1, 1),
        new(ConvOp.MBConv, 3, 3, 0, SkipOp.Identity, 24, 3, 2),
        new(ConvOp.MBConv, 3, 5, 0, SkipOp.Identity, 40, 3, 2),
        new(ConvOp.MBConv, 6, 5, 0, SkipOp.Identity, 80, 3, 2),
        new(ConvOp.MBConv, 6, 3, 0, SkipOp.Identity, 96, 2, 1),
        new(ConvOp.MBConv, 6, 5, 0, SkipOp.Identity, 192, 4, 2),
        new(ConvOp.MBConv, 6, 3, 0, SkipOp.Identity, 320, 1, 1),
    ], Head);

    /// <summary>MobileNetV2 (TorchVision <c>mobilenet_v2</c>) with ReLU for ReLU6; it lies inside the search space.</summary>
    public static Architecture MobileNetV2 { get; } = new(Stem,
    [
        new(ConvOp.MBConv, 1, 3, 0, SkipOp.Identity, 16, 1, 1),
        new(ConvOp.MBConv, 6, 3, 0, SkipOp.Identity, 24, 2, 2),
        new(ConvOp.MBConv, 6, 3, 0, SkipOp.Identity, 32, 3, 2),
        new(ConvOp.MBConv, 6, 3, 0, SkipOp.Identity, 64, 4, 2),
        new(ConvOp.MBConv, 6, 3, 0, SkipOp.Identity, 96, 3, 1),
        new(ConvOp.MBConv, 6, 3, 0, SkipOp.Identity, 160, 3, 2),
        new(ConvOp.MBConv, 6, 3, 0, SkipOp.Identity, 320, 1, 1),
    ], Head);

    public static IReadOnlyDictionary<string, Architecture> ByName { get; } = new Dictionary<string, Architecture>(StringComparer.OrdinalIgnoreCase)
    {
        ["mnasnet-a1"] = MnasNetA1,
        ["mnasnet-b1"] = MnasNetB1,
        ["mobilenet-v2"] = MobileNetV2,
    };
}

/// <summary>Turns what a user typed (a reference name, a token string or a JSON file) into an architecture.</summary>
public static class ArchitectureResolver
{
    public static Architecture Resolve(string spec, MnasNetSearchSpace? space = null)
    {
        space ??= MnasNetSearchSpace.Default;
        if (string.IsNullOrWhiteSpace(spec))
        {
            throw new ArchitectureException("architecture: empty; give a reference name, a token string or a .json file");
        }
        if (ReferenceArchitectures.ByName.TryGetValue(spec.Trim(), out var reference))
        {
            return reference;
        }
        if (MnasNetSearchSpace.LooksLikeTokens(spec))
        {
            return space.Decode(space.ParseTokens(spec));
        }
        if (File.Exists(spec) || spec.EndsWith(".json", StringComparison.OrdinalIgnoreCase))
        {
            if (!File.Exists(spec))
            {
                throw new ArchitectureException($"architecture file '{spec}' does not exist");
            }
            return ArchitectureJson.Load(spec);
        }
        throw new ArchitectureException(
            $"unknown architecture '{spec}': not a reference name ({string.Join(", ", ReferenceArchitectures.ByName.Keys)}), " +
            $"a token string ({space.Skeleton.Count} groups of {MnasNetSearchSpace.DecisionsPerBlock} digits) or an existing .json file");
    }

    /// <summary>The name of a reference architecture, if it is one.</summary>
    public static string? NameOf(Architecture arch) =>
        ReferenceArchitectures.ByName.FirstOrDefault(kv => kv.Value.Equals(arch)).Key;
}
