using System.Text;
using MnasNet.Latency.Adb;
using MnasNet.Latency.Measurement;
using MnasNet.SearchSpace;
using MnasNet.TestSupport.Adb;

namespace MnasNet.Latency.Tests.Adb;

/// <summary>The adb phone backend against the real adb server and the protocol-level phone.</summary>
public sealed class PhoneBackendTests(AdbServer server) : IClassFixture<AdbServer>
{
    private static readonly NetworkOptions Options = new(224);
    private static readonly MeasurementProtocol Protocol = new(Warmup: 2, Runs: 5);

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    /// <summary>Stands in for the TFLite writer: distinct, deterministic bytes per architecture and options.</summary>
    public static byte[] ModelBytes(Architecture a, NetworkOptions o) => Encoding.UTF8.GetBytes($"TFL3{ArchitectureJson.ToJson(a)}@{o.Resolution}/{o.Classes}");

    private async Task<(FakePhone Phone, AdbPhoneBackend Backend)> PhoneAsync(FakePhone phone, AdbPhoneSettings? settings = null, Func<Architecture, NetworkOptions, byte[]>? writer = null)
    {
        await server.AttachAsync(phone);
        var backend = await AdbPhoneBackend.ConnectAsync((settings ?? new AdbPhoneSettings()) with { Serial = phone.Serial }, writer ?? ModelBytes, server.Client, cancellationToken: Ct);
        return (phone, backend);
    }

    [Fact]
    public async Task A_measurement_pins_to_the_big_cores_reports_the_median_and_records_the_phone()
    {
        var (phone, backend) = await PhoneAsync(new FakePhone());
        await using var _ = phone;
        await using var __ = backend;
        var m = await backend.MeasureAsync(ReferenceArchitectures.MnasNetA1, Options, Protocol, Ct);
        var expectedMs = FakePhone.LatencyUs(ModelBytes(ReferenceArchitectures.MnasNetA1, Options)) / 1000;
        Assert.Equal(expectedMs, m.MedianMs, 1e-3);
        Assert.Equal(5, m.Runs);
        Assert.Empty(m.SamplesMs);
        Assert.True(m.Statistics.MinMs < m.MedianMs && m.MedianMs < m.Statistics.MaxMs);
        var command = Assert.Single(phone.Commands, c => c.Contains("benchmark_model", StringComparison.Ordinal));
        Assert.StartsWith("taskset c /data/local/tmp/benchmark_model --graph=/data/local/tmp/mnasnet-", command, StringComparison.Ordinal);
        Assert.Contains("--num_threads=1 --warmup_runs=2 --warmup_min_secs=0 --num_runs=5 --min_secs=0 --use_xnnpack=true", command, StringComparison.Ordinal);
        var device = m.Device!;
        Assert.Equal("Pixel", device["model"]);
        Assert.Equal(phone.Properties["ro.build.fingerprint"], device["fingerprint"]);
        Assert.Equal("arm64-v8a", device["abi"]);
        Assert.Equal("29", device["sdk"]);
        Assert.Equal("schedutil", device["governor"]);
        Assert.Equal("35.0", device["temperatureC"]);
        Assert.Equal("median", device["statistic"]);
        Assert.Equal("v2", device["shell"]);
        Assert.Equal("schedutil", m.Platform.Governor);
        Assert.Equal($"android:abi=arm64-v8a,model=Pixel,sdk=29,serial={phone.Serial},threads=1,xnnpack=on", backend.TargetPlatform);
        Assert.Equal([2, 3], backend.Phone.BigCores);
    }

    [Fact]
    public async Task The_model_is_pushed_once_per_content_hash()
    {
        var (phone, backend) = await PhoneAsync(new FakePhone());
        await using var _ = phone;
        await using var __ = backend;
        await backend.MeasureAsync(ReferenceArchitectures.MnasNetA1, Options, Protocol, Ct);
        Assert.Equal(1, phone.Pushes);
        var again = await backend.MeasureAsync(ReferenceArchitectures.MnasNetA1, Options, Protocol, Ct);
        Assert.Equal(1, phone.Pushes);
        var other = await backend.MeasureAsync(ReferenceArchitectures.MobileNetV2, Options, Protocol, Ct);
        Assert.Equal(2, phone.Pushes);
        Assert.Equal(2, phone.Files.Keys.Count(k => k.EndsWith(".tflite", StringComparison.Ordinal)));
        Assert.NotEqual(again.Device!["modelSha256"], other.Device!["modelSha256"]);
    }

    [Fact]
    public async Task A_TF21_phone_on_a_legacy_shell_reports_the_average()
    {
        var (phone, backend) = await PhoneAsync(new FakePhone(shellV2: false, statV2: false, format: BenchmarkFormat.Tf21));
        await using var _ = phone;
        await using var __ = backend;
        var m = await backend.MeasureAsync(ReferenceArchitectures.MnasNetB1, Options, Protocol, Ct);
        Assert.Equal(FakePhone.LatencyUs(ModelBytes(ReferenceArchitectures.MnasNetB1, Options)) / 1000, m.MedianMs, 1e-3);
        Assert.Equal("avg", m.Device!["statistic"]);
        Assert.Equal("legacy", m.Device["shell"]);
    }

