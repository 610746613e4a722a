using System.Text.Json;
using MnasNet.Latency.Backends;
using MnasNet.Latency.Measurement;
using MnasNet.SearchSpace;

namespace MnasNet.Latency.Tests;

public sealed class MeasurementRecordTests
{
    [Fact]
    public async Task A_measurement_round_trips_through_system_text_json_with_every_sample_and_the_platform()
    {
        await using var device = new SimulatedBackend(new SimulatedSettings(NoiseCv: 0.2, Seed: 3));
        var m = await device.MeasureAsync(ReferenceArchitectures.MnasNetA1, new NetworkOptions(64), new MeasurementProtocol(2, 40), TestContext.Current.CancellationToken);
        var json = JsonSerializer.Serialize(m);
        Assert.Contains("\"Source\":\"Simulated\"", json);
        Assert.Contains("\"StopReason\":\"RunsCompleted\"", json);
        var back = JsonSerializer.Deserialize<LatencyMeasurement>(json)!;
        Assert.Equal(m.SamplesMs, back.SamplesMs);
        Assert.Equal(m.Statistics.OutlierIndices, back.Statistics.OutlierIndices);
        Assert.Equal(m.Statistics with { OutlierIndices = [] }, back.Statistics with { OutlierIndices = [] });
        Assert.Equal(m.Platform.Summary, back.Platform.Summary);
        Assert.Equal(m.MedianMs, back.MedianMs);
        Assert.Equal(m with { SamplesMs = [], Statistics = back.Statistics, Platform = back.Platform }, back with { SamplesMs = [] });
    }
}
