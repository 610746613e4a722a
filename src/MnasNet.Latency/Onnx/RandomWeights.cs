using MnasNet.Latency.Backends;
using MnasNet.SearchSpace;
using MnasNet.Torch;
using MnasNet.Training.Models;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace MnasNet.Latency.Onnx;

/// <summary>
/// Random weights that behave like trained ones. Latency does not depend on weight values, except through
/// denormal floats: with fresh BatchNorm statistics (mean 0, variance 1) a deep random network's activations shrink
/// by ~√channels per depthwise conv (Kaiming fan-out initialisation), reach the denormal range after a dozen layers
/// and make the measured latency several times slower than a trained network's. One train-mode forward pass on
/// random input sets every BatchNorm's running statistics to that pass's batch statistics, so each layer's output
/// has unit scale, as after training.
/// </summary>
public static class RandomWeights
{
    public static void CalibrateBatchNorm(nn.Module<Tensor, Tensor> module, long[] inputShape, long seed, int batch = 2)
    {
        ArgumentNullException.ThrowIfNull(module);
        ArgumentNullException.ThrowIfNull(inputShape);
        TorchRuntime.EnsureLoaded();
        var norms = module.modules().OfType<BatchNorm2d>().ToArray();
        if (norms.Length == 0)
        {
            return;
        }
        using var scope = NewDisposeScope();
        var momenta = norms.Select(n => n.momentum).ToArray();
        foreach (var n in norms)
        {
            n.reset_running_stats();
            n.momentum = 1.0;
        }
        using var generator = new Generator((ulong)seed);
        var shape = inputShape.ToArray();
        shape[0] = batch;
        module.train();
        using (no_grad())
        {
            module.call(randn(shape, generator: generator));
        }
        module.eval();
        for (var i = 0; i < norms.Length; i++)
        {
            norms[i].momentum = momenta[i];
        }
    }

    /// <summary>
    /// Builds the architecture with seeded random weights and calibrated BatchNorm statistics, in eval mode, and
    /// hands it to <paramref name="export"/> (the exporters' shared entry for "any architecture, seeded weights").
    /// </summary>
    public static T WithModel<T>(Architecture architecture, NetworkOptions options, long seed, Func<MnasNetModel, T> export)
    {
        ArgumentNullException.ThrowIfNull(export);
        TorchRuntime.EnsureLoaded();
        using var scope = NewDisposeScope();
        TorchRuntime.Seed(seed);
        using var model = MnasNetModel.Build(architecture, options);
        CalibrateBatchNorm(model, InputShape(options), seed);
        return export(model);
    }

    /// <summary>The same for one layer alone (table builds): its module with seeded, calibrated weights.</summary>
    public static T WithLayerModule<T>(LayerConfiguration layer, long seed, Func<nn.Module<Tensor, Tensor>, T> export)
    {
        ArgumentNullException.ThrowIfNull(layer);
        ArgumentNullException.ThrowIfNull(export);
        TorchRuntime.EnsureLoaded();
        using var scope = NewDisposeScope();
        TorchRuntime.Seed(seed);
        using var module = layer.BuildModule();
        CalibrateBatchNorm(module, layer.InputShape, seed);
        return export(module);
    }

    /// <summary>Input shape of a network at batch 1.</summary>
    public static long[] InputShape(NetworkOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        return [1, options.InputChannels, options.Resolution, options.Resolution];
    }
}
