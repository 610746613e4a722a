using MnasNet.Actors.Settings;

namespace MnasNet.Cluster.Tests;

/// <summary>Which devices a device-role node runs: its --device specs, else the platform its settings name.</summary>
public sealed class ClusterDevicePlatformsTests
{
    private const string Seed = "akka.tcp://mnasnet@127.0.0.1:4053";

    private static SearchSettings Real(string backend) => new() { Mode = SearchMode.Real, Latency = new LatencySettings { Backend = backend } };

    private static ClusterNodeOptions Node(int? devices = null, params string[] specs) => ClusterNodeOptions.Parse("device", [Seed], "127.0.0.1", 4054, null, devices, specs);

    [Fact]
    public void A_node_whose_settings_name_a_phone_runs_the_adb_spec_like_device_adb()
    {
        var settings = Real("adb:server=127.0.0.1:5038,serial=127.0.0.1:5555");
        var fromSettings = Assert.Single(Node().DevicePlatforms(settings));
        Assert.Equal("adb:serial=127.0.0.1:5555,server=127.0.0.1:5038", fromSettings.ToString());
        Assert.Equal(fromSettings, Assert.Single(Node(null, "adb:server=127.0.0.1:5038,serial=127.0.0.1:5555").DevicePlatforms(Real("onnxruntime"))));
        Assert.Equal(fromSettings, Assert.Single(Node(1).DevicePlatforms(settings)));
        Assert.Empty(Node(0).DevicePlatforms(settings));
    }

    [Fact]
    public void Several_devices_of_one_adb_backend_are_refused_with_the_way_out()
    {
        var e = Assert.Throws<SettingsException>(() => Node(2).DevicePlatforms(Real("adb")));
        Assert.Contains("--devices 2", e.Message, StringComparison.Ordinal);
        Assert.Contains("one worker per phone", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Host_and_simulated_settings_still_give_devices_count_of_their_platform()
    {
        var host = Node(2).DevicePlatforms(Real("onnxruntime") with { Threads = 2 });
        Assert.Equal(2, host.Count);
        Assert.All(host, p => Assert.Equal(("onnxruntime", "2"), (p.Backend, p.Properties["threads"])));
        Assert.Equal(["simulated", "simulated", "simulated"], Node(3).DevicePlatforms(new SearchSettings { Mode = SearchMode.Simulated, Latency = new LatencySettings { Backend = "adb" } }).Select(p => p.ToString()));
    }
}
