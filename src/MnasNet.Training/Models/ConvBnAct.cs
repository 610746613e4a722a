using MnasNet.Torch;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace MnasNet.Training.Models;

/// <summary>Convolution (no bias, "same" padding), BatchNorm, and ReLU unless the layer is linear.</summary>
public sealed class ConvBnAct : nn.Module<Tensor, Tensor>
{
    public readonly Conv2d conv;
    public readonly BatchNorm2d bn;

    public int InChannels { get; }
    public int OutChannels { get; }
    public int Kernel { get; }
    public int Stride { get; }
    public int Groups { get; }
    public bool Activation { get; }

    public ConvBnAct(int inChannels, int outChannels, int kernel, int stride, int groups = 1, bool activation = true)
        : base(nameof(ConvBnAct))
    {
        (InChannels, OutChannels, Kernel, Stride, Groups, Activation) = (inChannels, outChannels, kernel, stride, groups, activation);
        conv = nn.Conv2d(inChannels, outChannels, kernel, stride: stride, padding: kernel / 2, groups: groups, bias: false);
        bn = nn.BatchNorm2d(outChannels, momentum: 0.01, eps: 1e-3);
        RegisterComponents();
    }

    public override Tensor forward(Tensor input)
    {
        using var scope = NewDisposeScope();
        var y = BatchNorm(bn, Convolve(input), training);
        return (Activation ? nn.functional.relu(y) : y).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// Convolve with a channels-last (NHWC-strided) copy of the weight. With channels-last inputs oneDNN then runs the
    /// convolution and its backward in NHWC without reordering activations or weights around every call (which costs
    /// more than the convolution, most of all at 1×1 spatial size where the input's layout is ambiguous). The
    /// parameter itself stays NCHW-contiguous — saved, exported and optimized as ever; the copy is part of the graph,
    /// so its gradient flows back to it. Set by <see cref="MnasNetModel.ChannelsLast"/>.
    /// </summary>
    public bool ChannelsLast { get; set; }

    private Tensor Convolve(Tensor input)
    {
        // A stride-1 kernel wider than its input reaches padding zeros only with its outer taps: cropping them off
        // gives the same output and gradients (theirs are zero). libtorch 2.10 takes ~70 ms for a 5×5 depthwise
        // convolution of a 1×1 input at batch 128 (the last stages of a 32² network), against ~1 ms for the 1×1 crop.
        var radius = Kernel / 2;
        var (reachH, reachW) = Stride == 1
            ? (Math.Min(radius, (int)input.shape[2] - 1), Math.Min(radius, (int)input.shape[3] - 1))
            : (radius, radius);
        if (!ChannelsLast && reachH == radius && reachW == radius)
        {
            return conv.call(input);
        }
        Tensor weight = conv.weight;
        if (reachH < radius || reachW < radius)
        {
            weight = weight.narrow(2, radius - reachH, 2 * reachH + 1).narrow(3, radius - reachW, 2 * reachW + 1);
        }
        if (ChannelsLast)
        {
            weight = MnasNetModel.ToChannelsLast(weight);
        }
        return nn.functional.conv2d(input, weight, conv.bias, strides: [Stride], padding: [reachH, reachW], groups: Groups);
    }

    /// <summary>
    /// What <see cref="BatchNorm2d"/>'s forward computes (torch's: momentum null is the cumulative average over the
    /// batches tracked), without its <c>num_batches_tracked.add_(1)</c>, whose implicitly converted Scalars the
    /// collector can free mid-call (see <see cref="KeptScalars"/>).
    /// </summary>
    public static Tensor BatchNorm(BatchNorm2d bn, Tensor input, bool training)
    {
        ArgumentNullException.ThrowIfNull(bn);
        var factor = bn.momentum ?? 0.0;
        if (training && bn.num_batches_tracked is { } tracked)
        {
            tracked.add_(KeptScalars.One, KeptScalars.One);
            factor = bn.momentum ?? 1.0 / tracked.item<long>();
        }
        return nn.functional.batch_norm(input, bn.running_mean, bn.running_var, bn.weight, bn.bias, training, factor, bn.eps);
    }
}

/// <summary>Squeeze-and-excitation: global pool, 1×1 reduce (bias), ReLU, 1×1 expand (bias), sigmoid, scale.</summary>
public sealed class SqueezeExcite : nn.Module<Tensor, Tensor>
{
    public readonly Conv2d reduce;
    public readonly Conv2d expand;

    public int Channels { get; }
    public int Reduced { get; }

    public SqueezeExcite(int channels, int reduced) : base(nameof(SqueezeExcite))
    {
        (Channels, Reduced) = (channels, reduced);
        reduce = nn.Conv2d(channels, reduced, 1, bias: true);
        expand = nn.Conv2d(reduced, channels, 1, bias: true);
        RegisterComponents();
    }

    public override Tensor forward(Tensor input)
    {
        using var scope = NewDisposeScope();
        var s = nn.functional.adaptive_avg_pool2d(input, [1, 1]);
        s = torch.sigmoid(expand.call(nn.functional.relu(reduce.call(s))));
        return (input * s).MoveToOuterDisposeScope();
    }
}
