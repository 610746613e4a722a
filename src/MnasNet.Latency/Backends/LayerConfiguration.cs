using MnasNet.SearchSpace;
using MnasNet.Training.Models;
using TorchSharp;
using static TorchSharp.torch;

namespace MnasNet.Latency.Backends;

/// <summary>
/// One distinct layer of a network, enough to build it alone: its cost record (whose <see cref="LayerCost.Key"/> is
/// the lookup-table key) and, for block layers, the block it belongs to. The head includes the global average pool.
/// </summary>
public sealed record LayerConfiguration(LayerCost Cost, BlockSpec? Block)
{
    public string Key => Cost.Key;

    /// <summary>Every layer of a network (stem, block layers, head, classifier), in order.</summary>
    public static IReadOnlyList<LayerConfiguration> Of(Architecture architecture, NetworkOptions options)
    {
        var cost = CostModel.Compute(architecture, options);
        var scaled = architecture.ScaleWidth(options.Width);
        return cost.Layers.Select(l => new LayerConfiguration(l, l.Block >= 0 ? scaled.Blocks[l.Block] : null)).ToArray();
    }

    /// <summary>The input tensor's shape at batch 1.</summary>
    public long[] InputShape => Cost.Kind == LayerKind.Classifier
        ? [1, Cost.InputChannels, 1, 1]
        : [1, Cost.InputChannels, Cost.InputSize, Cost.InputSize];

    /// <summary>The layer as a TorchSharp module with default-initialised weights (latency does not depend on them).</summary>
    public nn.Module<Tensor, Tensor> BuildModule()
    {
        var c = Cost;
        return c.Kind switch
        {
            LayerKind.Stem => new ConvBnAct(c.InputChannels, c.OutputChannels, c.Kernel, c.Stride),
            LayerKind.Head => new PooledConv(new ConvBnAct(c.InputChannels, c.OutputChannels, 1, 1)),
            LayerKind.Classifier => new FlattenLinear(nn.Linear(c.InputChannels, c.OutputChannels)),
            _ => new MnasNetLayer(Block ?? throw new InvalidOperationException($"layer {c.Key} has no block"), c),
        };
    }

    /// <summary>The head as measured in the table: its 1×1 conv and the global average pool that follows it.</summary>
    public sealed class PooledConv : nn.Module<Tensor, Tensor>
    {
        public readonly ConvBnAct conv;

        public PooledConv(ConvBnAct conv) : base(nameof(PooledConv))
        {
            this.conv = conv;
            RegisterComponents();
        }

        public override Tensor forward(Tensor input) => nn.functional.adaptive_avg_pool2d(conv.call(input), [1, 1]);
    }

    /// <summary>The classifier as measured in the table: flatten the pooled features, then the linear layer.</summary>
    public sealed class FlattenLinear : nn.Module<Tensor, Tensor>
    {
        public readonly TorchSharp.Modules.Linear linear;

        public FlattenLinear(TorchSharp.Modules.Linear linear) : base(nameof(FlattenLinear))
        {
            this.linear = linear;
            RegisterComponents();
        }

        public override Tensor forward(Tensor input) => linear.call(input.flatten(1));
    }
}

/// <summary>A backend that can also time single layers, so that a lookup table can be built on it.</summary>
public interface ILayerLatencyBackend : ILatencyBackend
{
    /// <summary>Times one layer alone at batch 1 (the head includes its global pool).</summary>
    Task<Measurement.LatencyMeasurement> MeasureLayerAsync(LayerConfiguration layer, Measurement.MeasurementProtocol protocol, CancellationToken cancellationToken = default);

    /// <summary>
    /// The fixed cost of one inference call with (almost) no work: a table sums one call per layer where a network
    /// pays it once, so the predictor subtracts it per layer and adds it back once.
    /// </summary>
    Task<double> MeasureCallOverheadMsAsync(Measurement.MeasurementProtocol protocol, CancellationToken cancellationToken = default);
}
