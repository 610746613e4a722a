using MnasNet.Latency;
using MnasNet.Latency.Measurement;
using MnasNet.Latency.Table;
using MnasNet.SearchSpace;

namespace MnasNet.TestSupport;

/// <summary>
/// Lookup tables built from MnasNet.Latency's simulated backend, as <c>mnasnet latency-table build --backend
/// simulated:model=surrogate,noise=0</c> builds them: the noise-free latency model of a simulated search's device.
/// </summary>
public static class SimulatedTable
{
    /// <summary>The full table of the default space at <paramref name="resolution"/> (3 warm-up + 10 runs per layer), saved to <paramref name="path"/>.</summary>
    public static async Task<string> WriteAsync(string path, int resolution = 224, long seed = 0)
    {
        var options = new NetworkOptions(Resolution: resolution);
        await using var device = LatencyBackends.CreateLayerBackend("simulated:model=surrogate,noise=0", null, seed);
        var table = await LatencyTableBuilder.BuildAsync(device, LatencyTableBuilder.SearchSpaceLayers(MnasNetSearchSpace.Default, options), options, new MeasurementProtocol(3, 10));
        table.Save(path);
        return path;
    }
}
