namespace MnasNet.SearchSpace;

public enum LayerKind
{
    Stem,
    Conv,
    SepConv,
    MBConv,
    Head,
    Classifier,
}

/// <summary>
/// One layer of a concrete network with its shapes and costs. The shape fields are also the key of the
/// latency lookup table: two layers with equal keys cost the same on a device.
/// </summary>
public sealed record LayerCost(
    LayerKind Kind,
    int Block,
    int Layer,
    int InputSize,
    int InputChannels,
    int OutputSize,
    int OutputChannels,
    int Kernel,
    int Stride,
    int Expansion,
    int SeChannels,
    SkipOp Skip,
    bool HasResidual,
    long Macs,
    long Params)
{
    /// <summary>A stable text key of the layer's shape (everything that affects its latency).</summary>
    public string Key =>
        $"{Kind.ToString().ToLowerInvariant()}:i{InputSize}x{InputChannels}:o{OutputChannels}:k{Kernel}:s{Stride}" +
        $":e{Expansion}:se{SeChannels}:skip-{(HasResidual ? Skip.ToToken() : "none")}";
}

public sealed record NetworkCost(IReadOnlyList<LayerCost> Layers, NetworkOptions Options)
{
    public long Macs => Layers.Sum(l => l.Macs);

    public long Params => Layers.Sum(l => l.Params);

    /// <summary>Largest activation (elements) between two layers, batch 1.</summary>
    public long PeakActivationElements =>
        Layers.Max(l => Math.Max((long)l.InputSize * l.InputSize * l.InputChannels, (long)l.OutputSize * l.OutputSize * l.OutputChannels * Math.Max(1, l.Expansion)));
}

/// <summary>Operators and activation elements (read + written) of one layer.</summary>
public sealed record LayerTraffic(int Ops, long ActivationElements);

/// <summary>
/// Analytic multiply-adds and parameters. MACs count convolutions, the classifier and the squeeze-excite 1×1 convs
/// (pooling, BatchNorm, activations and residual adds are not multiply-adds). Parameters count conv weights, biases
/// (only squeeze-excite convs and the classifier have them) and BatchNorm's affine weight and bias.
/// </summary>
public static class CostModel
{
    public static NetworkCost Compute(Architecture architecture, NetworkOptions? options = null)
    {
        options = (options ?? NetworkOptions.ImageNet).Validate();
        var arch = architecture.Validate().ScaleWidth(options.Width);
        var layers = new List<LayerCost>();

        var size = options.Resolution;
        var stemOut = OutputSize(size, arch.Stem.Stride);
        layers.Add(new LayerCost(
            LayerKind.Stem, -1, 0, size, options.InputChannels, stemOut, arch.Stem.Channels, arch.Stem.Kernel,
            arch.Stem.Stride, 1, 0, SkipOp.None, false,
            Macs: (long)stemOut * stemOut * arch.Stem.Channels * options.InputChannels * arch.Stem.Kernel * arch.Stem.Kernel,
            Params: (long)arch.Stem.Channels * options.InputChannels * arch.Stem.Kernel * arch.Stem.Kernel + 2L * arch.Stem.Channels));
        size = stemOut;
        var channels = arch.Stem.Channels;

        for (var b = 0; b < arch.Blocks.Count; b++)
        {
            var block = arch.Blocks[b];
            for (var l = 0; l < block.Layers; l++)
            {
                var stride = l == 0 ? block.Stride : 1;
                var layer = LayerOf(block, b, l, size, channels, stride);
                layers.Add(layer);
                size = layer.OutputSize;
                channels = block.Channels;
            }
        }

        layers.Add(new LayerCost(
            LayerKind.Head, -1, 0, size, channels, size, arch.Head.Channels, 1, 1, 1, 0, SkipOp.None, false,
            Macs: (long)size * size * channels * arch.Head.Channels,
            Params: (long)channels * arch.Head.Channels + 2L * arch.Head.Channels));
        layers.Add(new LayerCost(
            LayerKind.Classifier, -1, 0, 1, arch.Head.Channels, 1, options.Classes, 1, 1, 1, 0, SkipOp.None, false,
            Macs: (long)arch.Head.Channels * options.Classes,
            Params: (long)arch.Head.Channels * options.Classes + options.Classes));
        return new NetworkCost(layers, options);
    }

