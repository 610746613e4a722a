using MnasNet.Actors.Actors;
using MnasNet.Actors.Backends;
using MnasNet.Actors.Protocol;
using MnasNet.Actors.Settings;

namespace MnasNet.Actors.Tests;

public sealed class DevicePlatformTests
{
    [Theory]
    [InlineData("onnxruntime", "onnxruntime")]
    [InlineData(" onnxruntime : threads = 2 , cpu=Xeon ", "onnxruntime:cpu=Xeon,threads=2")]
    [InlineData("simulated:name=rack-1", "simulated:name=rack-1")]
    [InlineData("tflite:xnnpack=off,threads=1", "tflite:threads=1,xnnpack=off")]
    public void Parses_to_a_canonical_text_form(string text, string canonical)
    {
        var platform = DevicePlatform.Parse(text);
        Assert.Equal(canonical, platform.ToString());
        Assert.Equal(platform, DevicePlatform.Parse(platform.ToString()));
    }

    [Theory]
    [InlineData("tensorrt:threads=1", "unknown backend 'tensorrt'")]
    [InlineData("tflite:xnnpack=yes", "xnnpack must be on or off")]
    [InlineData("onnxruntime:xnnpack=on", "xnnpack applies to TensorFlow Lite backends only")]
    [InlineData("onnxruntime:threads", "'threads' is not key=value")]
    [InlineData("onnxruntime:threads=0", "threads must be a whole number from 1 to 256")]
    [InlineData("onnxruntime:threads=1,threads=2", "'threads' is given twice")]
    public void Bad_platforms_are_named(string text, string message) =>
        Assert.Contains(message, Assert.Throws<SettingsException>(() => DevicePlatform.Parse(text)).Message);

    [Theory]
    [InlineData("onnxruntime:threads=1,cpu=Xeon", "onnxruntime", true)]
    [InlineData("onnxruntime:threads=1,cpu=Xeon", "onnxruntime:threads=1", true)]
    [InlineData("onnxruntime:threads=1,cpu=Xeon", "onnxruntime:threads=2", false)]
    [InlineData("onnxruntime:threads=1", "onnxruntime:threads=1,cpu=Xeon", false)]
    [InlineData("simulated", "onnxruntime", false)]
    public void A_device_satisfies_a_selector_when_every_named_property_matches(string device, string selector, bool satisfies) =>
        Assert.Equal(satisfies, DevicePlatform.Parse(device).Satisfies(DevicePlatform.Parse(selector)));

    [Fact]
    public void A_tflite_device_on_this_host_names_cpu_threads_and_xnnpack()
    {
        var device = DevicePlatform.Parse("tflite:threads=1").OnThisHost(defaultThreads: 2);
        Assert.Matches("^tflite:cpu=[^,]+,threads=1,xnnpack=on$", device.ToString());
        Assert.True(device.XnnPack);
        Assert.True(device.Satisfies(DevicePlatform.Parse("tflite:threads=1")));
        Assert.False(device.Satisfies(DevicePlatform.Parse("tflite:xnnpack=off")));
        var off = DevicePlatform.Parse("tflite:xnnpack=off").OnThisHost(defaultThreads: 2);
        Assert.Matches("^tflite:cpu=[^,]+,threads=2,xnnpack=off$", off.ToString());
        Assert.False(off.XnnPack);
        Assert.DoesNotContain("xnnpack", DevicePlatform.Parse("onnxruntime").OnThisHost(1).ToString());
    }

    [Fact]
    public void A_search_targets_its_own_backend_and_threads_unless_latency_target_says_otherwise()
    {
        var real = new SearchSettings { Threads = 2 };
        Assert.Equal("onnxruntime:threads=2", DevicePlatform.TargetOf(real).ToString());
        Assert.True(DevicePlatform.LocalDeviceOf(real).Satisfies(DevicePlatform.TargetOf(real)));
        Assert.Equal("simulated", DevicePlatform.TargetOf(new SearchSettings { Mode = SearchMode.Simulated }).ToString());
        Assert.Equal("onnxruntime:threads=4", DevicePlatform.TargetOf(real with { Latency = new LatencySettings { Target = "onnxruntime:threads=4" } }).ToString());
    }

    [Fact]
    public void A_target_that_contradicts_the_mode_is_refused()
    {
        var e = Assert.Throws<SettingsException>(() => SettingsValidation.Validate(new SearchSettings { Mode = SearchMode.Simulated, Latency = new LatencySettings { Target = "onnxruntime:threads=1" } }));
        Assert.Contains("latency.target 'onnxruntime:threads=1' names a real device (onnxruntime:threads=1) but mode is 'simulated'", e.Message);
    }

    [Fact]
    public void Per_search_backends_are_built_from_the_offered_settings_and_the_oldest_is_disposed_past_four_searches()
    {
        var disposed = new List<string>();
        var backends = WorkerBackends<string>.PerSearch(s => $"backend-{s.Id}", disposed.Add);
        var settings = new SearchSettings();
        WorkOffer Offer(string id, bool withSettings) => new(id, 0, WorkKind.Train, 1, [], 0, withSettings ? SettingsLoader.ToJson(settings with { Id = id }) : null);

        Assert.Contains("settings of search s1 unknown", Assert.Throws<SettingsException>(() => backends.For(Offer("s1", false))).Message);
        Assert.Equal("backend-s1", backends.For(Offer("s1", true)));
        Assert.Equal("backend-s1", backends.For(Offer("s1", false)));
        foreach (var id in new[] { "s2", "s3", "s4" })
        {
            backends.For(Offer(id, true));
        }
        Assert.Empty(disposed);
        backends.For(Offer("s1", false));
        backends.For(Offer("s5", true));
        Assert.Equal(["backend-s2"], disposed);
        backends.Dispose();
        Assert.Equal(["backend-s2", "backend-s3", "backend-s4", "backend-s1", "backend-s5"], disposed);
    }
}
