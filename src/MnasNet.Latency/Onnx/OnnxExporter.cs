using Google.Protobuf;
using MnasNet.SearchSpace;
using MnasNet.Torch;
using MnasNet.Training.Models;
using Onnx;
using TorchSharp;
using TorchSharp.Modules;
using static MnasNet.Latency.FoldedWeights;
using static MnasNet.Latency.Onnx.OnnxGraphBuilder;

namespace MnasNet.Latency.Onnx;

/// <summary>How to export: the batch size of the graph's input (0: a dynamic "batch" dimension).</summary>
public sealed record OnnxExportOptions(int Batch = 1)
{
    public static OnnxExportOptions Default { get; } = new();
}

/// <summary>
/// Exports TorchSharp MnasNet modules to ONNX (IR 8, opset 17) with eval-mode semantics: BatchNorm's running
/// statistics are folded into the preceding convolution's weight and bias, dropout is dropped. The graph walks the
/// module structure (stem, layers with their convs, squeeze-excite and skip, head, pool, classifier), so what ONNX
/// Runtime runs is exactly what TorchSharp runs.
/// </summary>
public static class OnnxExporter
{
    public const int IrVersion = 8;
    public const int Opset = 17;
    public const string InputName = "input";
    public const string OutputName = "output";

    /// <summary>The whole network: input [B, C, R, R] → logits [B, classes].</summary>
    public static ModelProto Export(MnasNetModel model, OnnxExportOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        options ??= OnnxExportOptions.Default;
        var o = model.Options;
        var g = new OnnxGraphBuilder(model.Architecture.Id);
        var x = g.Input(InputName, options.Batch, o.InputChannels, o.Resolution, o.Resolution);
        x = ConvBnAct(g, model.stem, x);
        foreach (var layer in model.layers)
        {
            x = Layer(g, layer, x);
        }
        x = ConvBnAct(g, model.head, x);
        x = Classifier(g, model.classifier, g.Node("GlobalAveragePool", [x]));
        g.Output(x, OutputName, options.Batch, o.Classes);
        return Model(g, $"{ArchitectureResolver.NameOf(model.Architecture) ?? model.Architecture.Id} at {o.Resolution}x{o.Resolution}");
    }

    /// <summary>
    /// Builds the architecture with seeded random weights and trained-like BatchNorm statistics
    /// (<see cref="RandomWeights"/>) and exports it.
    /// </summary>
    public static ModelProto Export(Architecture architecture, NetworkOptions options, long seed = 0, OnnxExportOptions? exportOptions = null)
    {
        return RandomWeights.WithModel(architecture, options, seed, model => Export(model, exportOptions));
    }

    /// <summary>One block layer alone: input [1, in, size, size] → its output.</summary>
    public static ModelProto ExportLayer(MnasNetLayer layer)
    {
        ArgumentNullException.ThrowIfNull(layer);
        var c = layer.Cost;
        var g = new OnnxGraphBuilder(c.Key);
        var x = g.Input(InputName, 1, c.InputChannels, c.InputSize, c.InputSize);
        g.Output(Layer(g, layer, x), OutputName, 1, c.OutputChannels, c.OutputSize, c.OutputSize);
        return Model(g, c.Key);
    }

    /// <summary>A convolution layer alone (the stem; or the head, with <paramref name="globalPool"/>).</summary>
    public static ModelProto ExportConvBnAct(ConvBnAct module, int inputSize, bool globalPool, string name)
    {
        ArgumentNullException.ThrowIfNull(module);
        var g = new OnnxGraphBuilder(name);
        var x = g.Input(InputName, 1, module.InChannels, inputSize, inputSize);
        x = ConvBnAct(g, module, x);
        if (globalPool)
        {
            x = g.Node("GlobalAveragePool", [x]);
            g.Output(x, OutputName, 1, module.OutChannels, 1, 1);
        }
        else
        {
            var outputSize = CostModel.OutputSize(inputSize, module.Stride);
            g.Output(x, OutputName, 1, module.OutChannels, outputSize, outputSize);
        }
        return Model(g, name);
    }

    /// <summary>The classifier alone: pooled features [1, C, 1, 1] → logits.</summary>
    public static ModelProto ExportClassifier(Linear classifier, string name)
    {
        ArgumentNullException.ThrowIfNull(classifier);
        var (outF, inF) = (classifier.weight!.shape[0], classifier.weight!.shape[1]);
        var g = new OnnxGraphBuilder(name);
        var x = g.Input(InputName, 1, inF, 1, 1);
        g.Output(Classifier(g, classifier, x), OutputName, 1, outF);
        return Model(g, name);
    }

