using System.Text.Json;
using MnasNet.Cli;
using MnasNet.Latency.Backends;
using MnasNet.Latency.Table;
using MnasNet.SearchSpace;

namespace MnasNet.Cli.Tests;

public sealed class LatencyCommandTests : IDisposable
{
    private readonly DirectoryInfo _dir = Directory.CreateTempSubdirectory("mnasnet-cli-latency-");

    public void Dispose() => _dir.Delete(recursive: true);

    private string PathOf(string name) => Path.Combine(_dir.FullName, name);

    [Fact]
    public async Task Latency_json_on_onnx_runtime_has_the_contract_fields()
    {
        var r = await InProcessCli.RunAsync("latency", "--arch", "mnasnet-a1", "--resolution", "32", "--classes", "10", "--runs", "6", "--warmup", "2", "--json");
        Assert.Equal(ExitCodes.Success, r.ExitCode);
        using var doc = JsonDocument.Parse(r.Output);
        var root = doc.RootElement;
        Assert.True(root.GetProperty("medianMs").GetDouble() > 0);
        Assert.True(root.GetProperty("p90Ms").GetDouble() >= root.GetProperty("medianMs").GetDouble());
        Assert.True(root.GetProperty("cv").GetDouble() >= 0);
        Assert.Equal(6, root.GetProperty("runs").GetInt32());
        Assert.Equal(6, root.GetProperty("samplesMs").GetArrayLength());
        Assert.Equal(2, root.GetProperty("warmup").GetInt32());
        Assert.Equal(1, root.GetProperty("threads").GetInt32());
        Assert.Equal("onnxruntime", root.GetProperty("backend").GetString());
        Assert.Equal("Measured", root.GetProperty("platform").GetProperty("source").GetString());
        Assert.False(string.IsNullOrEmpty(root.GetProperty("platform").GetProperty("cpuModel").GetString()));
        Assert.Equal(ReferenceArchitectures.MnasNetA1.Id, root.GetProperty("architectureId").GetString());
    }

    [Fact]
    public async Task Latency_reads_tokens_and_runs_on_torchsharp_and_the_simulator()
    {
        var space = MnasNetSearchSpace.Default;
        var tokens = space.FormatTokens(space.Sample(new SeededRandom(3)));
        var torch = await InProcessCli.RunAsync("latency", "--arch", tokens, "--backend", "torchsharp", "--resolution", "32", "--runs", "3", "--warmup", "1");
        Assert.Equal(ExitCodes.Success, torch.ExitCode);
        Assert.Contains("median", torch.Output);
        Assert.Contains("torchsharp", torch.Output);
        var a = await InProcessCli.RunAsync("latency", "--arch", tokens, "--backend", "simulated:seed=4", "--json");
        var b = await InProcessCli.RunAsync("latency", "--arch", tokens, "--backend", "simulated:seed=4", "--json");
        Assert.Equal(ExitCodes.Success, a.ExitCode);
        using var docA = JsonDocument.Parse(a.Output);
        using var docB = JsonDocument.Parse(b.Output);
        Assert.Equal(docA.RootElement.GetProperty("medianMs").GetDouble(), docB.RootElement.GetProperty("medianMs").GetDouble());
        Assert.Equal("simulated", docA.RootElement.GetProperty("source").GetString());
    }

    [Theory]
    [InlineData("tensorrt", "unknown backend 'tensorrt'")]
    [InlineData("tflite:xnnpack=auto", "xnnpack must be on or off")]
    [InlineData("onnxruntime:cores=2", "unknown setting 'cores'")]
    [InlineData("table:", "needs a file")]
    public async Task A_bad_backend_is_a_clear_error_with_a_non_zero_exit(string backend, string expected)
    {
        var r = await InProcessCli.RunAsync("latency", "--arch", "mnasnet-a1", "--backend", backend);
        Assert.Equal(ExitCodes.InvalidInput, r.ExitCode);
        Assert.Contains(expected, r.Error);
        Assert.Equal("", r.Output);
    }

