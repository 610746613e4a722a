using MnasNet.Latency.Backends;
using MnasNet.Latency.Measurement;
using MnasNet.Latency.Table;
using MnasNet.Latency.Tflite;
using MnasNet.SearchSpace;
using MnasNet.Torch;

namespace MnasNet.Latency.Tests;

public sealed class TfliteBackendTests
{
    private static readonly MeasurementProtocol Quick = new(Warmup: 2, Runs: 5);

    public TfliteBackendTests() => TorchRuntime.EnsureLoaded(threads: 1);

    [Fact]
    public async Task Specs_carry_threads_and_xnnpack()
    {
        await using var standard = (TfliteBackend)LatencyBackends.Create("tflite");
        Assert.Equal(1, standard.Settings.Threads);
        Assert.True(standard.Settings.XnnPack);
        Assert.Equal("tflite", standard.Platform.Backend);
        Assert.StartsWith("2.9", standard.Platform.Libraries["tflite"]);
        Assert.Contains("xnnpack on", standard.Platform.Details);

        await using var custom = (TfliteBackend)LatencyBackends.Create("tflite:threads=2,xnnpack=off");
        Assert.Equal(2, custom.Settings.Threads);
        Assert.False(custom.Settings.XnnPack);
        Assert.Equal(2, custom.Platform.Threads);
        Assert.Contains("xnnpack off", custom.Platform.Details);
        Assert.NotEqual(standard.DeviceId, custom.DeviceId);

        await using var overridden = (TfliteBackend)LatencyBackends.Create("tflite:threads=2", threads: 1);
        Assert.Equal(1, overridden.Settings.Threads);
    }

    [Theory]
    [InlineData("tflite:xnnpack=maybe", "xnnpack must be on or off")]
    [InlineData("tflite:cores=f0", "unknown setting 'cores'")]
    [InlineData("tflite:threads=x", "threads must be a non-negative integer")]
    public void Bad_specs_are_clear_errors(string spec, string message)
    {
        var e = Assert.Throws<UnknownBackendException>(() => LatencyBackends.Create(spec));
        Assert.Contains(message, e.Message);
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task Measures_with_the_protocol(bool xnnpack)
    {
        await using var backend = new TfliteBackend(new TfliteSettings(XnnPack: xnnpack));
        var protocol = new MeasurementProtocol(Warmup: 1, Runs: 4, CvTarget: 1e-9, TimeBudget: TimeSpan.FromSeconds(30), MaxRounds: 2);
        var m = await backend.MeasureAsync(ReferenceArchitectures.MnasNetB1, new NetworkOptions(64, Classes: 10), protocol, TestContext.Current.CancellationToken);
        Assert.Equal(StopReason.MaxRoundsReached, m.StopReason);
        Assert.Equal(2, m.Rounds);
        Assert.Equal(8, m.SamplesMs.Count);
        Assert.All(m.SamplesMs, s => Assert.True(s > 0));
        Assert.Equal(Statistics.Median(m.SamplesMs), m.MedianMs);
        Assert.Equal(backend.Platform, m.Platform);
        Assert.Equal(64, m.Resolution);
    }

    [Fact]
    public async Task Too_large_for_the_resolution_is_rejected_before_measuring()
    {
        await using var backend = new TfliteBackend();
        await Assert.ThrowsAsync<ArchitectureTooLargeException>(() =>
            backend.MeasureAsync(ReferenceArchitectures.MnasNetA1, new NetworkOptions(8), Quick, TestContext.Current.CancellationToken));
    }

    [Fact]
    public async Task A_bigger_network_takes_longer()
    {
        await using var backend = new TfliteBackend();
        var tiny = new Architecture(new StemSpec(8), [new BlockSpec(ConvOp.MBConv, 1, 3, 0, SkipOp.None, 8, 1, 2)], new HeadSpec(16));
        var small = await backend.MeasureAsync(tiny, new NetworkOptions(32, Classes: 10), Quick, TestContext.Current.CancellationToken);
        var large = await backend.MeasureAsync(ReferenceArchitectures.MobileNetV2, new NetworkOptions(96, Classes: 10), Quick, TestContext.Current.CancellationToken);
        Assert.True(large.MedianMs > 5 * small.MedianMs, $"mobilenet-v2@96 {large.MedianMs} ms vs tiny {small.MedianMs} ms");
    }

    [Fact]
    public async Task Times_single_layers_and_the_call_overhead_for_tables()
    {
        await using var backend = (ILayerLatencyBackend)LatencyBackends.CreateLayerBackend("tflite");
        var layers = LayerConfiguration.Of(ReferenceArchitectures.MnasNetA1, new NetworkOptions(32, Classes: 10));
        foreach (var layer in new[] { layers[0], layers[1], layers[^2], layers[^1] })
        {
            var m = await backend.MeasureLayerAsync(layer, Quick, TestContext.Current.CancellationToken);
            Assert.Equal(layer.Key, m.ArchitectureId);
            Assert.Equal(5, m.SamplesMs.Count);
        }
        var overhead = await backend.MeasureCallOverheadMsAsync(Quick, TestContext.Current.CancellationToken);
        // Below the 100 ns resolution of TimeSpan on this host: a RESHAPE call costs next to nothing.
        Assert.InRange(overhead, 0, 5);
    }

    [Fact]
    public void A_missing_library_names_deploy_setup()
    {
        var empty = Directory.CreateTempSubdirectory("mnasnet-no-tflite-");
        try
        {
            var byVariable = Assert.Throws<TfliteLibraryNotFoundException>(() => TfliteLibrary.Find(Path.Combine(empty.FullName, "nope.so"), empty.FullName));
            Assert.Contains("deploy/setup.sh", byVariable.Message);
            Assert.Contains(TfliteLibrary.PathVariable, byVariable.Message);
            if (!File.Exists("/usr/local/lib/" + TfliteLibrary.FileName))
            {
                var nowhere = Assert.Throws<TfliteLibraryNotFoundException>(() => TfliteLibrary.Find(null, empty.FullName));
                Assert.Contains("deploy/setup.sh", nowhere.Message);
            }
            var installed = Path.Combine(empty.FullName, ".native", "tflite", TfliteLibrary.FileName);
            Directory.CreateDirectory(Path.GetDirectoryName(installed)!);
            File.WriteAllBytes(installed, []);
            var nested = Directory.CreateDirectory(Path.Combine(empty.FullName, "src", "bin"));
            Assert.Equal(installed, TfliteLibrary.Find(null, nested.FullName));
        }
        finally
        {
            empty.Delete(recursive: true);
        }
    }
}
