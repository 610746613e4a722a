using MnasNet.SearchSpace;
using MnasNet.Torch;
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

    /// <summary>Input shape of a network at batch 1.</summary>
    public static long[] InputShape(NetworkOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        return [1, options.InputChannels, options.Resolution, options.Resolution];
    }
}
