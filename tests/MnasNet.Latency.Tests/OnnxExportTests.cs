using System.Diagnostics;
using MnasNet.Latency.Backends;
using MnasNet.Latency.Onnx;
using MnasNet.SearchSpace;
using MnasNet.Torch;
using MnasNet.Training.Models;
using TorchSharp;
using TorchSharp.Modules;

namespace MnasNet.Latency.Tests;

public sealed class OnnxExportTests
{
    public OnnxExportTests() => TorchRuntime.EnsureLoaded(threads: 1);

    /// <summary>
    /// Every skip and op variant: pool skips that add channels with a stride (and a partial ceil-mode window at
    /// 5×5 → 3×3), that drop channels with and without a stride, SE on conv, sepconv and mbconv, identity skips.
    /// </summary>
    internal static Architecture Coverage { get; } = new(new StemSpec(16, 3, 2),
    [
        new(ConvOp.Conv, 1, 3, 0.25, SkipOp.Pool, 24, 2, 2),
        new(ConvOp.SepConv, 1, 5, 0.25, SkipOp.Pool, 16, 2, 1),
        new(ConvOp.MBConv, 3, 5, 0, SkipOp.Pool, 32, 1, 2),
        new(ConvOp.MBConv, 6, 3, 0.25, SkipOp.Identity, 32, 2, 1),
        new(ConvOp.MBConv, 1, 3, 0, SkipOp.Pool, 24, 1, 2),
    ], new HeadSpec(64));

    public static TheoryData<string, int> Cases() => new()
    {
        { "coverage", 40 },
        { "mnasnet-a1", 64 },
        { "mnasnet-b1", 48 },
        { "mobilenet-v2", 33 },
        { "sample:1", 32 },
        { "sample:2", 40 },
        { "sample:3", 48 },
        { "sample:4", 36 },
    };

