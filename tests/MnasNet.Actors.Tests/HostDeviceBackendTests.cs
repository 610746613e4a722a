using MnasNet.Actors.Backends;
using MnasNet.Actors.Protocol;
using MnasNet.Actors.Settings;
using MnasNet.SearchSpace;

namespace MnasNet.Actors.Tests;

/// <summary>The host device of a real search measures on the backend its settings or its device platform name.</summary>
public sealed class HostDeviceBackendTests
{
    private static readonly SearchSettings Settings = new()
    {
        Latency = new LatencySettings { Backend = "tflite", Resolution = 32, Warmup = 1, Runs = 3 },
        Threads = 1,
    };

    [Theory]
    [InlineData(null, "tflite", "/tflite/t1/0/")]
    [InlineData("tflite:threads=1,xnnpack=off", "tflite", "/tflite/t1/no-xnnpack/0/")]
    [InlineData("onnxruntime:threads=1", "onnxruntime", "/onnxruntime/t1/0/")]
    public async Task Measures_a_trial_on_the_named_host_backend(string? platform, string backend, string deviceId)
    {
        var space = MnasNetSearchSpace.Default;
        var tokens = space.Sample(new SeededRandom(5));
        await using var device = new HostDeviceBackend(Settings, space, 0, platform is null ? null : DevicePlatform.Parse(platform));
        var record = await device.MeasureAsync(new WorkOffer("s", 1, WorkKind.Measure, 1, tokens, 7), TestContext.Current.CancellationToken);
        Assert.Equal(backend, device.Name);
        Assert.Equal(backend, record.Backend);
        Assert.Contains(deviceId, "/" + record.DeviceId + "/", StringComparison.Ordinal);
        Assert.Equal(3, record.SamplesMs.Count);
        Assert.Equal(32, record.Resolution);
        Assert.True(record.MedianMs > 0);
        Assert.Contains(backend, record.Platform);
    }

    [Fact]
    public void A_simulated_platform_is_not_a_host_backend() =>
        Assert.Contains("not a host backend", Assert.Throws<SettingsException>(() =>
            new HostDeviceBackend(Settings, MnasNetSearchSpace.Default, 0, DevicePlatform.Parse("simulated"))).Message);
}
