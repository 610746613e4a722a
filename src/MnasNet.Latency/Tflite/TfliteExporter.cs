using MnasNet.Latency.Backends;
using MnasNet.Latency.Onnx;
using MnasNet.SearchSpace;
using MnasNet.Training.Models;
using tflite;
using TorchSharp.Modules;
using static MnasNet.Latency.FoldedWeights;

namespace MnasNet.Latency.Tflite;

/// <summary>
/// Exports TorchSharp MnasNet modules to TensorFlow Lite FlatBuffers (float32, batch 1, NHWC) with eval-mode
/// semantics and the same weights as <see cref="OnnxExporter"/>: BatchNorm folded into the convolutions, dropout
/// dropped. Convolutions whose PyTorch padding differs from TFLite's SAME (stride 2 on even sizes) get an explicit
/// PAD and VALID padding, so the file computes what TorchSharp computes.
/// </summary>
public static class TfliteExporter
{
    public const string InputName = "input";
    public const string OutputName = "output";
    public const string FileIdentifier = "TFL3";
    public const int SchemaVersion = TfliteGraphBuilder.SchemaVersion;

    /// <summary>
    /// Builds the architecture with seeded random weights and trained-like BatchNorm statistics
    /// (<see cref="RandomWeights"/>) and exports it: input [1, R, R, C] → logits [1, classes].
    /// Throws <see cref="ArchitectureTooLargeException"/> when the architecture does not fit the resolution.
    /// </summary>
    public static byte[] Export(Architecture architecture, NetworkOptions options, long seed = 0)
    {
        ArgumentNullException.ThrowIfNull(architecture);
        ArgumentNullException.ThrowIfNull(options);
        ResolutionLimits.Default.Check(architecture, options);
        return RandomWeights.WithModel(architecture, options, seed, Export);
    }

    /// <summary>The whole network (e.g. a trained one): input [1, R, R, C] → logits [1, classes].</summary>
    public static byte[] Export(MnasNetModel model)
    {
        ArgumentNullException.ThrowIfNull(model);
        var o = model.Options;
        var g = new TfliteGraphBuilder();
        var x = g.Input(InputName, 1, o.Resolution, o.Resolution, o.InputChannels);
        x = ConvBnAct(g, model.stem, x);
        foreach (var layer in model.layers)
        {
            x = Layer(g, layer, x);
        }
        x = ConvBnAct(g, model.head, x);
        x = FullyConnected(g, model.classifier, Mean(g, x, keepDims: false));
        g.Output(x, OutputName);
        return g.Build($"{ArchitectureResolver.NameOf(model.Architecture) ?? model.Architecture.Id} at {o.Resolution}x{o.Resolution}");
    }

