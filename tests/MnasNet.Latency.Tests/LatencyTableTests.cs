using MnasNet.Latency.Backends;
using MnasNet.Latency.Measurement;
using MnasNet.Latency.Table;
using MnasNet.SearchSpace;
using MnasNet.Torch;

namespace MnasNet.Latency.Tests;

public sealed class LatencyTableTests : IDisposable
{
    private static readonly NetworkOptions Small = new(32, Classes: 10);
    private readonly DirectoryInfo _dir = Directory.CreateTempSubdirectory("mnasnet-table-");

    public LatencyTableTests() => TorchRuntime.EnsureLoaded(threads: 1);

    public void Dispose() => _dir.Delete(recursive: true);

    private static Architecture[] Samples(int n, ulong seed)
    {
        var space = MnasNetSearchSpace.Default;
        var random = new SeededRandom(seed);
        return Enumerable.Range(0, n).Select(_ => space.Decode(space.Sample(random))).ToArray();
    }

    [Fact]
    public void The_search_space_enumeration_covers_every_layer_of_sampled_architectures()
    {
        var space = MnasNetSearchSpace.Default;
        var keys = LatencyTableBuilder.SearchSpaceLayers(space, Small).Select(l => l.Key).ToHashSet();
        Assert.Equal(keys.Count, LatencyTableBuilder.SearchSpaceLayers(space, Small).Count);
        foreach (var arch in Samples(200, 1).Concat(ReferenceArchitectures.ByName.Values.Where(a => space.TryEncode(a, out _))))
        {
            foreach (var layer in CostModel.Compute(arch, Small).Layers)
            {
                Assert.Contains(layer.Key, keys);
            }
        }
        // 7 blocks × 5 ops × 2 kernels × 2 SE × 3 skips × 3 filters, ×3 input widths for first layers, minus equal keys.
        Assert.InRange(keys.Count, 1000, 7 * 180 * 4 + 3);
    }

    [Fact]
    public async Task A_table_built_on_a_noise_free_simulated_device_predicts_it_exactly_after_a_file_round_trip()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var device = new SimulatedBackend(new SimulatedSettings(NoiseCv: 0));
        var archs = Samples(6, 2);
        var layers = LatencyTableBuilder.DistinctLayers(archs, Small);
        var progress = new List<TableBuildProgress>();
        var table = await LatencyTableBuilder.BuildAsync(device, layers, Small, new MeasurementProtocol(0, 3), new SyncProgress<TableBuildProgress>(progress.Add), ct);
        Assert.Equal(layers.Count, table.Entries.Count);
        Assert.Equal(layers.Count, progress.Count);
        Assert.Equal(device.Settings.CallOverheadMs, table.CallOverheadMs);

        var path = Path.Combine(_dir.FullName, "sim.json");
        table.Save(path);
        var loaded = LatencyTable.Load(path);
        Assert.Equal(LatencyTable.CurrentFormat, loaded.Format);
        Assert.Equal(device.Platform.Summary, loaded.Platform.Summary);
        Assert.True(loaded.Platform.IsSimulated);
        foreach (var arch in archs)
        {
            var predicted = loaded.Predict(arch, Small);
            Assert.Equal(device.ExpectedMs(arch, Small), predicted.TotalMs, 9);
            Assert.Equal(CostModel.Compute(arch, Small).Layers.Count, predicted.Layers.Count);
        }

        var evaluation = await LatencyTableEvaluator.EvaluateAsync(loaded, device, samples: 5, seed: 2, new MeasurementProtocol(0, 1), cancellationToken: ct);
        Assert.Equal(0, evaluation.MapePercent, 9);
        Assert.Equal(1, evaluation.KendallTau, 9);

