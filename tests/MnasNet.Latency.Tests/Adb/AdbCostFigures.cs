using System.Diagnostics;
using System.Globalization;
using MnasNet.Latency.Adb;
using MnasNet.Latency.Measurement;
using MnasNet.SearchSpace;
using MnasNet.TestSupport.Adb;

namespace MnasNet.Latency.Tests.Adb;

/// <summary>
/// Opt-in figures (<c>MNASNET_ADB_COST_FIGURES=FILE</c>): what one phone measurement costs against the protocol-level
/// phone at 224² — connect + probe, TFLite export, a first measurement (push) and a repeat (push skipped by hash),
/// shell round trips, a 4 MiB push. Written to FILE; the figures depend on the machine's load.
/// </summary>
public sealed class AdbCostFigures(AdbServer server) : IClassFixture<AdbServer>
{
    public const string Variable = "MNASNET_ADB_COST_FIGURES";

    [Fact]
    public async Task Write_the_cost_of_one_phone_measurement_when_asked()
    {
        if (Environment.GetEnvironmentVariable(Variable) is not { Length: > 0 } file)
        {
            Assert.Skip($"set {Variable}=FILE to write the figures");
            return;
        }
        var ct = TestContext.Current.CancellationToken;
        await using var phone = new FakePhone();
        await server.AttachAsync(phone);
        var options = new NetworkOptions(224);
        var protocol = new MeasurementProtocol(10, 50);
        var lines = new List<string> { FormattableString.Invariant($"load average (1 min) at start: {PlatformProbe.LoadAverage()}") };
        var sw = Stopwatch.StartNew();
        await using var backend = await AdbPhoneBackend.ConnectAsync(new AdbPhoneSettings(phone.Serial), (a, o) => Tflite.TfliteExporter.Export(a, o), server.Client, cancellationToken: ct);
        lines.Add(FormattableString.Invariant($"connect + probe (devices, features, getprop, cpufreq): {sw.Elapsed.TotalMilliseconds:F0} ms"));
        Tflite.TfliteExporter.Export(ReferenceArchitectures.MobileNetV2, new NetworkOptions(32));
        foreach (var (name, arch) in new[] { ("mnasnet-a1", ReferenceArchitectures.MnasNetA1), ("mobilenet-v2", ReferenceArchitectures.MobileNetV2) })
        {
            sw.Restart();
            var bytes = Tflite.TfliteExporter.Export(arch, options);
            var export = sw.Elapsed.TotalMilliseconds;
            var pushes = phone.Pushes;
            var first = await backend.MeasureAsync(arch, options, protocol, ct);
            Assert.Equal(pushes + 1, phone.Pushes);
            var again = await backend.MeasureAsync(arch, options, protocol, ct);
            Assert.Equal(pushes + 1, phone.Pushes);
            lines.Add(FormattableString.Invariant(
                $"{name}: TFLite export alone {export:F0} ms ({bytes.Length / 1e6:F1} MB); measurement with push {first.WallSeconds * 1000:F0} ms, repeat (push skipped) {again.WallSeconds * 1000:F0} ms"));
        }
        var features = await server.Client.GetFeaturesAsync(phone.Serial, ct);
        sw.Restart();
        for (var i = 0; i < 20; i++)
        {
            await server.Client.ShellAsync(phone.Serial, "echo x", features: features, cancellationToken: ct);
        }
        lines.Add(FormattableString.Invariant($"shell v2 round trip: {sw.Elapsed.TotalMilliseconds / 20:F1} ms"));
        sw.Restart();
        await server.Client.PushAsync(phone.Serial, new byte[4 << 20], "/data/local/tmp/blob", cancellationToken: ct);
        lines.Add(FormattableString.Invariant($"push 4 MiB: {sw.Elapsed.TotalMilliseconds:F0} ms; load average at end: {PlatformProbe.LoadAverage()}"));
        await File.WriteAllLinesAsync(file, lines, ct);
    }
}