    [Fact]
    public async Task Input_errors_have_their_exit_codes()
    {
        var tooLarge = await InProcessCli.RunAsync("latency", "--arch", "mobilenet-v2", "--resolution", "16", "--backend", "simulated");
        Assert.Equal(ExitCodes.InvalidInput, tooLarge.ExitCode);
        Assert.Contains("too large for resolution 16", tooLarge.Error);

        var noArch = await InProcessCli.RunAsync("latency", "--backend", "simulated");
        Assert.Equal(ExitCodes.UsageError, noArch.ExitCode);

        var badRuns = await InProcessCli.RunAsync("latency", "--arch", "mnasnet-a1", "--backend", "simulated", "--runs", "0");
        Assert.Equal(ExitCodes.InvalidInput, badRuns.ExitCode);
        Assert.Contains("timed runs must be at least 1", badRuns.Error);

        var missingTable = await InProcessCli.RunAsync("latency", "--arch", "mnasnet-a1", "--backend", "table:" + PathOf("absent.json"));
        Assert.Equal(ExitCodes.NotFound, missingTable.ExitCode);
        Assert.Contains("absent.json", missingTable.Error);

        File.WriteAllText(PathOf("bad.json"), "{\"format\": \"something-else\"}");
        var badTable = await InProcessCli.RunAsync("latency-table", "evaluate", "--table", PathOf("bad.json"), "--samples", "3");
        Assert.Equal(ExitCodes.InvalidInput, badTable.ExitCode);
        Assert.Contains("unsupported format 'something-else'", badTable.Error);
    }

    [Fact]
    public async Task Export_writes_an_onnx_file_that_onnx_runtime_runs()
    {
        var path = PathOf("a1.onnx");
        var r = await InProcessCli.RunAsync("export", "--arch", "mnasnet-a1", "--format", "onnx", "--out", path, "--resolution", "32", "--classes", "7");
        Assert.Equal(ExitCodes.Success, r.ExitCode);
        Assert.Contains("opset 17", r.Output);
        var logits = OnnxInference.Run(File.ReadAllBytes(path), OnnxInference.RandomInput([1, 3, 32, 32], 1), [1, 3, 32, 32]);
        Assert.Equal(7, logits.Length);
        Assert.All(logits, v => Assert.True(float.IsFinite(v)));

        var badFormat = await InProcessCli.RunAsync("export", "--arch", "mnasnet-a1", "--format", "caffe", "--out", PathOf("x.caffe"));
        Assert.Equal(ExitCodes.InvalidInput, badFormat.ExitCode);
        Assert.Contains("unknown format 'caffe' (known: onnx, tflite)", badFormat.Error);
        Assert.False(File.Exists(PathOf("x.caffe")));
    }

    [Fact]
    public async Task Export_writes_a_tflite_file_that_the_tflite_interpreter_runs()
    {
        var path = PathOf("b1.tflite");
        var r = await InProcessCli.RunAsync("export", "--arch", "mnasnet-b1", "--format", "tflite", "--out", path, "--resolution", "32", "--classes", "7");
        Assert.Equal(ExitCodes.Success, r.ExitCode);
        Assert.Contains("[1, 32, 32, 3] (NHWC)", r.Output);
        Assert.Equal("TFL3", System.Text.Encoding.ASCII.GetString(File.ReadAllBytes(path), 4, 4));
        var logits = MnasNet.Latency.Tflite.TfliteInterpreter.Run(File.ReadAllBytes(path), new float[32 * 32 * 3]);
        Assert.Equal(7, logits.Length);
        Assert.All(logits, v => Assert.True(float.IsFinite(v)));

        var tooLarge = await InProcessCli.RunAsync("export", "--arch", "mnasnet-a1", "--format", "tflite", "--out", PathOf("small.tflite"), "--resolution", "8");
        Assert.Equal(ExitCodes.InvalidInput, tooLarge.ExitCode);
        Assert.Contains("too large for resolution 8", tooLarge.Error);
        Assert.False(File.Exists(PathOf("small.tflite")));

        var batched = await InProcessCli.RunAsync("export", "--arch", "mnasnet-a1", "--format", "tflite", "--out", PathOf("b.tflite"), "--batch", "0");
        Assert.Equal(ExitCodes.InvalidInput, batched.ExitCode);
        Assert.Contains("TFLite exports are batch 1", batched.Error);
    }

    [Fact]
    public async Task Latency_and_a_latency_table_on_tflite()
    {
        var r = await InProcessCli.RunAsync("latency", "--arch", "mnasnet-a1", "--backend", "tflite:xnnpack=on", "--resolution", "32", "--classes", "10", "--runs", "4", "--warmup", "1", "--json");
        Assert.Equal(ExitCodes.Success, r.ExitCode);
        using var doc = JsonDocument.Parse(r.Output);
        Assert.Equal("tflite", doc.RootElement.GetProperty("backend").GetString());
        Assert.Equal(4, doc.RootElement.GetProperty("samplesMs").GetArrayLength());
        Assert.StartsWith("2.9", doc.RootElement.GetProperty("platform").GetProperty("libraries").GetProperty("tflite").GetString());

        var path = PathOf("tflite.json");
        var build = await InProcessCli.RunAsync("latency-table", "build", "--backend", "tflite", "--out", path,
            "--resolution", "32", "--classes", "10", "--samples", "1", "--seed", "5", "--runs", "2", "--warmup", "1");
        Assert.Equal(ExitCodes.Success, build.ExitCode);
        var table = LatencyTable.Load(path);
        Assert.Equal("tflite", table.Platform.Backend);
        Assert.NotEmpty(table.Entries);
    }