        await using var asBackend = LatencyBackends.Create("table:" + path);
        var m = await asBackend.MeasureAsync(archs[0], Small, MeasurementProtocol.Default, ct);
        Assert.Equal(LatencySource.Predicted, m.Platform.Source);
        Assert.Equal(device.ExpectedMs(archs[0], Small), m.MedianMs, 9);
        Assert.Equal(1, m.Runs);
    }

    [Fact]
    public async Task A_correction_fitted_on_some_networks_removes_a_systematic_error_on_held_out_ones()
    {
        var ct = TestContext.Current.CancellationToken;
        // Layers timed on one device, networks run on one whose memory is twice as slow and whose call costs more:
        // the per-layer sum under-predicts by an amount linear in the bytes a network moves.
        await using var layerDevice = new SimulatedBackend(new SimulatedSettings(NoiseCv: 0));
        await using var networkDevice = new SimulatedBackend(new SimulatedSettings(BytesPerMs: 4e6, CallOverheadMs: 0.05, NoiseCv: 0));
        const ulong fitSeed = 11, heldOutSeed = 12;
        var table = await LatencyTableBuilder.BuildAsync(layerDevice, LatencyTableBuilder.DistinctLayers(Samples(30, fitSeed).Concat(Samples(20, heldOutSeed)), Small),
            Small, new MeasurementProtocol(0, 1), cancellationToken: ct);
        var plain = await LatencyTableEvaluator.EvaluateAsync(table, networkDevice, 20, heldOutSeed, new MeasurementProtocol(0, 1), cancellationToken: ct);
        Assert.False(plain.Corrected);
        Assert.True(plain.MapePercent > 10, $"uncorrected MAPE {plain.MapePercent:F1}%");

        // Noise-free measurements: a light ridge lets the fit reach the linear law (the default is for noisy hosts).
        var (corrected, fitted) = await LatencyTableCalibrator.CalibrateAsync(table, networkDevice, 30, fitSeed, new MeasurementProtocol(0, 1), ridge: 1e-5, cancellationToken: ct);
        Assert.Equal(30, fitted.Count);
        var c = corrected.Correction!;
        Assert.True(c.TableMapePercent > 10, $"per-layer sum MAPE on the fitted networks {c.TableMapePercent:F1}%");
        Assert.True(c.FitMapePercent < 0.5, $"fit MAPE {c.FitMapePercent:F2}%");
        var path = Path.Combine(_dir.FullName, "corrected.json");
        corrected.Save(path);
        var loaded = LatencyTable.Load(path);
        Assert.Equal(c.Coefficients, loaded.Correction!.Coefficients);

        var heldOut = await LatencyTableEvaluator.EvaluateAsync(loaded, networkDevice, 20, heldOutSeed, new MeasurementProtocol(0, 1), cancellationToken: ct);
        Assert.True(heldOut.Corrected);
        Assert.Equal(20, heldOut.HeldOut);
        Assert.True(heldOut.MapePercent < 0.5, $"held-out MAPE {heldOut.MapePercent:F2}% (uncorrected {plain.MapePercent:F1}%)");
        Assert.True(heldOut.KendallTau > 0.95, $"held-out tau {heldOut.KendallTau:F3}");
        Assert.Equal(plain.MapePercent, heldOut.TableSumMapePercent, 9);
        foreach (var arch in Samples(3, heldOutSeed))
        {
            var p = loaded.Predict(arch, Small);
            Assert.Equal(table.Predict(arch, Small).TotalMs, p.TableSumMs, 12);
            Assert.Equal(networkDevice.ExpectedMs(arch, Small), p.TotalMs, networkDevice.ExpectedMs(arch, Small) * 0.01);
        }

        await using var asBackend = new TableBackend(loaded, "corrected.json");
        Assert.Contains("corrected by a fit on 30 networks", asBackend.Platform.Details);
        var onFitted = Assert.Throws<ArgumentException>(() => LatencyTableEvaluator.EvaluateAsync(loaded, networkDevice, 5, fitSeed, new MeasurementProtocol(0, 1), cancellationToken: ct).GetAwaiter().GetResult());
        Assert.Contains("another --seed", onFitted.Message);
    }

    [Theory]
    [InlineData(LatencyEstimator.Min)]
    [InlineData(LatencyEstimator.Median)]
    public async Task Rounds_measure_every_network_once_per_round_in_turn_and_take_the_estimator_over_the_rounds(LatencyEstimator estimator)
    {
        var ct = TestContext.Current.CancellationToken;
        await using var layerDevice = new SimulatedBackend(new SimulatedSettings(NoiseCv: 0));
        // A simulated device repeats its samples for the same inputs: each round of a network is timed by another seed.
        await using var noisy = new RecordingBackend([.. Enumerable.Range(0, 3).Select(s => new SimulatedBackend(new SimulatedSettings(NoiseCv: 0.2, Seed: (ulong)s)))]);
        var table = await LatencyTableBuilder.BuildAsync(layerDevice, LatencyTableBuilder.DistinctLayers(Samples(4, 21).Concat(Samples(8, 22)), Small), Small,
            new MeasurementProtocol(0, 1), cancellationToken: ct, estimator: estimator);

        var evaluation = await LatencyTableEvaluator.EvaluateAsync(table, noisy, 4, 21, new MeasurementProtocol(0, 3), cancellationToken: ct, rounds: 3);

        Assert.Equal(3, evaluation.Rounds);
        var order = Samples(4, 21).Select(a => a.Id).ToArray();
        Assert.Equal([.. order, .. order, .. order], noisy.Measured.Select(m => m.ArchitectureId));
        for (var i = 0; i < order.Length; i++)
        {
            var rounds = noisy.Measured.Where(m => m.ArchitectureId == order[i]).Select(m => table.EstimateOf(m.Statistics)).ToArray();
            Assert.Equal(3, rounds.Distinct().Count());
            var expected = estimator == LatencyEstimator.Min ? rounds.Min() : rounds.Order().ElementAt(1);
            Assert.Equal(expected, evaluation.Points[i].MeasuredMs);
        }
        var (corrected, _) = await LatencyTableCalibrator.CalibrateAsync(table, noisy, 8, 22, new MeasurementProtocol(0, 3), cancellationToken: ct, rounds: 2);
        Assert.Equal(2, corrected.Correction!.Rounds);
        Assert.Throws<ArgumentException>(() => LatencyTableEvaluator.EvaluateAsync(table, noisy, 4, 21, new MeasurementProtocol(0, 3), cancellationToken: ct, rounds: 0).GetAwaiter().GetResult());
    }

    /// <summary>A device that keeps every measurement it gave, in order; the k-th measurement of a network is taken by <c>devices[k % n]</c>.</summary>
    private sealed class RecordingBackend(IReadOnlyList<SimulatedBackend> devices) : ILatencyBackend
    {
        public List<LatencyMeasurement> Measured { get; } = [];

        public string DeviceId => devices[0].DeviceId;

        public PlatformDescription Platform => devices[0].Platform;

        public async Task<LatencyMeasurement> MeasureAsync(Architecture architecture, NetworkOptions options, MeasurementProtocol protocol, CancellationToken cancellationToken = default)
        {
            var device = devices[Measured.Count(m => m.ArchitectureId == architecture.Id) % devices.Count];
            var m = await device.MeasureAsync(architecture, options, protocol, cancellationToken);
            Measured.Add(m);
            return m;
        }

        public async ValueTask DisposeAsync()
        {
            foreach (var device in devices)
            {
                await device.DisposeAsync();
            }
        }
    }

    [Fact]
    public void A_device_that_runs_uniformly_slower_is_a_speed_factor_not_a_shape_error()
    {
        double[] predicted = [1.0, 2.0, 4.0, 8.0, 3.0];
        var slower = predicted.Select(x => 1.25 * x).ToArray();
        var (factor, scaled) = LatencyTableEvaluator.AfterSpeedFactor(predicted, slower);
        Assert.Equal(1.25, factor, 12);
        Assert.Equal(0, scaled, 9);
        Assert.Equal(20, Statistics.MeanAbsolutePercentageError(predicted, slower), 9);

        // One network off by half after the drift: the median ratio ignores it, and only it adds to the MAPE.
        var shaped = slower.ToArray();
        shaped[2] *= 2;
        (factor, scaled) = LatencyTableEvaluator.AfterSpeedFactor(predicted, shaped);
        Assert.Equal(1.25, factor, 12);
        Assert.Equal(100.0 * 0.5 / 5, scaled, 9);
    }

    [Fact]
    public void Relative_least_squares_recovers_a_linear_law_and_holds_an_absent_feature_at_its_prior()
    {
        var random = new SeededRandom(3);
        double[] truth = [2.0, 0.5, 0, 0.01];
        var x = Enumerable.Range(0, 40).Select(_ => new[] { 1 + random.NextDouble(), 10 * random.NextDouble(), 0.0, 1.0 }).ToArray();
        var y = x.Select(r => r.Zip(truth, (a, b) => a * b).Sum()).ToArray();
        var fit = RelativeLeastSquares.Fit(x, y, prior: [1, 1, 7, 0], ridge: 1e-9);
        Assert.Equal(2.0, fit[0], 4);
        Assert.Equal(0.5, fit[1], 4);
        Assert.Equal(7.0, fit[2], 6);
        Assert.Equal(0.01, fit[3], 4);
        Assert.Throws<ArgumentException>(() => RelativeLeastSquares.Fit(x, y.Take(3).ToArray(), [1, 1, 1, 0], 0.01));
        Assert.Throws<ArgumentException>(() => RelativeLeastSquares.Fit(x, y, [1, 1, 1, 0], ridge: 0));
    }

    [Fact]
    public async Task A_table_measured_on_onnx_runtime_ranks_architectures_like_onnx_runtime()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var device = new OnnxRuntimeBackend();
        var tiny = new Architecture(new StemSpec(8), [new BlockSpec(ConvOp.MBConv, 1, 3, 0, SkipOp.None, 8, 1, 2)], new HeadSpec(16));
        var big = ReferenceArchitectures.MnasNetA1;
        var options = new NetworkOptions(64, Classes: 10);
        var protocol = new MeasurementProtocol(Warmup: 2, Runs: 5);
        var table = await LatencyTableBuilder.BuildAsync(device, LatencyTableBuilder.DistinctLayers([tiny, big], options), options, protocol, cancellationToken: ct);
        Assert.Equal(OnnxRuntimeBackend.Name, table.Platform.Backend);
        Assert.True(table.CallOverheadMs > 0);
        Assert.All(table.Entries.Values, e => Assert.True(e.MedianMs > 0 && e.Runs == 5));
        var predictedBig = table.Predict(big, options).TotalMs;
        var predictedTiny = table.Predict(tiny, options).TotalMs;
        // The accuracy of the sum is a benchmark figure (bench latency), not a test: other processes share the cores.
        Assert.True(predictedBig > 3 * predictedTiny, $"a1 {predictedBig} ms vs tiny {predictedTiny} ms");
        Assert.Equal(CostModel.Compute(big, options).Layers.Count, table.Predict(big, options).Layers.Count);
    }

    [Fact]
    public async Task A_table_built_on_torchsharp_holds_every_layer()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var device = new TorchSharpBackend();
        var arch = OnnxExportTests.Coverage;
        var options = new NetworkOptions(40, Classes: 10);
        var table = await LatencyTableBuilder.BuildAsync(device, LatencyTableBuilder.DistinctLayers([arch], options), options, new MeasurementProtocol(1, 3), cancellationToken: ct);
        Assert.Equal(TorchSharpBackend.Name, table.Platform.Backend);
        Assert.True(table.Predict(arch, options).TotalMs > table.CallOverheadMs);
    }

    [Fact]
    public void A_missing_layer_or_other_options_are_clear_errors()
    {
        var table = SimulatedTable(Samples(1, 3));
        var other = Samples(1, 4)[0];
        var e = Assert.Throws<LatencyTableException>(() => table.Predict(ReferenceArchitectures.MnasNetA1, Small));
        Assert.Contains("no entry for layer", e.Message);
        e = Assert.Throws<LatencyTableException>(() => table.Predict(other, new NetworkOptions(64, Classes: 10)));
        Assert.Contains("built for resolution 32", e.Message);
    }

    public static TheoryData<string, string> BadFiles() => new()
    {
        { "not json {", "not a valid table" },
        { "[1, 2]", "not a JSON object" },
        { "{\"entries\": {}}", "missing 'format'" },
        { "{\"format\": \"mnasnet-latency-table/v0\"}", "unsupported format 'mnasnet-latency-table/v0'" },
        { "{\"format\": \"mnasnet-latency-table/v1\"}", "missing 'platform'" },
        { "{\"format\": \"mnasnet-latency-table/v1\", \"entries\": {\"k\": {\"medianMs\": \"fast\"}}}", "not a valid table" },
    };

    [Fact]
    public void A_table_with_a_broken_correction_is_rejected()
    {
        var table = SimulatedTable(Samples(1, 6));
        var correction = new TableCorrection(TableCorrection.LinearModel, NetworkFeatures.Names, NetworkFeatures.Identity(0.01), "simulated", 8, 1, 0.01, 1, 2, [], DateTimeOffset.UnixEpoch);
        var path = Path.Combine(_dir.FullName, "c.json");
        (table with { Correction = correction with { Coefficients = [1, 2] } }).Save(path);
        Assert.Contains("needs 8 finite coefficients", Assert.Throws<LatencyTableException>(() => LatencyTable.Load(path)).Message);
        (table with { Correction = correction with { Model = "neural/v9" } }).Save(path);
        Assert.Contains("unsupported model 'neural/v9'", Assert.Throws<LatencyTableException>(() => LatencyTable.Load(path)).Message);
        (table with { Correction = correction }).Save(path);
        var arch = Samples(1, 6)[0];
        Assert.Equal(table.Predict(arch, Small).TotalMs, LatencyTable.Load(path).Predict(arch, Small).TotalMs, 9);
        table.Save(path);
        Assert.DoesNotContain("correction", File.ReadAllText(path));
        var median = table.Predict(arch, Small).TotalMs;
        var fastest = table with { Estimator = LatencyEstimator.Min, Entries = table.Entries.ToDictionary(e => e.Key, e => e.Value with { MinMs = e.Value.MedianMs / 2 }) };
        Assert.True(fastest.Predict(arch, Small).TotalMs < median);
        (fastest with { Entries = table.Entries.ToDictionary(e => e.Key, e => e.Value with { MinMs = null }) }).Save(path);
        Assert.Contains("minMs must be a positive number (the table's estimator is 'min')", Assert.Throws<LatencyTableException>(() => LatencyTable.Load(path)).Message);
    }

    [Theory]
    [MemberData(nameof(BadFiles))]
    public void A_bad_table_file_is_a_clear_error(string content, string expected)
    {
        var path = Path.Combine(_dir.FullName, "bad.json");
        File.WriteAllText(path, content);
        var e = Assert.Throws<LatencyTableException>(() => LatencyTable.Load(path));
        Assert.Contains(expected, e.Message);
        Assert.Contains(path, e.Message);
    }

    [Fact]
    public void A_table_with_a_non_positive_latency_or_no_entries_is_rejected()
    {
        var table = SimulatedTable(Samples(1, 5));
        var path = Path.Combine(_dir.FullName, "t.json");
        File.WriteAllText(path, table.ToJson().Replace("\"medianMs\": ", "\"medianMs\": -", StringComparison.Ordinal));
        Assert.Contains("medianMs must be a positive number", Assert.Throws<LatencyTableException>(() => LatencyTable.Load(path)).Message);
        (table with { Entries = new Dictionary<string, LatencyTableEntry>() }).Save(path);
        Assert.Contains("no entries", Assert.Throws<LatencyTableException>(() => LatencyTable.Load(path)).Message);
        Assert.Contains("cannot read", Assert.Throws<LatencyTableException>(() => LatencyTable.Load(Path.Combine(_dir.FullName, "absent.json"))).Message);
        Assert.Throws<LatencyTableException>(() => LatencyBackends.Create("table:" + Path.Combine(_dir.FullName, "absent.json")));
    }

    private static LatencyTable SimulatedTable(IEnumerable<Architecture> archs)
    {
        var device = new SimulatedBackend(new SimulatedSettings(NoiseCv: 0));
        return LatencyTableBuilder.BuildAsync(device, LatencyTableBuilder.DistinctLayers(archs, Small), Small, new MeasurementProtocol(0, 1)).GetAwaiter().GetResult();
    }

    private sealed class SyncProgress<T>(Action<T> report) : IProgress<T>
    {
        public void Report(T value) => report(value);
    }
}
