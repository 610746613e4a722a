using MnasNet.Latency.Backends;
using MnasNet.Latency.Measurement;
using MnasNet.SearchSpace;

namespace MnasNet.Latency.Table;

/// <summary>Progress of a table build: layers measured so far out of the total.</summary>
public sealed record TableBuildProgress(int Done, int Total, string Key, double MedianMs);

public static class LatencyTableBuilder
{
    /// <summary>
    /// Every distinct layer configuration the search space can produce at <paramref name="options"/>: for each
    /// block, each choice of op, kernel, SE, skip and filters, after each filter choice of the previous block (which
    /// fixes the input channels), as the block's first layer and as a later one; plus stem, each head input, and
    /// the classifier. Duplicates (equal keys) are measured once.
    /// </summary>
    public static IReadOnlyList<LayerConfiguration> SearchSpaceLayers(MnasNetSearchSpace space, NetworkOptions options)
    {
        ArgumentNullException.ThrowIfNull(space);
        var baseline = space.Decode(space.Decisions.Select(d => Enumerable.Range(0, d.Choices.Count).First(c => d.Allowed[c] && (d.Kind != DecisionKind.LayerDelta || space.LayerDeltas[c] == 0))).ToArray());
        var architectures = new List<Architecture>();
        for (var b = 0; b < space.Skeleton.Count; b++)
        {
            var inputChoices = b == 0 ? [-1] : space.FilterRatios.Select(r => MnasNetSearchSpace.FilterChannels(space.Skeleton[b - 1].Channels, r)).ToArray();
            foreach (var input in inputChoices)
            {
                foreach (var (op, expansion) in space.ConvOps)
                {
                    foreach (var kernel in space.Kernels)
                    {
                        foreach (var se in space.SeRatios)
                        {
                            foreach (var skip in space.Skips)
                            {
                                foreach (var ratio in space.FilterRatios)
                                {
                                    var blocks = baseline.Blocks.ToArray();
                                    if (b > 0)
                                    {
                                        blocks[b - 1] = blocks[b - 1] with { Channels = input };
                                    }
                                    blocks[b] = new BlockSpec(op, expansion, kernel, se, skip,
                                        MnasNetSearchSpace.FilterChannels(space.Skeleton[b].Channels, ratio), 2, space.Skeleton[b].Stride);
                                    architectures.Add(baseline with { Blocks = blocks });
                                }
                            }
                        }
                    }
                }
            }
        }
        return DistinctLayers(architectures, options);
    }

    /// <summary>The distinct layer configurations of some architectures (a table that covers just them).</summary>
    public static IReadOnlyList<LayerConfiguration> DistinctLayers(IEnumerable<Architecture> architectures, NetworkOptions options)
    {
        ArgumentNullException.ThrowIfNull(architectures);
        var seen = new Dictionary<string, LayerConfiguration>(StringComparer.Ordinal);
        foreach (var arch in architectures)
        {
            foreach (var layer in LayerConfiguration.Of(arch, options))
            {
                seen.TryAdd(layer.Key, layer);
            }
        }
        return seen.Values.ToArray();
    }

    /// <summary>Measures each layer once on the backend and records the platform it ran on.</summary>
    public static async Task<LatencyTable> BuildAsync(
        ILayerLatencyBackend backend,
        IReadOnlyList<LayerConfiguration> layers,
        NetworkOptions options,
        MeasurementProtocol protocol,
        IProgress<TableBuildProgress>? progress = null,
        CancellationToken cancellationToken = default,
        LatencyEstimator estimator = LatencyEstimator.Median)
    {
        ArgumentNullException.ThrowIfNull(backend);
        ArgumentNullException.ThrowIfNull(layers);
        protocol.Validate();
        var overhead = await backend.MeasureCallOverheadMsAsync(protocol, cancellationToken).ConfigureAwait(false);
        var entries = new SortedDictionary<string, LatencyTableEntry>(StringComparer.Ordinal);
        foreach (var layer in layers)
        {
            var m = await backend.MeasureLayerAsync(layer, protocol, cancellationToken).ConfigureAwait(false);
            entries[layer.Key] = new LatencyTableEntry(m.Statistics.MedianMs, m.Statistics.P90Ms, m.Statistics.Cv, m.Runs, m.Statistics.MinMs);
            progress?.Report(new TableBuildProgress(entries.Count, layers.Count, layer.Key, m.Statistics.MedianMs));
        }
        var startedAt = backend.Platform.IsSimulated ? DateTimeOffset.UnixEpoch : DateTimeOffset.UtcNow;
        return new LatencyTable(LatencyTable.CurrentFormat, backend.Platform, backend.DeviceId, options, protocol, overhead, startedAt, entries, Estimator: estimator);
    }
}
