using MnasNet.Latency.Backends;
using MnasNet.Latency.Measurement;
using MnasNet.SearchSpace;
using MnasNet.Torch;

namespace MnasNet.Latency.Tests;

public sealed class BackendTests
{
    private static readonly NetworkOptions Small = new(32, Classes: 10);
    private static readonly MeasurementProtocol Quick = new(Warmup: 2, Runs: 7);

    public BackendTests() => TorchRuntime.EnsureLoaded(threads: 1);

    public static TheoryData<string> RealBackends() => [OnnxRuntimeBackend.Name, TfliteBackend.Name, TorchSharpBackend.Name];

    [Theory]
    [MemberData(nameof(RealBackends))]
    public async Task A_real_backend_records_every_run_and_its_platform(string name)
    {
        await using var backend = LatencyBackends.Create(name, threads: 1);
        var m = await backend.MeasureAsync(ReferenceArchitectures.MnasNetA1, Small, Quick, TestContext.Current.CancellationToken);
        Assert.Equal(ReferenceArchitectures.MnasNetA1.Id, m.ArchitectureId);
        Assert.Equal(7, m.SamplesMs.Count);
        Assert.Equal(7, m.Runs);
        Assert.Equal(2, m.Warmup);
        Assert.Equal(1, m.Threads);
        Assert.Equal(StopReason.RunsCompleted, m.StopReason);
        Assert.All(m.SamplesMs, s => Assert.True(s > 0));
        Assert.Equal(Statistics.Median(m.SamplesMs), m.MedianMs);
        Assert.True(m.WallSeconds * 1000 >= m.SamplesMs.Sum());
        Assert.Equal(name, m.Platform.Backend);
        Assert.Equal(LatencySource.Measured, m.Platform.Source);
        Assert.Equal(Environment.ProcessorCount, m.Platform.Cores);
        Assert.False(string.IsNullOrWhiteSpace(m.Platform.CpuModel));
        Assert.NotEmpty(m.Platform.Libraries);
        Assert.Equal(backend.DeviceId, m.DeviceId);
    }

    [Fact]
    public async Task A_bigger_network_takes_longer_on_onnx_runtime()
    {
        await using var backend = new OnnxRuntimeBackend();
        var tiny = new Architecture(new StemSpec(8), [new BlockSpec(ConvOp.MBConv, 1, 3, 0, SkipOp.None, 8, 1, 2)], new HeadSpec(16));
        var small = await backend.MeasureAsync(tiny, new NetworkOptions(32, Classes: 10), Quick, TestContext.Current.CancellationToken);
        var large = await backend.MeasureAsync(ReferenceArchitectures.MobileNetV2, new NetworkOptions(96, Classes: 10), Quick, TestContext.Current.CancellationToken);
        // ~0.1 M vs ~55 M multiply-adds: even on a busy machine the order cannot flip.
        Assert.True(large.MedianMs > 5 * small.MedianMs, $"mobilenet-v2@96 {large.MedianMs} ms vs tiny {small.MedianMs} ms");
    }

    [Fact]
    public async Task Simulated_latency_is_deterministic_labelled_and_follows_the_cost()
    {
        await using var a = new SimulatedBackend(new SimulatedSettings(Seed: 4));
        await using var b = new SimulatedBackend(new SimulatedSettings(Seed: 4));
        await using var c = new SimulatedBackend(new SimulatedSettings(Seed: 5));
        var ct = TestContext.Current.CancellationToken;
        var arch = ReferenceArchitectures.MnasNetB1;
        var ma = await a.MeasureAsync(arch, NetworkOptions.ImageNet, Quick, ct);
        var mb = await b.MeasureAsync(arch, NetworkOptions.ImageNet, Quick, ct);
        var mc = await c.MeasureAsync(arch, NetworkOptions.ImageNet, Quick, ct);
        Assert.Equal(ma.SamplesMs, mb.SamplesMs);
        Assert.Equal(ma, mb with { SamplesMs = ma.SamplesMs, Statistics = ma.Statistics, Platform = ma.Platform });
        Assert.NotEqual(ma.SamplesMs, mc.SamplesMs);
        Assert.True(ma.Platform.IsSimulated);
        Assert.Contains("SIMULATED", ma.Platform.Details);
        Assert.InRange(ma.MedianMs, 0.8 * a.ExpectedMs(arch, NetworkOptions.ImageNet), 1.2 * a.ExpectedMs(arch, NetworkOptions.ImageNet));
        var smaller = await a.MeasureAsync(arch, new NetworkOptions(128), Quick, ct);
        Assert.True(smaller.MedianMs < ma.MedianMs);
    }

    [Fact]
    public async Task Simulated_noise_has_the_configured_spread_and_a_quiet_device_meets_a_cv_target_at_once()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var noisy = new SimulatedBackend(new SimulatedSettings(NoiseCv: 0.1));
        var m = await noisy.MeasureAsync(ReferenceArchitectures.MnasNetA1, Small, new MeasurementProtocol(0, 2000), ct);
        Assert.InRange(m.Cv, 0.09, 0.11);

