using MnasNet.SearchSpace;
using MnasNet.Torch;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace MnasNet.Training.Models;

/// <summary>
/// One layer of a block: its convolutions in order, an optional squeeze-excite after <see cref="SeAfter"/>, and the
/// skip path. The structure is explicit so that exporters (ONNX) can walk it.
/// </summary>
public sealed class MnasNetLayer : nn.Module<Tensor, Tensor>
{
    public readonly ModuleList<ConvBnAct> convs;
    public readonly SqueezeExcite? se;

    public LayerCost Cost { get; }

    /// <summary>Index of the convolution after which squeeze-excite applies (−1: none).</summary>
    public int SeAfter { get; }

    public SkipOp Skip => Cost.Skip;

    public bool HasResidual => Cost.HasResidual;

    public MnasNetLayer(BlockSpec block, LayerCost cost) : base(nameof(MnasNetLayer))
    {
        Cost = cost;
        var (inC, outC, k, s) = (cost.InputChannels, cost.OutputChannels, block.Kernel, cost.Stride);
        var list = new List<ConvBnAct>();
        int seChannels;
        switch (block.Op)
        {
            case ConvOp.Conv:
                list.Add(new ConvBnAct(inC, outC, k, s));
                seChannels = outC;
                SeAfter = 0;
                break;
            case ConvOp.SepConv:
                list.Add(new ConvBnAct(inC, inC, k, s, groups: inC));
                list.Add(new ConvBnAct(inC, outC, 1, 1));
                seChannels = inC;
                SeAfter = 0;
                break;
            default:
                var mid = inC * block.Expansion;
                if (block.Expansion != 1)
                {
                    list.Add(new ConvBnAct(inC, mid, 1, 1));
                }
                list.Add(new ConvBnAct(mid, mid, k, s, groups: mid));
                SeAfter = list.Count - 1;
                list.Add(new ConvBnAct(mid, outC, 1, 1, activation: false));
                seChannels = mid;
                break;
        }
        convs = nn.ModuleList(list.ToArray());
        if (cost.SeChannels > 0)
        {
            se = new SqueezeExcite(seChannels, cost.SeChannels);
        }
        else
        {
            SeAfter = -1;
        }
        RegisterComponents();
    }

    public override Tensor forward(Tensor input)
    {
        using var scope = NewDisposeScope();
        var y = input;
        for (var i = 0; i < convs.Count; i++)
        {
            y = convs[i].call(y);
            if (i == SeAfter && se is not null)
            {
                y = se.call(y);
            }
        }
        if (HasResidual)
        {
            y = y.add(Shortcut(input), KeptScalars.One);
        }
        return y.MoveToOuterDisposeScope();
    }

    /// <summary>The pooling skip: average-pool to the output size, then pad or truncate channels.</summary>
    private Tensor Shortcut(Tensor input)
    {
        if (Skip == SkipOp.Identity)
        {
            return input;
        }
        var x = Cost.Stride > 1
            ? nn.functional.avg_pool2d(input, Cost.Stride, Cost.Stride, ceil_mode: true, count_include_pad: false)
            : input;
        var (inC, outC) = (Cost.InputChannels, Cost.OutputChannels);
        if (outC > inC)
        {
            x = nn.functional.pad(x, [0, 0, 0, 0, 0, outC - inC]);
        }
        else if (outC < inC)
        {
            x = x[.., ..outC];
        }
        return x;
    }
}