    [Fact]
    public async Task Latency_table_build_then_evaluate_on_onnx_runtime()
    {
        var path = PathOf("ort.json");
        var build = await InProcessCli.RunAsync("latency-table", "build", "--backend", "onnxruntime", "--out", path,
            "--resolution", "32", "--classes", "10", "--samples", "3", "--seed", "5", "--runs", "2", "--warmup", "1");
        Assert.Equal(ExitCodes.Success, build.ExitCode);
        var table = LatencyTable.Load(path);
        Assert.Equal("onnxruntime", table.Platform.Backend);
        Assert.Equal(32, table.Options.Resolution);
        Assert.Contains($"{table.Entries.Count} layers", build.Output);

        var eval = await InProcessCli.RunAsync("latency-table", "evaluate", "--table", path, "--samples", "3", "--seed", "5", "--runs", "3", "--warmup", "1", "--json");
        Assert.Equal(ExitCodes.Success, eval.ExitCode);
        using var doc = JsonDocument.Parse(eval.Output);
        Assert.Equal(3, doc.RootElement.GetProperty("samples").GetInt32());
        Assert.True(doc.RootElement.GetProperty("mapePercent").GetDouble() >= 0);
        Assert.InRange(doc.RootElement.GetProperty("kendallTau").GetDouble(), -1, 1);

        var uncovered = await InProcessCli.RunAsync("latency-table", "evaluate", "--table", path, "--samples", "3", "--seed", "6");
        Assert.Equal(ExitCodes.InvalidInput, uncovered.ExitCode);
        Assert.Contains("no entry for layer", uncovered.Error);
    }

    [Fact]
    public async Task Latency_table_calibrate_fits_a_correction_that_evaluate_scores_on_held_out_architectures()
    {
        var path = PathOf("sim-cal.json");
        var corrected = PathOf("sim-corrected.json");
        var build = await InProcessCli.RunAsync("latency-table", "build", "--backend", "simulated:noise=0", "--out", path, "--resolution", "32", "--runs", "1", "--warmup", "0");
        Assert.Equal(ExitCodes.Success, build.ExitCode);

        var fastest = PathOf("sim-min.json");
        var minBuild = await InProcessCli.RunAsync("latency-table", "build", "--backend", "simulated:noise=0.1", "--out", fastest, "--resolution", "32", "--samples", "2", "--runs", "5", "--warmup", "0", "--estimator", "min");
        Assert.Equal(ExitCodes.Success, minBuild.ExitCode);
        var minTable = LatencyTable.Load(fastest);
        Assert.Equal(LatencyEstimator.Min, minTable.Estimator);
        Assert.All(minTable.Entries.Values, e => Assert.True(e.MinMs <= e.MedianMs));
        var badEstimator = await InProcessCli.RunAsync("latency-table", "build", "--backend", "simulated", "--out", PathOf("x.json"), "--estimator", "mode");
        Assert.Equal(ExitCodes.UsageError, badEstimator.ExitCode);
        Assert.Contains("mode", badEstimator.Error);

        var calibrate = await InProcessCli.RunAsync("latency-table", "calibrate", "--table", path, "--out", corrected, "--samples", "12", "--seed", "21",
            "--backend", "simulated:noise=0.05", "--runs", "5", "--warmup", "0");
        Assert.Equal(ExitCodes.Success, calibrate.ExitCode);
        Assert.Contains("on the 12 fitted networks", calibrate.Output);
        Assert.Contains("another --seed than 21", calibrate.Output);
        Assert.Contains("3 interleaved rounds", calibrate.Output);
        var table = LatencyTable.Load(corrected);
        Assert.Equal(12, table.Correction!.Architectures.Count);
        Assert.Equal(3, table.Correction.Rounds);
        Assert.Null(LatencyTable.Load(path).Correction);

        var eval = await InProcessCli.RunAsync("latency-table", "evaluate", "--table", corrected, "--samples", "10", "--seed", "22",
            "--backend", "simulated:noise=0.05", "--runs", "5", "--warmup", "0", "--json");
        Assert.Equal(ExitCodes.Success, eval.ExitCode);
        using var doc = JsonDocument.Parse(eval.Output);
        Assert.True(doc.RootElement.GetProperty("corrected").GetBoolean());
        Assert.Equal(10, doc.RootElement.GetProperty("heldOut").GetInt32());
        Assert.True(doc.RootElement.GetProperty("mapePercent").GetDouble() < 10);
        Assert.Equal(3, doc.RootElement.GetProperty("rounds").GetInt32());
        Assert.InRange(doc.RootElement.GetProperty("speedFactor").GetDouble(), 0.8, 1.25);
        Assert.True(doc.RootElement.GetProperty("scaledMapePercent").GetDouble() <= doc.RootElement.GetProperty("mapePercent").GetDouble() + 1);

        var onFitted = await InProcessCli.RunAsync("latency-table", "evaluate", "--table", corrected, "--samples", "4", "--seed", "21", "--backend", "simulated:noise=0");
        Assert.Equal(ExitCodes.InvalidInput, onFitted.ExitCode);
        Assert.Contains("evaluate with another --seed", onFitted.Error);

        var tooFew = await InProcessCli.RunAsync("latency-table", "calibrate", "--table", path, "--samples", "3");
        Assert.Equal(ExitCodes.InvalidInput, tooFew.ExitCode);
        Assert.Contains("--samples must be at least 8", tooFew.Error);
        var badRidge = await InProcessCli.RunAsync("latency-table", "calibrate", "--table", path, "--ridge", "-1");
        Assert.Equal(ExitCodes.InvalidInput, badRidge.ExitCode);
        Assert.Contains("--ridge must be a positive number, got -1", badRidge.Error);
        var noRounds = await InProcessCli.RunAsync("latency-table", "evaluate", "--table", corrected, "--rounds", "0");
        Assert.Equal(ExitCodes.InvalidInput, noRounds.ExitCode);
        Assert.Contains("--rounds must be between 1 and 100, got 0", noRounds.Error);
    }

