using MnasNet.SearchSpace;
using MnasNet.Torch;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace MnasNet.Training.Models;

/// <summary>
/// Any architecture as a TorchSharp module: stem, layers of all blocks in order, head, dropout, classifier.
/// Weight initialization and dropout masks draw from the generator given to <see cref="Build"/> (libtorch's global
/// generator when none is given), so concurrent trainers with their own generators do not disturb each other.
/// </summary>
public sealed class MnasNetModel : nn.Module<Tensor, Tensor>
{
    public readonly ConvBnAct stem;
    public readonly ModuleList<MnasNetLayer> layers;
    public readonly ConvBnAct head;
    public readonly Linear classifier;
    private readonly Generator? _generator;

    public Architecture Architecture { get; }
    public NetworkOptions Options { get; }
    public NetworkCost Cost { get; }

    private MnasNetModel(Architecture architecture, NetworkOptions options, Generator? generator) : base(nameof(MnasNetModel))
    {
        Architecture = architecture;
        Options = options;
        _generator = generator;
        Cost = CostModel.Compute(architecture, options);
        var scaled = architecture.ScaleWidth(options.Width);
        var stemCost = Cost.Layers[0];
        stem = new ConvBnAct(options.InputChannels, stemCost.OutputChannels, stemCost.Kernel, stemCost.Stride);
        var blockLayers = Cost.Layers.Where(l => l.Block >= 0).Select(l => new MnasNetLayer(scaled.Blocks[l.Block], l)).ToArray();
        layers = nn.ModuleList(blockLayers);
        var headCost = Cost.Layers[^2];
        head = new ConvBnAct(headCost.InputChannels, headCost.OutputChannels, 1, 1);
        classifier = nn.Linear(headCost.OutputChannels, options.Classes);
        RegisterComponents();
        InitializeWeights();
    }

    /// <summary>
    /// Builds the module. With <paramref name="generator"/> its weights and dropout masks come from that generator
    /// alone, which the caller keeps alive while it uses the model; without one, seed torch first
    /// (<see cref="TorchRuntime.Seed"/>) for reproducible weights.
    /// </summary>
    public static MnasNetModel Build(Architecture architecture, NetworkOptions? options = null, Generator? generator = null)
    {
        TorchRuntime.EnsureLoaded();
        return new MnasNetModel(architecture.Validate(), (options ?? NetworkOptions.ImageNet).Validate(), generator);
    }

    public long ParameterCount() => parameters().Sum(p => p.numel());

    /// <summary>
    /// Run channels-last: the input is laid out NHWC and every convolution uses an NHWC copy of its weight, so the
    /// activations stay NHWC throughout (2–3× faster training on CPU than NCHW; see src/MnasNet.Training/README.md,
    /// "Speed"). Outputs equal the NCHW ones up to the last bits. Off by default.
    /// </summary>
    public bool ChannelsLast
    {
        get => _channelsLast;
        set
        {
            _channelsLast = value;
            foreach (var c in modules().OfType<ConvBnAct>())
            {
                c.ChannelsLast = value;
            }
        }
    }

    private bool _channelsLast;

    /// <summary><paramref name="x"/> (N, C, H, W) with NHWC strides: same shape and values, channels innermost in memory.</summary>
    public static Tensor ToChannelsLast(Tensor x)
    {
        ArgumentNullException.ThrowIfNull(x);
        return x.permute(0, 2, 3, 1).contiguous().permute(0, 3, 1, 2);
    }

    public override Tensor forward(Tensor input)
    {
        using var scope = NewDisposeScope();
        var x = stem.call(ChannelsLast ? ToChannelsLast(input) : input);
        foreach (var layer in layers)
        {
            x = layer.call(x);
        }
        x = head.call(x);
        x = nn.functional.adaptive_avg_pool2d(x, [1, 1]).flatten(1);
        return classifier.call(Dropout(x)).MoveToOuterDisposeScope();
    }

    // libtorch's CPU dropout (empty_like, bernoulli_(1 − p), div_(1 − p), multiply) with the model's generator.
    private Tensor Dropout(Tensor x)
    {
        if (!training || Options.Dropout == 0)
        {
            return x;
        }
        var keep = 1 - Options.Dropout;
        using var keepScalar = keep.ToScalar();
        return x * torch.empty_like(x).bernoulli_(keep, _generator).div_(keepScalar);
    }

    // TorchVision's MNASNet initialisation: Kaiming-normal (fan-out) convs, unit BatchNorm, small-normal classifier.
    // libtorch's kaiming_normal_/kaiming_uniform_ take no generator: the same formulas, drawn from _generator.
    private void InitializeWeights()
    {
        using var noGrad = torch.no_grad();
        foreach (var (_, module) in named_modules())
        {
            switch (module)
            {
                case Conv2d c:
                    c.weight.normal_(0, KaimingStd(c.weight, Math.Sqrt(2.0)), _generator);
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
                    var bound = Math.Sqrt(3.0) * KaimingStd(l.weight, 1.0);
                    l.weight.uniform_(-bound, bound, _generator);
                    nn.init.zeros_(l.bias!);
                    break;
            }
        }
    }

    /// <summary>gain / √fan_out, fan_out = output channels × receptive field, as torch::nn::init computes it.</summary>
    private static double KaimingStd(Tensor weight, double gain)
    {
        var fanOut = weight.shape[0];
        for (var d = 2; d < weight.dim(); d++)
        {
            fanOut *= weight.shape[d];
        }
        return gain / Math.Sqrt(fanOut);
    }
}
