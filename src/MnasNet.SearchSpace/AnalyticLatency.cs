namespace MnasNet.SearchSpace;

/// <summary>
/// The analytic latency model of the simulated objectives (MnasNet.Controller) and of the simulated device of simulated searches: per layer of <see cref="CostModel"/> at 224×224, MACs /
/// <paramref name="MacsPerMs"/> plus fixed overheads (a mobile CPU at ~4 GMAC/s puts MobileNetV2's 301 M MACs near
/// 78 ms, the paper's Pixel-1 range).
/// </summary>
public sealed record AnalyticLatency(
    double MacsPerMs = 4.0e6,
    double LayerOverheadMs = 0.12,
    double SeOverheadMs = 0.25,
    double ResidualOverheadMs = 0.05)
{
    public static AnalyticLatency Default { get; } = new();

    public double Layer(LayerCost layer) =>
        layer.Macs / MacsPerMs
        + LayerOverheadMs
        + (layer.SeChannels > 0 ? SeOverheadMs : 0)
        + (layer.HasResidual ? ResidualOverheadMs : 0);
}
