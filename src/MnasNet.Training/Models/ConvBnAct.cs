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
        var y = bn.call(conv.call(input));
        return (Activation ? nn.functional.relu(y) : y).MoveToOuterDisposeScope();
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
