using MnasNet.Latency.Adb;
using MnasNet.TestSupport.Adb;

namespace MnasNet.Latency.Tests.Adb;

/// <summary>The pure halves of the ADB client and phone backend: specs, endpoints, device lists, tool output.</summary>
public sealed class AdbParsingTests
{
    [Fact]
    public void A_spec_with_a_network_serial_keeps_its_colon()
    {
        var s = LatencyBackends.PhoneSettings("adb:serial=127.0.0.1:5555,threads=2,cores=f0,xnnpack=off,max-temp=42.5,remote-binary=/data/local/tmp/bm");
        Assert.Equal("127.0.0.1:5555", s.Serial);
        Assert.Equal(2, s.Threads);
        Assert.Equal("f0", s.Cores);
        Assert.False(s.Xnnpack);
        Assert.Equal(42.5, s.MaxTemperatureC);
        Assert.Equal("/data/local/tmp/bm", s.RemoteBinary);
        var defaults = LatencyBackends.PhoneSettings("adb");
        Assert.Equal((null, 1, "auto", true), (defaults.Serial, defaults.Threads, defaults.Cores, defaults.Xnnpack));
    }

    [Theory]
    [InlineData("adb:cores=zz", "cores 'zz'")]
    [InlineData("adb:xnnpack=maybe", "xnnpack must be on or off")]
    [InlineData("adb:colour=red", "unknown setting 'colour'")]
    [InlineData("adb:binary=/nonexistent/benchmark_model", "does not exist")]
    public void A_bad_spec_is_a_clear_error(string spec, string message)
    {
        var e = Assert.Throws<UnknownBackendException>(() => LatencyBackends.PhoneSettings(spec));
        Assert.Contains(message, e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void The_server_endpoint_follows_adb_s_environment_rules()
    {
        static Func<string, string?> Env(string? socket, string? port) => k => k == "ADB_SERVER_SOCKET" ? socket : k == "ANDROID_ADB_SERVER_PORT" ? port : null;
        Assert.Equal(new AdbServerEndpoint("127.0.0.1", 5037), AdbServerEndpoint.Resolve(null, Env(null, null)));
        Assert.Equal(new AdbServerEndpoint("127.0.0.1", 5038), AdbServerEndpoint.Resolve(null, Env(null, "5038")));
        Assert.Equal(new AdbServerEndpoint("10.0.0.2", 6000), AdbServerEndpoint.Resolve(null, Env("tcp:10.0.0.2:6000", "5038")));
        Assert.Equal(new AdbServerEndpoint("127.0.0.1", 7000), AdbServerEndpoint.Resolve("7000", Env("tcp:10.0.0.2:6000", "5038")));
        Assert.Equal(new AdbServerEndpoint("host", 7001), AdbServerEndpoint.Resolve("host:7001", Env(null, null)));
        Assert.Contains("only tcp", Assert.Throws<AdbException>(() => AdbServerEndpoint.Resolve(null, Env("localabstract:adb", null))).Message, StringComparison.Ordinal);
        Assert.Contains("not a TCP port", Assert.Throws<AdbException>(() => AdbServerEndpoint.Resolve(null, Env(null, "99999"))).Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Device_lines_give_serial_state_and_fields()
    {
        var devices = AdbClient.ParseDevices(
            "127.0.0.1:5555         device product:sailfish model:Pixel device:sailfish transport_id:3\n" +
            "HT7A1B                 unauthorized usb:1-1 transport_id:4\n" +
            "0123456789ABCDEF       no permissions (user in plugdev group); see [http://developer.android.com/tools/device.html] usb:1-2\n");
        Assert.Equal(3, devices.Count);
        Assert.Equal(("127.0.0.1:5555", "device", "Pixel"), (devices[0].Serial, devices[0].State, devices[0].Model));
        Assert.Equal("unauthorized", devices[1].State);
        Assert.False(devices[1].IsOnline);
        Assert.StartsWith("no permissions", devices[2].State, StringComparison.Ordinal);
    }

    [Fact]
    public void A_legacy_shell_without_its_exit_marker_was_cut_off()
    {
        var done = AdbClient.ParseLegacyShell("hello\r\n__mnasnet_exit=4\r\n", "s", "c");
        Assert.Equal(("hello\n", 4), (done.Stdout, done.ExitCode));
        Assert.True(Assert.Throws<AdbException>(() => AdbClient.ParseLegacyShell("hel", "s", "c")).Transient);
    }

    [Fact]
    public void Current_benchmark_output_gives_the_inference_median_not_the_warmup()
    {
        const string output =
            "INFO: STARTING!\r\nINFO: Graph: [/data/local/tmp/m.tflite]\r\n" +
            "INFO: count=10 first=90210 curr=60000 min=58000 max=90210 avg=63000 std=9000\r\n\r\n" +
            "INFO: count=1000 first=52162 curr=49785 min=49088 max=686105 avg=63743.2 std=60716 p5=49620 median=51891 p95=68628\r\n" +
            "INFO: Inference timings in us: Init: 119515, First inference: 87112, Warmup (avg): 58147.4, Inference (avg): 63743.2\r\n";
        var r = BenchmarkModelOutput.Parse(output);
        Assert.Equal(1000, r.Count);
        Assert.Equal(51891, r.MedianUs);
        Assert.Equal(63743.2, r.AverageUs);
        Assert.Equal((49088.0, 686105.0, 60716.0, 49620.0, 68628.0), (r.MinUs!.Value, r.MaxUs!.Value, r.StdUs!.Value, r.P5Us!.Value, r.P95Us!.Value));
        Assert.Equal(119515, r.InitUs);
        Assert.Equal(58147.4, r.WarmupAverageUs);
        Assert.Equal(("median", 51891.0), (r.ReportedStatistic, r.ReportedUs));
        var s = AdbPhoneBackend.Statistics(r);
        Assert.Equal(51.891, s.MedianMs, 1e-9);
        Assert.Equal(63.7432, s.MeanMs, 1e-9);
        Assert.Equal(68.628, s.P90Ms, 1e-9);
    }

    [Fact]
    public void TF21_output_and_exponent_notation_give_the_average()
    {
        var r = BenchmarkModelOutput.Parse("Loaded model m.tflite\nAverage inference timings in us: Warmup: 1.23457e+06, Init: 38467, Inference: 7.97609e+04\n");
        Assert.Null(r.MedianUs);
        Assert.Equal(79760.9, r.AverageUs!.Value, 1e-6);
        Assert.Equal(1234570, r.WarmupAverageUs!.Value, 1e-6);
        Assert.Equal("avg", r.ReportedStatistic);
    }

    [Fact]
    public void Output_without_timings_is_a_format_error()
    {
        var e = Assert.Throws<FormatException>(() => BenchmarkModelOutput.Parse("ERROR: Failed to mmap model\n"));
        Assert.Contains("no inference timings", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Big_cores_are_those_with_the_highest_max_frequency()
    {
        var freqs = PhoneCommands.ParseCpuMaxFrequencies(
            "/sys/devices/system/cpu/cpu0/cpufreq/cpuinfo_max_freq 1785600\r\n/sys/devices/system/cpu/cpu1/cpufreq/cpuinfo_max_freq 1785600\n" +
            "/sys/devices/system/cpu/cpu6/cpufreq/cpuinfo_max_freq 2803200\n/sys/devices/system/cpu/cpu7/cpufreq/cpuinfo_max_freq 2803200\n" +
            "/sys/devices/system/cpu/cpu4/cpufreq/cpuinfo_max_freq 2419200\n");
        Assert.Equal([1785600, 1785600, 0, 0, 2419200, 0, 2803200, 2803200], freqs);
        var big = PhoneCommands.BigCores(freqs);
        Assert.Equal([6, 7], big);
        Assert.Equal("c0", PhoneCommands.Mask(big));
        Assert.Equal("6-7", PhoneCommands.Ranges(big));
        Assert.Equal([4, 5, 6, 7], PhoneCommands.ParseMask("0xF0"));
        Assert.Empty(PhoneCommands.BigCores(PhoneCommands.ParseCpuMaxFrequencies("")));
    }

    [Fact]
    public void State_gives_the_governor_and_the_hottest_plausible_zone()
    {
        var (governor, t) = PhoneCommands.ParseState("governor=sched_util\ntemps=36000 41500 -273000 0 47\n");
        Assert.Equal("sched_util", governor);
        Assert.Equal(47, t);
        Assert.Equal((null, (double?)null), PhoneCommands.ParseState("governor=\ntemps=\n"));
        var props = PhoneCommands.ParseProperties("[ro.product.model]: [Pixel 3a]\r\n[ro.build.version.sdk]: [30]\n[bad line\n");
        Assert.Equal("Pixel 3a", props["ro.product.model"]);
        Assert.Equal(2, props.Count);
    }
}
