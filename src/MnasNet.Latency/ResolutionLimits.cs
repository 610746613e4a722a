using MnasNet.SearchSpace;

namespace MnasNet.Latency;

/// <summary>
/// When an architecture is too large for an input resolution. Two rules: (1) every strided layer (stem or the first
/// layer of a strided block) must see an input at least as wide as its stride — otherwise the network downsamples
/// more often than the image has pixels, and the extra stages only convolve padding; (2) no activation tensor
/// (including an inverted bottleneck's expanded one) may exceed <see cref="MaxActivationBytes"/> as float32 at
/// batch 1 — beyond that a device runs out of memory instead of giving a latency.
/// </summary>
public sealed record ResolutionLimits(long MaxActivationBytes = 512L * 1024 * 1024)
{
    public static ResolutionLimits Default { get; } = new();

    /// <summary>Largest activation of the network in bytes (float32, batch 1).</summary>
    public static long PeakActivationBytes(NetworkCost cost) => cost.Layers.Max(LayerPeakElements) * sizeof(float);

    /// <summary>
    /// Throws <see cref="ArchitectureTooLargeException"/> naming the first layer that breaks a rule
    /// (<see cref="ArchitectureException"/> for an invalid architecture or options).
    /// </summary>
    public NetworkCost Check(Architecture architecture, NetworkOptions options)
    {
        var cost = CostModel.Compute(architecture, options);
        foreach (var layer in cost.Layers)
        {
            if (layer.Stride > 1 && layer.InputSize < layer.Stride)
            {
                var where = layer.Kind == LayerKind.Stem ? "the stem" : $"block {layer.Block + 1} layer {layer.Layer + 1}";
                throw new ArchitectureTooLargeException(
                    $"architecture too large for resolution {options.Resolution}: {where} has stride {layer.Stride} but its input is " +
                    $"only {layer.InputSize}×{layer.InputSize} (the network downsamples {TotalStrideLog2(cost)} times; use a resolution of at least {MinimumResolution(cost)})");
            }
        }
        var peak = PeakActivationBytes(cost);
        if (peak > MaxActivationBytes)
        {
            throw new ArchitectureTooLargeException(
                $"architecture too large for resolution {options.Resolution}: its largest activation is {peak / (1024.0 * 1024):F0} MiB " +
                $"(float32, batch 1), above the limit of {MaxActivationBytes / (1024.0 * 1024):F0} MiB");
        }
        return cost;
    }

    // Input, output and the widest intermediate: an MBConv's expanded tensor before and after its depthwise conv,
    // a sepconv's depthwise output.
    private static long LayerPeakElements(LayerCost l)
    {
        long inPixels = (long)l.InputSize * l.InputSize, outPixels = (long)l.OutputSize * l.OutputSize;
        return l.Kind == LayerKind.MBConv
            ? Math.Max(inPixels * l.InputChannels * Math.Max(1, l.Expansion), outPixels * Math.Max((long)l.InputChannels * l.Expansion, l.OutputChannels))
            : Math.Max(inPixels * l.InputChannels, outPixels * Math.Max(l.InputChannels, l.OutputChannels));
    }

    private static int TotalStrideLog2(NetworkCost cost) => cost.Layers.Count(l => l.Stride > 1);

    // The k-th stride-2 layer sees ceil(R / 2^(k-1)) pixels, which is at least 2 from R = 2^(k-1) + 1 on.
    private static int MinimumResolution(NetworkCost cost) => TotalStrideLog2(cost) is var n and > 0 ? (1 << (n - 1)) + 1 : 1;
}