    internal static Architecture Resolve(string name) => name switch
    {
        "coverage" => Coverage,
        _ when name.StartsWith("sample:", StringComparison.Ordinal) =>
            MnasNetSearchSpace.Default.Decode(MnasNetSearchSpace.Default.Sample(new SeededRandom(ulong.Parse(name[7..], System.Globalization.CultureInfo.InvariantCulture)))),
        _ => ReferenceArchitectures.ByName[name],
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void Onnx_runtime_output_equals_torchsharp_eval_output(string name, int resolution)
    {
        var options = new NetworkOptions(resolution, Classes: 10);
        using var scope = torch.NewDisposeScope();
        TorchRuntime.Seed(7);
        using var model = MnasNetModel.Build(Resolve(name), options);
        RandomizeBatchNorm(model, seed: 11);
        model.eval();
        long[] shape = [2, 3, resolution, resolution];
        var input = OnnxInference.RandomInput(shape, seed: 3);

        var onnx = OnnxExporter.ToBytes(OnnxExporter.Export(model, new OnnxExportOptions(Batch: 2)));
        var actual = OnnxInference.Run(onnx, input, shape);

        using var inference = torch.inference_mode();
        var expected = model.call(torch.tensor(input, shape)).data<float>().ToArray();
        AssertClose(expected, actual);
    }

    [Theory]
    [InlineData("sample:8", 64)]
    [InlineData("sample:9", 96)]
    [InlineData("mnasnet-a1", 96)]
    public void Random_weight_exports_keep_activations_at_trained_scale(string name, int resolution)
    {
        // Without BatchNorm calibration these logits are ~1e-7 to 1e-14: the activations pass through denormals,
        // which are far slower on x86 and would distort every latency measured on random weights.
        var options = new NetworkOptions(resolution);
        long[] shape = [1, 3, resolution, resolution];
        var logits = OnnxInference.Run(OnnxExporter.ToBytes(OnnxExporter.Export(Resolve(name), options, seed: 2)), OnnxInference.RandomInput(shape, 4), shape);
        var scale = logits.Max(Math.Abs);
        Assert.InRange(scale, 0.01, 1000);
    }

    [Fact]
    public void The_coverage_architecture_has_every_skip_and_op_variant()
    {
        var layers = CostModel.Compute(Coverage, new NetworkOptions(40)).Layers;
        Assert.Contains(layers, l => l.Skip == SkipOp.Pool && l.HasResidual && l.Stride == 2 && l.OutputChannels > l.InputChannels && l.InputSize % 2 == 0);
        Assert.Contains(layers, l => l.Skip == SkipOp.Pool && l.Stride == 2 && l.OutputChannels < l.InputChannels && l.InputSize % 2 == 1);
        Assert.Contains(layers, l => l.Skip == SkipOp.Pool && l.Stride == 1 && l.OutputChannels < l.InputChannels);
        Assert.Contains(layers, l => l.Skip == SkipOp.Identity && l.HasResidual);
        Assert.Contains(layers, l => l.Kind == LayerKind.Conv && l.SeChannels > 0);
        Assert.Contains(layers, l => l.Kind == LayerKind.SepConv && l.SeChannels > 0);
        Assert.Contains(layers, l => l.Kind == LayerKind.MBConv && l.Expansion == 6 && l.SeChannels > 0);
    }

    [Fact]
    public void Single_layer_models_equal_the_torchsharp_layer()
    {
        var options = new NetworkOptions(40, Classes: 10);
        foreach (var layer in LayerConfiguration.Of(Coverage, options))
        {
            using var scope = torch.NewDisposeScope();
            var onnx = OnnxExporter.ToBytes(OnnxRuntimeBackend.ExportLayer(layer, seed: 5));
            TorchRuntime.Seed(5);
            using var module = layer.BuildModule();
            RandomWeights.CalibrateBatchNorm(module, layer.InputShape, seed: 5);
            var input = OnnxInference.RandomInput(layer.InputShape, seed: 9);
            var actual = OnnxInference.Run(onnx, input, layer.InputShape);
            using var inference = torch.inference_mode();
            var expected = module.call(torch.tensor(input, layer.InputShape)).data<float>().ToArray();
            AssertClose(expected, actual);
        }
    }

    [Fact]
    public void Folding_batchnorm_scales_weights_per_output_channel()
    {
        // Two output channels of two weights each, ε = 1: γ=2, σ²=3 → scale 1; γ=4, σ²=3 → scale 2.
        var (w, b) = FoldedWeights.FoldBatchNorm([1, 2, 3, 4], [2, 4], [0.5f, -1], [1, 2], [3, 3], 1);
        Assert.Equal([1, 2, 6, 8], w);
        Assert.Equal(new float[] { 0.5f - 1, -1 - 4 }, b);
    }

    [Fact]
    public void Exported_files_pass_the_onnx_checker()
    {
        var python = OnnxChecker.FindPython();
        if (python is null)
        {
            Assert.Skip("python3-onnx is not installed (apt-get install -y python3-onnx); CI installs it");
        }
        var dir = Directory.CreateTempSubdirectory("mnasnet-onnx-");
        try
        {
            var model = OnnxExporter.Export(Coverage, new NetworkOptions(40, Classes: 10), seed: 1);
            Assert.Equal(8, model.IrVersion);
            Assert.Equal(17, model.OpsetImport.Single().Version);
            var ops = model.Graph.Node.Select(n => n.OpType).ToHashSet();
            foreach (var op in new[] { "Conv", "Relu", "GlobalAveragePool", "Sigmoid", "Mul", "AveragePool", "Pad", "Slice", "Add", "Flatten", "Gemm" })
            {
                Assert.Contains(op, ops);
            }
            Assert.DoesNotContain("BatchNormalization", ops);
            var paths = new List<string>();
            var full = Path.Combine(dir.FullName, "coverage.onnx");
            OnnxExporter.Save(model, full);
            paths.Add(full);
            var a1 = Path.Combine(dir.FullName, "a1.onnx");
            OnnxExporter.Save(OnnxExporter.Export(ReferenceArchitectures.MnasNetA1, new NetworkOptions(32), seed: 1, new OnnxExportOptions(Batch: 0)), a1);
            paths.Add(a1);
            var layer = Path.Combine(dir.FullName, "layer.onnx");
            OnnxExporter.Save(OnnxRuntimeBackend.ExportLayer(LayerConfiguration.Of(Coverage, new NetworkOptions(40))[1]), layer);
            paths.Add(layer);
            foreach (var path in paths)
            {
                var (code, output) = OnnxChecker.Check(python, path);
                Assert.True(code == 0, $"onnx.checker rejected {Path.GetFileName(path)}: {output}");
            }

            // The checker is not a rubber stamp: a graph whose node reads an undefined value fails it.
            model.Graph.Node[0].Input[0] = "nowhere";
            var broken = Path.Combine(dir.FullName, "broken.onnx");
            OnnxExporter.Save(model, broken);
            Assert.NotEqual(0, OnnxChecker.Check(python, broken).ExitCode);
        }
        finally
        {
            dir.Delete(recursive: true);
        }
    }

    internal static void RandomizeBatchNorm(MnasNetModel model, long seed)
    {
        using var noGrad = torch.no_grad();
        var generator = new torch.Generator((ulong)seed);
        foreach (var (_, module) in model.named_modules())
        {
            if (module is BatchNorm2d bn)
            {
                var n = bn.running_mean!.shape[0];
                bn.running_mean!.copy_(torch.randn([n], generator: generator) * 0.1);
                bn.running_var!.copy_(torch.rand([n], generator: generator) + 0.5);
                bn.weight!.copy_(torch.rand([n], generator: generator) + 0.5);
                bn.bias!.copy_(torch.randn([n], generator: generator) * 0.1);
            }
        }
    }

    internal static void AssertClose(float[] expected, float[] actual)
    {
        Assert.Equal(expected.Length, actual.Length);
        var scale = Math.Max(1, expected.Max(Math.Abs));
        var worst = expected.Zip(actual, (e, a) => Math.Abs(e - a)).Max();
        Assert.True(worst <= 1e-4 * scale, $"max |torch − onnx| = {worst} (scale {scale})");
    }
}

internal static class OnnxChecker
{
    /// <summary>A Python with the onnx module (Debian's python3-onnx lives in /usr/bin/python3's path).</summary>
    public static string? FindPython()
    {
        foreach (var candidate in new[] { "/usr/bin/python3", "python3" })
        {
            try
            {
                if (Run(candidate, "-c \"import onnx\"").ExitCode == 0)
                {
                    return candidate;
                }
            }
            catch (System.ComponentModel.Win32Exception)
            {
            }
        }
        return null;
    }

    public static (int ExitCode, string Output) Check(string python, string path) =>
        Run(python, $"-c \"import onnx,sys; onnx.checker.check_model(onnx.load(sys.argv[1]), full_check=True)\" \"{path}\"");

    private static (int ExitCode, string Output) Run(string file, string arguments)
    {
        using var process = Process.Start(new ProcessStartInfo(file, arguments) { RedirectStandardError = true, RedirectStandardOutput = true })!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEnd();
        process.WaitForExit();
        return (process.ExitCode, stdout.Result + stderr);
    }
}
