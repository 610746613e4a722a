using MnasNet.Torch;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace MnasNet.Controller;

/// <summary>
/// Adam (Kingma and Ba 2015) in the exact form of PyTorch's single-tensor <c>torch.optim.Adam</c> (no weight decay, no
/// amsgrad). Written out rather than taken from TorchSharp so that its whole state — first and second moments and the
/// step count — is plain tensors the controller saves and restores bit for bit, and an auditor can read.
/// </summary>
internal sealed class AdamOptimizer : IDisposable
{
    private readonly Parameter[] _parameters;
    private readonly Tensor[] _expAvg;
    private readonly Tensor[] _expAvgSq;

    public AdamOptimizer(IEnumerable<Parameter> parameters, double learningRate, double beta1, double beta2, double epsilon)
    {
        _parameters = parameters.ToArray();
        _expAvg = _parameters.Select(p => zeros_like(p).DetachFromDisposeScope()).ToArray();
        _expAvgSq = _parameters.Select(p => zeros_like(p).DetachFromDisposeScope()).ToArray();
        (LearningRate, Beta1, Beta2, Epsilon) = (learningRate, beta1, beta2, epsilon);
    }

    public double LearningRate { get; }
    public double Beta1 { get; }
    public double Beta2 { get; }
    public double Epsilon { get; }

    /// <summary>Steps taken (one per gradient step, i.e. Epochs per PPO update).</summary>
    public long Steps { get; set; }

    public IReadOnlyList<Tensor> ExpAvg => _expAvg;
    public IReadOnlyList<Tensor> ExpAvgSq => _expAvgSq;

    public void ZeroGrad()
    {
        foreach (var p in _parameters)
        {
            p.grad?.zero_();
        }
    }

    public void Step()
    {
        Steps++;
        var biasCorrection1 = 1 - Math.Pow(Beta1, Steps);
        var biasCorrection2 = 1 - Math.Pow(Beta2, Steps);
        var stepSize = LearningRate / biasCorrection1;
        var biasCorrection2Sqrt = Math.Sqrt(biasCorrection2);
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        // Scalars held in locals for the whole loop: see KeptScalars.
        using var beta1 = Beta1.ToScalar();
        using var oneMinusBeta1 = (1 - Beta1).ToScalar();
        using var beta2 = Beta2.ToScalar();
        using var oneMinusBeta2 = (1 - Beta2).ToScalar();
        using var sqrtCorrection2 = biasCorrection2Sqrt.ToScalar();
        using var epsilon = Epsilon.ToScalar();
        using var negativeStep = (-stepSize).ToScalar();
        for (var i = 0; i < _parameters.Length; i++)
        {
            var grad = _parameters[i].grad;
            if (grad is null)
            {
                continue;
            }
            _expAvg[i].mul_(beta1).add_(grad, alpha: oneMinusBeta1);
            _expAvgSq[i].mul_(beta2).addcmul_(grad, grad, value: oneMinusBeta2);
            var denominator = (_expAvgSq[i].sqrt() / sqrtCorrection2).add_(epsilon, KeptScalars.One);
            _parameters[i].addcdiv_(_expAvg[i], denominator, value: negativeStep);
        }
    }

    public void Dispose()
    {
        foreach (var t in _expAvg.Concat(_expAvgSq))
        {
            t.Dispose();
        }
    }
}