    [Fact]
    public async Task A_simulated_table_of_the_whole_space_predicts_the_simulator_exactly()
    {
        var path = PathOf("sim.json");
        var build = await InProcessCli.RunAsync("latency-table", "build", "--backend", "simulated:noise=0", "--out", path, "--resolution", "32", "--runs", "1", "--warmup", "0");
        Assert.Equal(ExitCodes.Success, build.ExitCode);
        var eval = await InProcessCli.RunAsync("latency-table", "evaluate", "--table", path, "--samples", "20", "--backend", "simulated:noise=0", "--runs", "1", "--warmup", "0");
        Assert.Equal(ExitCodes.Success, eval.ExitCode);
        Assert.Contains("MAPE 0.00%, Kendall tau 1.000 on 20 random architectures", eval.Output);

        var predicted = await InProcessCli.RunAsync("latency", "--arch", "mobilenet-v2", "--backend", "table:" + path, "--resolution", "32", "--json");
        Assert.Equal(ExitCodes.Success, predicted.ExitCode);
        using var doc = JsonDocument.Parse(predicted.Output);
        Assert.Equal("predicted", doc.RootElement.GetProperty("source").GetString());
        var expected = new SimulatedBackend(new SimulatedSettings(NoiseCv: 0)).ExpectedMs(ReferenceArchitectures.MobileNetV2, new NetworkOptions(32));
        Assert.Equal(expected, doc.RootElement.GetProperty("medianMs").GetDouble(), 9);

        var fromTable = await InProcessCli.RunAsync("latency-table", "build", "--backend", "table:" + path, "--out", PathOf("again.json"), "--resolution", "32");
        Assert.Equal(ExitCodes.InvalidInput, fromTable.ExitCode);
        Assert.Contains("cannot be built from another table", fromTable.Error);
    }

    [Fact]
    public async Task Bench_latency_prints_figures_for_each_architecture_and_backend()
    {
        var r = await InProcessCli.RunAsync("bench", "latency", "--arch", "mnasnet-b1", "--backend", "simulated", "onnxruntime", "--resolution", "32",
            "--repeats", "2", "--runs", "3", "--warmup", "1", "--no-table", "--json");
        Assert.Equal(ExitCodes.Success, r.ExitCode);
        using var doc = JsonDocument.Parse(r.Output);
        var rows = doc.RootElement.GetProperty("measurements");
        Assert.Equal(2, rows.GetArrayLength());
        Assert.All(rows.EnumerateArray(), row => Assert.Equal(2, row.GetProperty("mediansMs").GetArrayLength()));
        Assert.Contains("mnasnet-b1 on onnxruntime", r.Error);
    }
}