    [Fact]
    public async Task A_local_binary_is_pushed_and_run_instead_of_the_installed_one()
    {
        var binary = Path.Combine(Directory.CreateTempSubdirectory().FullName, "benchmark_model");
        await File.WriteAllBytesAsync(binary, Encoding.UTF8.GetBytes("\u007fELF fake benchmark_model"), Ct);
        var (phone, backend) = await PhoneAsync(new FakePhone { InstalledBinary = null }, new AdbPhoneSettings(LocalBinary: binary, Xnnpack: false, Cores: "1"));
        await using var _ = phone;
        await using var __ = backend;
        await backend.MeasureAsync(ReferenceArchitectures.MnasNetA1, Options, Protocol, Ct);
        var pushed = Assert.Single(phone.Files.Keys, k => k.Contains("/benchmark_model-", StringComparison.Ordinal));
        Assert.Contains(phone.Commands, c => c.StartsWith($"taskset 1 {pushed} ", StringComparison.Ordinal) && c.EndsWith("--use_xnnpack=false", StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_benchmark_model_error_is_a_permanent_failure_with_its_message()
    {
        var (phone, backend) = await PhoneAsync(new FakePhone(), writer: (_, _) => [1, 2, 3]);
        await using var _ = phone;
        await using var __ = backend;
        var e = await Assert.ThrowsAsync<LatencyBackendException>(() => backend.MeasureAsync(ReferenceArchitectures.MnasNetA1, Options, Protocol, Ct));
        Assert.False(e.Transient);
        Assert.Contains("exit 1", e.Message, StringComparison.Ordinal);
        Assert.Contains("not a valid Flatbuffer", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_phone_that_drops_off_mid_measurement_is_a_transient_fault_and_comes_back()
    {
        var (phone, backend) = await PhoneAsync(new FakePhone());
        await using var _ = phone;
        await using var __ = backend;
        var drops = 0;
        phone.Intercept = c => c.Contains("benchmark_model", StringComparison.Ordinal) && Interlocked.Increment(ref drops) == 1 ? FakeShellResult.Dropped : null;
        var e = await Assert.ThrowsAsync<LatencyBackendException>(() => backend.MeasureAsync(ReferenceArchitectures.MnasNetA1, Options, Protocol, Ct));
        Assert.True(e.Transient, e.Message);
        var m = await backend.MeasureAsync(ReferenceArchitectures.MnasNetA1, Options, Protocol, Ct);
        Assert.Equal(FakePhone.LatencyUs(ModelBytes(ReferenceArchitectures.MnasNetA1, Options)) / 1000, m.MedianMs, 1e-3);
        Assert.True(phone.Connections >= 2);
    }

    [Fact]
    public async Task The_thermal_guard_waits_while_the_phone_is_hotter_than_the_limit()
    {
        var phone = new FakePhone();
        phone.Temperatures.Enqueue([52000, 40000]);
        phone.Temperatures.Enqueue([47000, 40000]);
        phone.Temperatures.Enqueue([41500, 39000]);
        var (_, backend) = await PhoneAsync(phone, new AdbPhoneSettings(MaxTemperatureC: 45, ThermalPoll: TimeSpan.FromMilliseconds(20), ThermalWait: TimeSpan.FromSeconds(30)));
        await using var __ = phone;
        await using var ___ = backend;
        var m = await backend.MeasureAsync(ReferenceArchitectures.MnasNetA1, Options, Protocol, Ct);
        Assert.Equal("41.5", m.Device!["temperatureC"]);
        Assert.Equal(3, phone.Commands.Count(c => c.StartsWith("echo governor=", StringComparison.Ordinal)));
        Assert.True(double.Parse(m.Device["thermalWaitSeconds"], System.Globalization.CultureInfo.InvariantCulture) >= 0.0);
    }

    [Fact]
    public async Task An_unauthorized_phone_is_a_clear_transient_error()
    {
        await using var phone = new FakePhone(unauthorized: true);
        await server.AttachAsync(phone, state: "unauthorized");
        var e = await Assert.ThrowsAsync<LatencyBackendException>(() => AdbPhoneBackend.ConnectAsync(new AdbPhoneSettings(phone.Serial), ModelBytes, server.Client, cancellationToken: Ct));
        Assert.True(e.Transient);
        Assert.Contains($"phone {phone.Serial} is unauthorized", e.Message, StringComparison.Ordinal);
        Assert.Contains("Allow USB debugging", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_backend_spec_creates_a_phone_backend_on_the_named_server()
    {
        await using var phone = new FakePhone();
        await server.AttachAsync(phone);
        await using var backend = LatencyBackends.Create($"adb:serial={phone.Serial},server=127.0.0.1:{server.Port},threads=2", seed: 3);
        var phoneBackend = Assert.IsType<AdbPhoneBackend>(backend);
        Assert.Equal(phone.Serial, phoneBackend.Phone.Serial);
        Assert.Equal(2, backend.Platform.Threads);
        Assert.Equal($"adb:{phone.Serial}/t2", backend.DeviceId);
        var small = new NetworkOptions(32, Classes: 10);
        var m = await backend.MeasureAsync(ReferenceArchitectures.MnasNetA1, small, Protocol, Ct);
        Assert.Contains(phone.Commands, c => c.Contains("--num_threads=2", StringComparison.Ordinal));
        Assert.Equal(2, m.Threads);
        // The default writer is the TFLite exporter: the phone received a TFL3 FlatBuffer of this seed.
        var pushed = Assert.Single(phone.Files.Values);
        Assert.Equal(Tflite.TfliteExporter.Export(ReferenceArchitectures.MnasNetA1, small, seed: 3), pushed);
        Assert.Equal("TFL3", Encoding.ASCII.GetString(pushed, 4, 4));
        Assert.Equal(FakePhone.LatencyUs(pushed) / 1000, m.MedianMs, 1e-3);
    }
}
