using TorchSharp;
using TorchSharp.Modules;

namespace MnasNet.Latency;

/// <summary>
/// Weights of a TorchSharp module as the exporters (ONNX, TFLite) write them: eval-mode BatchNorm folded into the
/// preceding bias-free convolution, every tensor as row-major floats in PyTorch's layout.
/// </summary>
public static class FoldedWeights
{
    /// <summary>
    /// BatchNorm (eval) after a bias-free conv as the conv's own weight [out, in/groups, kh, kw] and bias, computed
    /// in double: w' = w·γ/√(σ²+ε), b' = β − μ·γ/√(σ²+ε).
    /// </summary>
    public static (float[] Weight, float[] Bias) FoldBatchNorm(Conv2d conv, BatchNorm2d bn)
    {
        ArgumentNullException.ThrowIfNull(conv);
        ArgumentNullException.ThrowIfNull(bn);
        var w = Floats(conv.weight!);
        var gamma = Floats(bn.weight!);
        var beta = Floats(bn.bias!);
        var mean = Floats(bn.running_mean!);
        var variance = Floats(bn.running_var!);
        return FoldBatchNorm(w, gamma, beta, mean, variance, bn.eps);
    }

    /// <summary>The folding arithmetic on plain arrays; <paramref name="weight"/> is [out, …] row-major.</summary>
    public static (float[] Weight, float[] Bias) FoldBatchNorm(float[] weight, float[] gamma, float[] beta, float[] mean, float[] variance, double eps)
    {
        ArgumentNullException.ThrowIfNull(weight);
        ArgumentNullException.ThrowIfNull(gamma);
        ArgumentNullException.ThrowIfNull(beta);
        ArgumentNullException.ThrowIfNull(mean);
        ArgumentNullException.ThrowIfNull(variance);
        var outC = gamma.Length;
        if (beta.Length != outC || mean.Length != outC || variance.Length != outC || weight.Length % outC != 0)
        {
            throw new ArgumentException("BatchNorm and conv shapes do not agree");
        }
        var perOut = weight.Length / outC;
        var folded = new float[weight.Length];
        var bias = new float[outC];
        for (var o = 0; o < outC; o++)
        {
            var scale = gamma[o] / Math.Sqrt(variance[o] + eps);
            for (var i = 0; i < perOut; i++)
            {
                folded[o * perOut + i] = (float)(weight[o * perOut + i] * scale);
            }
            bias[o] = (float)(beta[o] - mean[o] * scale);
        }
        return (folded, bias);
    }

    /// <summary>A tensor's values, row-major.</summary>
    public static float[] Floats(torch.Tensor tensor)
    {
        ArgumentNullException.ThrowIfNull(tensor);
        return tensor.detach().cpu().contiguous().data<float>().ToArray();
    }
}
