namespace MnasNet.SearchSpace;

/// <summary>The convolution a block's layers use (paper §4.1, ConvOp).</summary>
public enum ConvOp
{
    /// <summary>Regular k×k convolution, BatchNorm, ReLU.</summary>
    Conv,

    /// <summary>MobileNet-V1 depthwise-separable convolution: depthwise k×k, BN, ReLU, pointwise 1×1, BN, ReLU.</summary>
    SepConv,

    /// <summary>
    /// Mobile inverted bottleneck (MobileNet-V2): [1×1 expand, BN, ReLU] (absent for expansion 1), depthwise k×k, BN,
    /// ReLU, [squeeze-excite], 1×1 linear projection, BN.
    /// </summary>
    MBConv,
}

/// <summary>The skip path of each layer of a block (paper §4.1, SkipOp).</summary>
public enum SkipOp
{
    /// <summary>No skip path.</summary>
    None,

    /// <summary>Identity residual, added only where the layer keeps its shape (stride 1, same channels).</summary>
    Identity,

    /// <summary>
    /// Parameter-free residual on every layer: the input is average-pooled (kernel = stride, ceil mode) to the output's
    /// spatial size, then zero-padded (more channels) or truncated (fewer channels) to the output's channel count.
    /// </summary>
    Pool,
}

public static class OperationNames
{
    public static string ToToken(this ConvOp op) => op switch
    {
        ConvOp.Conv => "conv",
        ConvOp.SepConv => "sepconv",
        ConvOp.MBConv => "mbconv",
        _ => throw new ArgumentOutOfRangeException(nameof(op), op, "unknown conv op"),
    };

    public static string ToToken(this SkipOp skip) => skip switch
    {
        SkipOp.None => "none",
        SkipOp.Identity => "identity",
        SkipOp.Pool => "pool",
        _ => throw new ArgumentOutOfRangeException(nameof(skip), skip, "unknown skip op"),
    };

    public static ConvOp ParseConvOp(string text, string where) => text switch
    {
        "conv" => ConvOp.Conv,
        "sepconv" => ConvOp.SepConv,
        "mbconv" => ConvOp.MBConv,
        _ => throw new ArchitectureException($"{where}: unknown op '{text}' (expected conv, sepconv or mbconv)"),
    };

    public static SkipOp ParseSkipOp(string text, string where) => text switch
    {
        "none" => SkipOp.None,
        "identity" => SkipOp.Identity,
        "pool" => SkipOp.Pool,
        _ => throw new ArchitectureException($"{where}: unknown skip '{text}' (expected none, identity or pool)"),
    };
}