    /// <summary>The smallest model: Identity on [1, 1, 1, 1]; its run time is an engine's per-call overhead.</summary>
    public static ModelProto ExportIdentity()
    {
        var g = new OnnxGraphBuilder("identity");
        var x = g.Input(InputName, 1, 1, 1, 1);
        g.Output(g.Node("Identity", [x]), OutputName, 1, 1, 1, 1);
        return Model(g, "per-call overhead probe");
    }

    public static byte[] ToBytes(ModelProto model) => model.ToByteArray();

    public static void Save(ModelProto model, string path)
    {
        var directory = Path.GetDirectoryName(Path.GetFullPath(path));
        if (directory is not null)
        {
            Directory.CreateDirectory(directory);
        }
        File.WriteAllBytes(path, model.ToByteArray());
    }

    private static ModelProto Model(OnnxGraphBuilder g, string doc)
    {
        var model = new ModelProto
        {
            IrVersion = IrVersion,
            ProducerName = "MnasNet.Latency",
            ProducerVersion = typeof(OnnxExporter).Assembly.GetName().Version?.ToString() ?? "0",
            DocString = doc,
            Graph = g.Graph,
        };
        model.OpsetImport.Add(new OperatorSetIdProto { Domain = "", Version = Opset });
        return model;
    }

    private static string Layer(OnnxGraphBuilder g, MnasNetLayer layer, string input)
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
        return layer.HasResidual ? g.Node("Add", [y, Shortcut(g, layer.Cost, input)]) : y;
    }

    private static string Shortcut(OnnxGraphBuilder g, LayerCost cost, string input)
    {
        if (cost.Skip == SkipOp.Identity)
        {
            return input;
        }
        var x = input;
        if (cost.Stride > 1)
        {
            x = g.Node("AveragePool", [x],
                Ints("kernel_shape", cost.Stride, cost.Stride), Ints("strides", cost.Stride, cost.Stride),
                Int("ceil_mode", 1), Int("count_include_pad", 0));
        }
        if (cost.OutputChannels > cost.InputChannels)
        {
            // Pads are [N, C, H, W] begins then ends: zeros appended after the input's channels.
            x = g.Node("Pad", [x, g.Int64s("pads", 0, 0, 0, 0, 0, cost.OutputChannels - cost.InputChannels, 0, 0)]);
        }
        else if (cost.OutputChannels < cost.InputChannels)
        {
            x = g.Node("Slice", [x, g.Int64s("starts", 0), g.Int64s("ends", cost.OutputChannels), g.Int64s("axes", 1)]);
        }
        return x;
    }

    private static string SqueezeExcite(OnnxGraphBuilder g, SqueezeExcite se, string input)
    {
        var s = g.Node("GlobalAveragePool", [input]);
        s = g.Node("Relu", [Conv1x1WithBias(g, se.reduce, s)]);
        s = g.Node("Sigmoid", [Conv1x1WithBias(g, se.expand, s)]);
        return g.Node("Mul", [input, s]);
    }

    private static string Conv1x1WithBias(OnnxGraphBuilder g, Conv2d conv, string input)
    {
        var w = Floats(conv.weight!);
        var shape = conv.weight!.shape;
        var b = Floats(conv.bias!);
        return g.Node("Conv", [input, g.Floats("se_w", w, shape), g.Floats("se_b", b, shape[0])], Ints("kernel_shape", 1, 1));
    }

    private static string ConvBnAct(OnnxGraphBuilder g, ConvBnAct m, string input)
    {
        var (weight, bias) = FoldBatchNorm(m.conv, m.bn);
        var shape = m.conv.weight!.shape;
        var pad = m.Kernel / 2;
        var y = g.Node("Conv", [input, g.Floats("w", weight, shape), g.Floats("b", bias, shape[0])],
            Ints("kernel_shape", m.Kernel, m.Kernel), Ints("strides", m.Stride, m.Stride),
            Ints("pads", pad, pad, pad, pad), Int("group", m.Groups));
        return m.Activation ? g.Node("Relu", [y]) : y;
    }

    private static string Classifier(OnnxGraphBuilder g, Linear classifier, string pooled)
    {
        var flat = g.Node("Flatten", [pooled], Int("axis", 1));
        var shape = classifier.weight!.shape;
        return g.Node("Gemm", [flat, g.Floats("fc_w", Floats(classifier.weight!), shape), g.Floats("fc_b", Floats(classifier.bias!), shape[0])],
            Int("transB", 1));
    }
}
