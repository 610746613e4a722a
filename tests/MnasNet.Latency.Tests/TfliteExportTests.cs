using Google.FlatBuffers;
using MnasNet.Latency.Backends;
using MnasNet.Latency.Onnx;
using MnasNet.Latency.Tflite;
using MnasNet.SearchSpace;
using MnasNet.Torch;
using MnasNet.Training.Models;
using TorchSharp;

namespace MnasNet.Latency.Tests;

/// <summary>
/// The .tflite files run in the real TFLite 2.9 interpreter (libtensorflowlite_c.so, installed by
/// <c>deploy/setup.sh --tests</c>; these tests fail, naming setup.sh, when it is missing).
/// </summary>
public sealed class TfliteExportTests
{
    public TfliteExportTests() => TorchRuntime.EnsureLoaded(threads: 1);

    public static TheoryData<string, int> Cases() => new()
    {
        { "coverage", 40 },
        { "mnasnet-a1", 64 },
        { "mnasnet-b1", 64 },
        { "mobilenet-v2", 96 },
        { "mnasnet-a1", 33 },
        { "sample:1", 32 },
        { "sample:2", 40 },
        { "sample:3", 48 },
        { "sample:4", 36 },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void Tflite_output_equals_torchsharp_eval_output(string name, int resolution)
    {
        var (expected, actual) = TorchAndTflite(OnnxExportTests.Resolve(name), resolution, new TfliteInterpreterSettings());
        AssertClose(expected, actual);
        TestContext.Current.TestOutputHelper?.WriteLine(
            $"{name}@{resolution}: max |torch − tflite| = {expected.Zip(actual, (e, a) => Math.Abs(e - a)).Max():G3}, logit scale {expected.Max(Math.Abs):G3}");
    }

    [Fact]
    public void Tflite_output_equals_torchsharp_without_xnnpack()
    {
        var (expected, actual) = TorchAndTflite(OnnxExportTests.Coverage, 40, new TfliteInterpreterSettings(XnnPack: false));
        AssertClose(expected, actual);
    }

    [Fact]
    public void Single_layer_models_equal_the_torchsharp_layer()
    {
        foreach (var layer in LayerConfiguration.Of(OnnxExportTests.Coverage, new NetworkOptions(40, Classes: 10)))
        {
            using var scope = torch.NewDisposeScope();
            var tflite = TfliteExporter.ExportLayer(layer, seed: 5);
            TorchRuntime.Seed(5);
            using var module = layer.BuildModule();
            RandomWeights.CalibrateBatchNorm(module, layer.InputShape, seed: 5);
            var input = OnnxInference.RandomInput(layer.InputShape, seed: 9);
            var actual = TfliteInterpreter.Run(tflite, NchwToNhwc(input, layer.InputShape));
            using var inference = torch.inference_mode();
            var output = module.call(torch.tensor(input, layer.InputShape));
            var expected = output.dim() == 4 ? NchwToNhwc(output.data<float>().ToArray(), output.shape) : output.data<float>().ToArray();
            AssertClose(expected, actual, layer.Key);
        }
    }

    [Fact]
    public void Seeded_exports_match_the_onnx_export_of_the_same_weights()
    {
        var options = new NetworkOptions(48, Classes: 10);
        var architecture = ReferenceArchitectures.MnasNetA1;
        long[] shape = [1, 3, 48, 48];
        var input = OnnxInference.RandomInput(shape, seed: 4);
        var onnx = OnnxInference.Run(OnnxExporter.ToBytes(OnnxExporter.Export(architecture, options, seed: 3)), input, shape);
        var tflite = TfliteInterpreter.Run(TfliteExporter.Export(architecture, options, seed: 3), NchwToNhwc(input, shape));
        AssertClose(onnx, tflite);
        Assert.Equal(TfliteExporter.Export(architecture, options, seed: 3), TfliteExporter.Export(architecture, options, seed: 3));
        Assert.NotEqual(TfliteExporter.Export(architecture, options, seed: 3), TfliteExporter.Export(architecture, options, seed: 4));
    }

    [Fact]
    public void Files_follow_the_tflite_schema()
    {
        var bytes = TfliteExporter.Export(OnnxExportTests.Coverage, new NetworkOptions(40, Classes: 10), seed: 1);
        var buffer = new ByteBuffer(bytes);
        Assert.True(tflite.Model.ModelBufferHasIdentifier(buffer));
        Assert.Equal("TFL3", System.Text.Encoding.ASCII.GetString(bytes, 4, 4));
        var model = tflite.Model.GetRootAsModel(buffer);
        Assert.Equal(3u, model.Version);
        Assert.Equal(0, model.Buffers(0)!.Value.DataLength);
        Assert.Equal(1, model.SubgraphsLength);
        var codes = Enumerable.Range(0, model.OperatorCodesLength).Select(i => model.OperatorCodes(i)!.Value).ToArray();
        foreach (var code in codes)
        {
            Assert.Equal((int)code.BuiltinCode, code.DeprecatedBuiltinCode);
        }
        var ops = codes.Select(c => c.BuiltinCode).ToHashSet();
        foreach (var op in new[]
        {
            tflite.BuiltinOperator.CONV_2D, tflite.BuiltinOperator.DEPTHWISE_CONV_2D, tflite.BuiltinOperator.ADD, tflite.BuiltinOperator.MUL,
            tflite.BuiltinOperator.LOGISTIC, tflite.BuiltinOperator.MEAN, tflite.BuiltinOperator.AVERAGE_POOL_2D, tflite.BuiltinOperator.PAD,
            tflite.BuiltinOperator.SLICE, tflite.BuiltinOperator.FULLY_CONNECTED,
        })
        {
            Assert.Contains(op, ops);
        }
        var graph = model.Subgraphs(0)!.Value;
        var input = graph.Tensors(graph.Inputs(0))!.Value;
        var output = graph.Tensors(graph.Outputs(0))!.Value;
        Assert.Equal([1, 40, 40, 3], input.GetShapeArray());
        Assert.Equal([1, 10], output.GetShapeArray());
        Assert.Equal(TfliteExporter.InputName, input.Name);
        Assert.Equal(TfliteExporter.OutputName, output.Name);
        for (var i = 0; i < graph.TensorsLength; i++)
        {
            var t = graph.Tensors(i)!.Value;
            if (t.Buffer != 0)
            {
                var data = model.Buffers((int)t.Buffer)!.Value.GetDataArray();
                var element = t.Type == tflite.TensorType.FLOAT32 || t.Type == tflite.TensorType.INT32 ? 4 : throw new InvalidOperationException($"tensor {t.Name}: {t.Type}");
                Assert.Equal(t.GetShapeArray().Aggregate(1, (a, d) => a * d) * element, data.Length);
                Assert.Equal(0, model.Buffers((int)t.Buffer)!.Value.GetDataBytes()!.Value.Offset % 16);
            }
        }
        // No BatchNorm survives: every conv has its folded bias as third input.
        for (var i = 0; i < graph.OperatorsLength; i++)
        {
            var op = graph.Operators(i)!.Value;
            var code = codes[(int)op.OpcodeIndex].BuiltinCode;
            if (code is tflite.BuiltinOperator.CONV_2D or tflite.BuiltinOperator.DEPTHWISE_CONV_2D)
            {
                Assert.Equal(3, op.InputsLength);
            }
        }
    }

    [Fact]
    public void Explicit_pad_only_where_same_padding_differs_from_pytorch()
    {
        Assert.True(TfliteExporter.SamePaddingMatchesPyTorch(40, 3, 1));
        Assert.True(TfliteExporter.SamePaddingMatchesPyTorch(41, 3, 2));
        Assert.True(TfliteExporter.SamePaddingMatchesPyTorch(41, 5, 2));
        Assert.False(TfliteExporter.SamePaddingMatchesPyTorch(40, 3, 2));
        Assert.False(TfliteExporter.SamePaddingMatchesPyTorch(40, 5, 2));
        Assert.True(TfliteExporter.SamePaddingMatchesPyTorch(40, 1, 2));

        // mobilenet-v2 at 64: the stem (64, stride 2) and the strided depthwise convs on even sizes need PAD.
        var model = tflite.Model.GetRootAsModel(new ByteBuffer(TfliteExporter.Export(ReferenceArchitectures.MobileNetV2, new NetworkOptions(64, Classes: 10))));
        var graph = model.Subgraphs(0)!.Value;
        var first = graph.Operators(0)!.Value;
        Assert.Equal(tflite.BuiltinOperator.PAD, model.OperatorCodes((int)first.OpcodeIndex)!.Value.BuiltinCode);
        var conv = graph.Operators(1)!.Value;
        Assert.Equal(tflite.Padding.VALID, conv.BuiltinOptionsAsConv2DOptions().Padding);
    }

    [Fact]
    public void Trained_weights_are_what_is_exported()
    {
        var options = new NetworkOptions(32, Classes: 10);
        using var scope = torch.NewDisposeScope();
        TorchRuntime.Seed(1);
        using var model = MnasNetModel.Build(ReferenceArchitectures.MnasNetB1, options);
        model.eval();
        var before = TfliteExporter.Export(model);
        using (torch.no_grad())
        {
            model.classifier.bias!.add_(1.0f);
        }
        var input = new float[32 * 32 * 3];
        var a = TfliteInterpreter.Run(before, input);
        var b = TfliteInterpreter.Run(TfliteExporter.Export(model), input);
        Assert.All(a.Zip(b, (x, y) => (Before: x, After: y)), p => Assert.Equal(p.Before + 1, p.After, 1e-4));
    }

    [Fact]
    public void Bad_input_is_a_clear_error()
    {
        var tooLarge = Assert.Throws<ArchitectureTooLargeException>(() => TfliteExporter.Export(ReferenceArchitectures.MnasNetA1, new NetworkOptions(8)));
        Assert.Contains("resolution", tooLarge.Message, StringComparison.OrdinalIgnoreCase);

        var garbage = Assert.Throws<LatencyBackendException>(() => new TfliteInterpreter([1, 2, 3, 4, 5, 6, 7, 8]));
        Assert.Contains("not a valid .tflite", garbage.Message);

        var model = TfliteExporter.Export(ReferenceArchitectures.MnasNetB1, new NetworkOptions(32, Classes: 10));
        using var interpreter = new TfliteInterpreter(model);
        Assert.Equal([1, 32, 32, 3], interpreter.InputShape);
        Assert.Equal([1, 10], interpreter.OutputShape);
        var wrongSize = Assert.Throws<ArgumentException>(() => interpreter.SetInput(new float[10]));
        Assert.Contains("3072", wrongSize.Message);
    }

    [Fact]
    public void The_library_is_tflite_2_9()
    {
        Assert.StartsWith("2.9", TfliteInterpreter.Version);
    }

    private static (float[] Expected, float[] Actual) TorchAndTflite(Architecture architecture, int resolution, TfliteInterpreterSettings settings)
    {
        var options = new NetworkOptions(resolution, Classes: 10);
        using var scope = torch.NewDisposeScope();
        TorchRuntime.Seed(7);
        using var model = MnasNetModel.Build(architecture, options);
        OnnxExportTests.RandomizeBatchNorm(model, seed: 11);
        model.eval();
        long[] shape = [1, 3, resolution, resolution];
        var input = OnnxInference.RandomInput(shape, seed: 3);
        var actual = TfliteInterpreter.Run(TfliteExporter.Export(model), NchwToNhwc(input, shape), settings);
        using var inference = torch.inference_mode();
        var expected = model.call(torch.tensor(input, shape)).data<float>().ToArray();
        return (expected, actual);
    }

    internal static float[] NchwToNhwc(float[] x, long[] shape)
    {
        var (n, c, h, w) = ((int)shape[0], (int)shape[1], (int)shape[2], (int)shape[3]);
        var r = new float[x.Length];
        for (var b = 0; b < n; b++)
        {
            for (var ch = 0; ch < c; ch++)
            {
                for (var y = 0; y < h; y++)
                {
                    for (var xx = 0; xx < w; xx++)
                    {
                        r[((b * h + y) * w + xx) * c + ch] = x[((b * c + ch) * h + y) * w + xx];
                    }
                }
            }
        }
        return r;
    }

    internal static void AssertClose(float[] expected, float[] actual, string? what = null)
    {
        Assert.Equal(expected.Length, actual.Length);
        var scale = Math.Max(1, expected.Max(Math.Abs));
        var worst = expected.Zip(actual, (e, a) => Math.Abs(e - a)).Max();
        Assert.True(worst <= 1e-4 * scale, $"{what} max |torch − tflite| = {worst} (scale {scale})");
    }
}