        var target = new MeasurementProtocol(0, 10, CvTarget: 0.01, TimeBudget: TimeSpan.FromSeconds(10));
        await using var quiet = new SimulatedBackend(new SimulatedSettings(NoiseCv: 0.001));
        var q = await quiet.MeasureAsync(ReferenceArchitectures.MnasNetA1, Small, target, ct);
        Assert.Equal(StopReason.CvTargetMet, q.StopReason);
        Assert.True(q.CvTargetMet);
        var n = await noisy.MeasureAsync(ReferenceArchitectures.MnasNetA1, Small, target with { TimeBudget = TimeSpan.FromMilliseconds(50) }, ct);
        Assert.Equal(StopReason.TimeBudgetExhausted, n.StopReason);
        Assert.True(n.Rounds > 1);
    }

    public static TheoryData<string> AllBackends() => [OnnxRuntimeBackend.Name, TorchSharpBackend.Name, SimulatedBackend.Name];

    [Theory]
    [MemberData(nameof(AllBackends))]
    public async Task An_architecture_that_downsamples_below_one_pixel_is_too_large_for_the_resolution(string name)
    {
        await using var backend = LatencyBackends.Create(name);
        var e = await Assert.ThrowsAsync<ArchitectureTooLargeException>(() =>
            backend.MeasureAsync(ReferenceArchitectures.MnasNetA1, new NetworkOptions(16), Quick, TestContext.Current.CancellationToken));
        Assert.Contains("resolution 16", e.Message);
        Assert.Contains("at least 17", e.Message);
        await backend.MeasureAsync(ReferenceArchitectures.MnasNetA1, new NetworkOptions(17, Classes: 10), new MeasurementProtocol(0, 1), TestContext.Current.CancellationToken);
    }

    [Fact]
    public void An_activation_above_the_memory_limit_is_too_large()
    {
        var limits = new ResolutionLimits(MaxActivationBytes: 64L * 1024 * 1024);
        var e = Assert.Throws<ArchitectureTooLargeException>(() => limits.Check(ReferenceArchitectures.MobileNetV2, new NetworkOptions(1024)));
        Assert.Contains("MiB", e.Message);
        // 224×224: the largest tensor is 112×112×96 floats (4.6 MiB).
        Assert.Equal(112L * 112 * 96 * 4, ResolutionLimits.PeakActivationBytes(limits.Check(ReferenceArchitectures.MobileNetV2, NetworkOptions.ImageNet)));
    }

    [Fact]
    public async Task A_cancelled_measurement_throws()
    {
        await using var backend = new OnnxRuntimeBackend();
        using var cts = new CancellationTokenSource();
        await cts.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() =>
            backend.MeasureAsync(ReferenceArchitectures.MnasNetA1, Small, Quick, cts.Token));
    }

    [Fact]
    public async Task A_shared_backend_times_one_model_at_a_time()
    {
        await using var backend = new OnnxRuntimeBackend();
        var ct = TestContext.Current.CancellationToken;
        var tasks = Enumerable.Range(0, 3).Select(_ => backend.MeasureAsync(ReferenceArchitectures.MnasNetB1, Small, Quick, ct)).ToArray();
        var results = await Task.WhenAll(tasks);
        var spans = results.Select(r => (Start: r.StartedAt, End: r.StartedAt + TimeSpan.FromSeconds(r.WallSeconds))).OrderBy(s => s.Start).ToArray();
        for (var i = 1; i < spans.Length; i++)
        {
            Assert.True(spans[i].Start >= spans[i - 1].End - TimeSpan.FromMilliseconds(1), "measurements overlapped");
        }
    }

    [Theory]
    [InlineData("tensorflow")]
    [InlineData("")]
    [InlineData("onnxruntime:cores=2")]
    [InlineData("onnxruntime:threads=two")]
    [InlineData("table:")]
    [InlineData("simulated:model=phone")]
    public void Unknown_backends_and_settings_are_clear_errors(string spec)
    {
        var e = Assert.Throws<UnknownBackendException>(() => LatencyBackends.Create(spec));
        Assert.Contains("backend", e.Message);
    }

    [Fact]
    public void Unknown_backend_message_lists_the_known_ones()
    {
        var e = Assert.Throws<UnknownBackendException>(() => LatencyBackends.Create("tensorrt"));
        Assert.Contains("'tensorrt'", e.Message);
        Assert.Contains("onnxruntime, tflite, torchsharp, simulated, table:FILE", e.Message);
    }

    [Fact]
    public async Task Backend_specs_carry_settings()
    {
        await using var ort = (OnnxRuntimeBackend)LatencyBackends.Create("onnxruntime:threads=2");
        Assert.Equal(2, ort.Settings.IntraOpThreads);
        Assert.Equal(2, ort.Platform.Threads);
        await using var sim = (SimulatedBackend)LatencyBackends.Create("simulated:seed=9,noise=0.2", threads: 3);
        Assert.Equal(9UL, sim.Settings.Seed);
        Assert.Equal(0.2, sim.Settings.NoiseCv);
        Assert.Equal(3, sim.Platform.Threads);
    }
}