    /// <summary>
    /// Operators a layer runs and the activation elements it reads and writes, expanded intermediates included
    /// (float32 weights are <see cref="LayerCost.Params"/>): the memory side of a layer's cost.
    /// </summary>
    public static LayerTraffic Traffic(LayerCost layer)
    {
        ArgumentNullException.ThrowIfNull(layer);
        var l = layer;
        long inAct = (long)l.InputSize * l.InputSize * l.InputChannels;
        long outAct = (long)l.OutputSize * l.OutputSize * l.OutputChannels;
        long inPixels = (long)l.InputSize * l.InputSize, outPixels = (long)l.OutputSize * l.OutputSize;
        var se = l.SeChannels > 0 ? 4 : 0;
        var skip = l.HasResidual ? 1 + (l.Skip == SkipOp.Pool ? 2 : 0) : 0;
        var residual = l.HasResidual ? 2 * outAct : 0;
        switch (l.Kind)
        {
            case LayerKind.SepConv:
                var midSep = outPixels * l.InputChannels;
                return new(2 + se + skip, inAct + 2 * midSep + outAct + residual);
            case LayerKind.MBConv:
                var mid = (long)l.InputChannels * l.Expansion;
                var expand = l.Expansion > 1 ? inAct + inPixels * mid : 0;
                return new((l.Expansion > 1 ? 3 : 2) + se + skip, expand + inPixels * mid + 2 * outPixels * mid + outAct + residual);
            case LayerKind.Classifier:
                return new(2, inAct + outAct);
            default:
                return new(1 + se + skip, inAct + outAct + residual);
        }
    }

    /// <summary>Spatial output size of a convolution with "same" padding (k/2): ceil(size / stride).</summary>
    public static int OutputSize(int size, int stride) => (size + stride - 1) / stride;

    /// <summary>Squeeze-excite bottleneck width: the layer's input channels times the ratio (TF MnasNet's rule).</summary>
    public static int SeChannels(int layerInputChannels, double ratio) =>
        ratio <= 0 ? 0 : Math.Max(1, (int)(layerInputChannels * ratio));

    /// <summary>Whether a layer adds its input: identity only on shape-preserving layers, pool on every layer.</summary>
    public static bool HasResidual(SkipOp skip, int stride, int inChannels, int outChannels) => skip switch
    {
        SkipOp.Identity => stride == 1 && inChannels == outChannels,
        SkipOp.Pool => true,
        _ => false,
    };

    private static LayerCost LayerOf(BlockSpec block, int blockIndex, int layerIndex, int inSize, int inC, int stride)
    {
        var k2 = (long)block.Kernel * block.Kernel;
        var outSize = OutputSize(inSize, stride);
        long outPixels = (long)outSize * outSize;
        long inPixels = (long)inSize * inSize;
        var outC = block.Channels;
        long macs, parameters;
        int seOn;
        LayerKind kind;
        switch (block.Op)
        {
            case ConvOp.Conv:
                kind = LayerKind.Conv;
                macs = outPixels * outC * inC * k2;
                parameters = inC * outC * k2 + 2L * outC;
                seOn = outC;
                break;
            case ConvOp.SepConv:
                kind = LayerKind.SepConv;
                macs = outPixels * inC * k2 + outPixels * inC * outC;
                parameters = inC * k2 + 2L * inC + (long)inC * outC + 2L * outC;
                seOn = inC;
                break;
            default:
                kind = LayerKind.MBConv;
                var mid = inC * block.Expansion;
                macs = 0;
                parameters = 0;
                if (block.Expansion != 1)
                {
                    macs += inPixels * inC * mid;
                    parameters += (long)inC * mid + 2L * mid;
                }
                macs += outPixels * mid * k2 + outPixels * mid * outC;
                parameters += mid * k2 + 2L * mid + (long)mid * outC + 2L * outC;
                seOn = mid;
                break;
        }
        var se = SeChannels(inC, block.SeRatio);
        if (se > 0)
        {
            macs += 2L * seOn * se;
            parameters += 2L * seOn * se + se + seOn;
        }
        return new LayerCost(
            kind, blockIndex, layerIndex, inSize, inC, outSize, outC, block.Kernel, stride, block.Expansion, se,
            block.Skip, HasResidual(block.Skip, stride, inC, outC), macs, parameters);
    }
}
