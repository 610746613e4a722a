using MnasNet.SearchSpace;
using MnasNet.Torch;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace MnasNet.Training.Models;

/// <summary>Any architecture as a TorchSharp module: stem, layers of all blocks in order, head, dropout, classifier.</summary>
public sealed class MnasNetModel : nn.Module<Tensor, Tensor>
{
    public readonly ConvBnAct stem;
    public readonly ModuleList<MnasNetLayer> layers;
    public readonly ConvBnAct head;
    public readonly Dropout dropout;
    public readonly Linear classifier;

    public Architecture Architecture { get; }
    public NetworkOptions Options { get; }
    public NetworkCost Cost { get; }

    private MnasNetModel(Architecture architecture, NetworkOptions options) : base(nameof(MnasNetModel))
    {
        Architecture = architecture;
        Options = options;
        Cost = CostModel.Compute(architecture, options);
        var scaled = architecture.ScaleWidth(options.Width);
        var stemCost = Cost.Layers[0];
        stem = new ConvBnAct(options.InputChannels, stemCost.OutputChannels, stemCost.Kernel, stemCost.Stride);
        var blockLayers = Cost.Layers.Where(l => l.Block >= 0).Select(l => new MnasNetLayer(scaled.Blocks[l.Block], l)).ToArray();
        layers = nn.ModuleList(blockLayers);
        var headCost = Cost.Layers[^2];
        head = new ConvBnAct(headCost.InputChannels, headCost.OutputChannels, 1, 1);
        dropout = nn.Dropout(options.Dropout);
        classifier = nn.Linear(headCost.OutputChannels, options.Classes);
        RegisterComponents();
        InitializeWeights();
    }

    /// <summary>Builds the module; seed torch first (<see cref="TorchRuntime.Seed"/>) for reproducible weights.</summary>
    public static MnasNetModel Build(Architecture architecture, NetworkOptions? options = null)
    {
        TorchRuntime.EnsureLoaded();
        return new MnasNetModel(architecture.Validate(), (options ?? NetworkOptions.ImageNet).Validate());
    }

    public long ParameterCount() => parameters().Sum(p => p.numel());

    public override Tensor forward(Tensor input)
    {
        using var scope = NewDisposeScope();
        var x = stem.call(input);
        foreach (var layer in layers)
        {
            x = layer.call(x);
        }
        x = head.call(x);
        x = nn.functional.adaptive_avg_pool2d(x, [1, 1]).flatten(1);
        return classifier.call(dropout.call(x)).MoveToOuterDisposeScope();
    }

    // TorchVision's MNASNet initialisation: Kaiming-normal (fan-out) convs, unit BatchNorm, small-normal classifier.
    private void InitializeWeights()
    {
        using var noGrad = torch.no_grad();
        foreach (var (_, module) in named_modules())
        {
            switch (module)
            {
                case Conv2d c:
                    nn.init.kaiming_normal_(c.weight, mode: nn.init.FanInOut.FanOut, nonlinearity: nn.init.NonlinearityType.ReLU);
                    if (c.bias is { } cb)
                    {
                        nn.init.zeros_(cb);
                    }
                    break;
                case BatchNorm2d bn:
                    nn.init.ones_(bn.weight!);
                    nn.init.zeros_(bn.bias!);
                    break;
                case Linear l:
                    nn.init.kaiming_uniform_(l.weight, mode: nn.init.FanInOut.FanOut, nonlinearity: nn.init.NonlinearityType.Sigmoid);
                    nn.init.zeros_(l.bias!);
                    break;
            }
        }
    }
}
