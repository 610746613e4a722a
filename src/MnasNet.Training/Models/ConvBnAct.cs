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
        var y = BatchNorm(bn, conv.call(input), training);
        return (Activation ? nn.functional.relu(y) : y).MoveToOuterDisposeScope();
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