    public static void Save(byte[] model, string path)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentException.ThrowIfNullOrWhiteSpace(path);
        var directory = Path.GetDirectoryName(Path.GetFullPath(path));
        if (directory is not null)
        {
            Directory.CreateDirectory(directory);
        }
        File.WriteAllBytes(path, model);
    }

    /// <summary>One layer alone with seeded weights, as a table build times it (the head includes its global pool).</summary>
    public static byte[] ExportLayer(LayerConfiguration layer, long seed = 0)
    {
        ArgumentNullException.ThrowIfNull(layer);
        var c = layer.Cost;
        return RandomWeights.WithLayerModule(layer, seed, module =>
        {
            var g = new TfliteGraphBuilder();
            int y;
            switch (module)
            {
                case ConvBnAct stem:
                    y = ConvBnAct(g, stem, g.Input(InputName, 1, c.InputSize, c.InputSize, c.InputChannels));
                    break;
                case LayerConfiguration.PooledConv head:
                    y = Mean(g, ConvBnAct(g, head.conv, g.Input(InputName, 1, c.InputSize, c.InputSize, c.InputChannels)), keepDims: true);
                    break;
                case LayerConfiguration.FlattenLinear classifier:
                    y = FullyConnected(g, classifier.linear, g.Input(InputName, 1, 1, 1, c.InputChannels));
                    break;
                case MnasNetLayer blockLayer:
                    y = Layer(g, blockLayer, g.Input(InputName, 1, c.InputSize, c.InputSize, c.InputChannels));
                    break;
                default:
                    throw new InvalidOperationException($"no TFLite export for {module.GetType().Name}");
            }
            g.Output(y, OutputName);
            return g.Build(layer.Key);
        });
    }

    /// <summary>The smallest model: a RESHAPE of [1, 1, 1, 1]; its run time is the interpreter's per-call overhead.</summary>
    public static byte[] ExportIdentity()
    {
        var g = new TfliteGraphBuilder();
        var x = g.Input(InputName, 1, 1, 1, 1);
        var shape = g.Ints("shape", [1, 1, 1, 1], 4);
        var y = g.Op(BuiltinOperator.RESHAPE, [x, shape], [1, 1, 1, 1], BuiltinOptions.ReshapeOptions,
            b => ReshapeOptions.CreateReshapeOptions(b, ReshapeOptions.CreateNewShapeVector(b, [1, 1, 1, 1])).Value);
        g.Output(y, OutputName);
        return g.Build("per-call overhead probe");
    }

    /// <summary>
    /// Whether TFLite's SAME padding equals PyTorch's symmetric <c>kernel/2</c> padding at this size: SAME pads
    /// ⌊total/2⌋ before and the rest after, where total = (⌈n/s⌉−1)·s + k − n. At stride 1 (odd k) that is k/2 on both
    /// sides; at stride 2 it is k/2 before only when n is odd; on even sizes SAME pads one pixel less before than
    /// PyTorch, which shifts every window.
    /// </summary>
    public static bool SamePaddingMatchesPyTorch(int size, int kernel, int stride)
    {
        var pad = kernel / 2;
        var sameOut = (size + stride - 1) / stride;
        var torchOut = (size + 2 * pad - kernel) / stride + 1;
        var total = Math.Max((sameOut - 1) * stride + kernel - size, 0);
        return sameOut == torchOut && total / 2 == pad;
    }

    private static int Layer(TfliteGraphBuilder g, MnasNetLayer layer, int input)
    {
        var y = input;
        for (var i = 0; i < layer.convs.Count; i++)
        {
            y = ConvBnAct(g, layer.convs[i], y);
            if (i == layer.SeAfter && layer.se is { } se)
            {
                y = SqueezeExcite(g, se, y);
            }
        }
        if (!layer.HasResidual)
        {
            return y;
        }
        return g.Op(BuiltinOperator.ADD, [y, Shortcut(g, layer.Cost, input)], g.ShapeOf(y), BuiltinOptions.AddOptions,
            b => AddOptions.CreateAddOptions(b).Value);
    }

    private static int Shortcut(TfliteGraphBuilder g, LayerCost cost, int input)
    {
        if (cost.Skip == SkipOp.Identity)
        {
            return input;
        }
        var x = input;
        if (cost.Stride > 1)
        {
            // PyTorch: avg_pool2d(kernel = stride, ceil_mode, count_include_pad: false). A partial window at the end
            // (odd size) averages only the cells inside; TFLite's SAME pads after and leaves padded cells out of the
            // divisor, which is the same (for kernel = stride ≤ 2, SAME pads nothing before).
            var (_, h, w, c) = Nhwc(g.ShapeOf(x));
            var s = cost.Stride;
            var padding = h % s == 0 && w % s == 0 ? Padding.VALID : Padding.SAME;
            x = g.Op(BuiltinOperator.AVERAGE_POOL_2D, [x], [1, (h + s - 1) / s, (w + s - 1) / s, c], BuiltinOptions.Pool2DOptions,
                b => Pool2DOptions.CreatePool2DOptions(b, padding, stride_w: s, stride_h: s, filter_width: s, filter_height: s).Value);
        }
        var (_, oh, ow, inC) = Nhwc(g.ShapeOf(x));
        var outC = cost.OutputChannels;
        if (outC > inC)
        {
            var pads = g.Ints("pad_channels", [0, 0, 0, 0, 0, 0, 0, outC - inC], 4, 2);
            x = g.Op(BuiltinOperator.PAD, [x, pads], [1, oh, ow, outC], BuiltinOptions.PadOptions, b => EmptyOptions(b, PadOptions.StartPadOptions, PadOptions.EndPadOptions));
        }
        else if (outC < inC)
        {
            var begin = g.Ints("slice_begin", [0, 0, 0, 0], 4);
            var size = g.Ints("slice_size", [1, oh, ow, outC], 4);
            x = g.Op(BuiltinOperator.SLICE, [x, begin, size], [1, oh, ow, outC], BuiltinOptions.SliceOptions, b => EmptyOptions(b, SliceOptions.StartSliceOptions, SliceOptions.EndSliceOptions));
        }
        return x;
    }

    private static int SqueezeExcite(TfliteGraphBuilder g, SqueezeExcite se, int input)
    {
        var s = Mean(g, input, keepDims: true);
        s = Conv1x1WithBias(g, se.reduce, s, ActivationFunctionType.RELU);
        s = Conv1x1WithBias(g, se.expand, s, ActivationFunctionType.NONE);
        s = g.Op(BuiltinOperator.LOGISTIC, [s], g.ShapeOf(s));
        return g.Op(BuiltinOperator.MUL, [input, s], g.ShapeOf(input), BuiltinOptions.MulOptions, b => MulOptions.CreateMulOptions(b).Value);
    }

    private static int Conv1x1WithBias(TfliteGraphBuilder g, Conv2d conv, int input, ActivationFunctionType activation)
    {
        var (outC, inC) = ((int)conv.weight!.shape[0], (int)conv.weight!.shape[1]);
        var (_, h, w, _) = Nhwc(g.ShapeOf(input));
        var filter = g.Floats("se_w", Floats(conv.weight!), outC, 1, 1, inC);
        var bias = g.Floats("se_b", Floats(conv.bias!), outC);
        return g.Op(BuiltinOperator.CONV_2D, [input, filter, bias], [1, h, w, outC], BuiltinOptions.Conv2DOptions,
            b => Conv2DOptions.CreateConv2DOptions(b, Padding.VALID, stride_w: 1, stride_h: 1, fused_activation_function: activation).Value);
    }

    private static int ConvBnAct(TfliteGraphBuilder g, ConvBnAct m, int input)
    {
        var (weight, bias) = FoldBatchNorm(m.conv, m.bn);
        var (k, s, p) = (m.Kernel, m.Stride, m.Kernel / 2);
        var (_, h, w, inC) = Nhwc(g.ShapeOf(input));
        var x = input;
        var padding = Padding.SAME;
        if (p > 0 && !(SamePaddingMatchesPyTorch(h, k, s) && SamePaddingMatchesPyTorch(w, k, s)))
        {
            var pads = g.Ints("pad", [0, 0, p, p, p, p, 0, 0], 4, 2);
            x = g.Op(BuiltinOperator.PAD, [x, pads], [1, h + 2 * p, w + 2 * p, inC], BuiltinOptions.PadOptions, b => EmptyOptions(b, PadOptions.StartPadOptions, PadOptions.EndPadOptions));
            padding = Padding.VALID;
        }
        int[] outShape = [1, (h + 2 * p - k) / s + 1, (w + 2 * p - k) / s + 1, m.OutChannels];
        var activation = m.Activation ? ActivationFunctionType.RELU : ActivationFunctionType.NONE;
        var biasTensor = g.Floats("b", bias, m.OutChannels);
        if (m.Groups == 1)
        {
            var filter = g.Floats("w", OihwToOhwi(weight, m.OutChannels, m.InChannels, k), m.OutChannels, k, k, m.InChannels);
            return g.Op(BuiltinOperator.CONV_2D, [x, filter, biasTensor], outShape, BuiltinOptions.Conv2DOptions,
                b => Conv2DOptions.CreateConv2DOptions(b, padding, stride_w: s, stride_h: s, fused_activation_function: activation).Value);
        }
        if (m.Groups != m.InChannels || m.OutChannels != m.InChannels)
        {
            throw new NotSupportedException($"TFLite export: a grouped convolution ({m.Groups} groups, {m.InChannels} → {m.OutChannels} channels) that is not depthwise");
        }
        var depthwise = g.Floats("dw", DepthwiseTo1hwc(weight, m.OutChannels, k), 1, k, k, m.OutChannels);
        return g.Op(BuiltinOperator.DEPTHWISE_CONV_2D, [x, depthwise, biasTensor], outShape, BuiltinOptions.DepthwiseConv2DOptions,
            b => DepthwiseConv2DOptions.CreateDepthwiseConv2DOptions(b, padding, stride_w: s, stride_h: s, depth_multiplier: 1, fused_activation_function: activation).Value);
    }

    /// <summary>Global average over height and width: [1, H, W, C] → [1, 1, 1, C] or [1, C].</summary>
    private static int Mean(TfliteGraphBuilder g, int input, bool keepDims)
    {
        var (_, _, _, c) = Nhwc(g.ShapeOf(input));
        var axes = g.Ints("mean_axes", [1, 2], 2);
        return g.Op(BuiltinOperator.MEAN, [input, axes], keepDims ? [1, 1, 1, c] : [1, c], BuiltinOptions.ReducerOptions,
            b => ReducerOptions.CreateReducerOptions(b, keep_dims: keepDims).Value);
    }

    /// <summary>FULLY_CONNECTED flattens its input to [1, in]; PyTorch's Linear weight [out, in] is TFLite's layout.</summary>
    private static int FullyConnected(TfliteGraphBuilder g, Linear linear, int input)
    {
        var (outF, inF) = ((int)linear.weight!.shape[0], (int)linear.weight!.shape[1]);
        var weight = g.Floats("fc_w", Floats(linear.weight!), outF, inF);
        var bias = g.Floats("fc_b", Floats(linear.bias!), outF);
        return g.Op(BuiltinOperator.FULLY_CONNECTED, [input, weight, bias], [1, outF], BuiltinOptions.FullyConnectedOptions,
            b => FullyConnectedOptions.CreateFullyConnectedOptions(b).Value);
    }

    /// <summary>PyTorch conv weight [O, I, KH, KW] → TFLite CONV_2D filter [O, KH, KW, I].</summary>
    internal static float[] OihwToOhwi(float[] w, int outC, int inC, int k)
    {
        var r = new float[w.Length];
        for (var o = 0; o < outC; o++)
        {
            for (var i = 0; i < inC; i++)
            {
                for (var y = 0; y < k; y++)
                {
                    for (var x = 0; x < k; x++)
                    {
                        r[((o * k + y) * k + x) * inC + i] = w[((o * inC + i) * k + y) * k + x];
                    }
                }
            }
        }
        return r;
    }

    /// <summary>PyTorch depthwise weight [C, 1, KH, KW] → TFLite DEPTHWISE_CONV_2D filter [1, KH, KW, C].</summary>
    internal static float[] DepthwiseTo1hwc(float[] w, int channels, int k)
    {
        var r = new float[w.Length];
        for (var c = 0; c < channels; c++)
        {
            for (var y = 0; y < k; y++)
            {
                for (var x = 0; x < k; x++)
                {
                    r[(y * k + x) * channels + c] = w[(c * k + y) * k + x];
                }
            }
        }
        return r;
    }

    private static int EmptyOptions<T>(Google.FlatBuffers.FlatBufferBuilder b, Action<Google.FlatBuffers.FlatBufferBuilder> start, Func<Google.FlatBuffers.FlatBufferBuilder, Google.FlatBuffers.Offset<T>> end)
        where T : struct
    {
        start(b);
        return end(b).Value;
    }

    private static (int N, int H, int W, int C) Nhwc(int[] shape) => (shape[0], shape[1], shape[2], shape[3]);
}
