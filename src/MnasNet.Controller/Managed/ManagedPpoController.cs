using System.Runtime.InteropServices;
using System.Security.Cryptography;
using System.Text.Json;
using MnasNet.SearchSpace;

namespace MnasNet.Controller.Managed;

/// <summary>
/// Strategy "ppo" on the managed engine: the algorithm of <see cref="PpoController"/> (same network, initialisation,
/// sampling, PPO loss, gradient clip, Adam, baseline and advantages) in plain C# float32 with exact arithmetic, so
/// samples, updates and saved states are a pure function of the options, the seed and the inputs — the same on every
/// machine and for every thread count (<see cref="ExactArithmetic"/>). Not thread-safe: one owner calls it.
/// </summary>
/// <remarks>
/// The saved state has the libtorch controller's layout under its own header (<see cref="Magic"/>), so
/// <see cref="ArchitectureSamplers.Restore"/> tells the engines apart and a warm start can move a policy from one
/// engine to the other (<see cref="PpoStates.WarmStart"/>).
/// </remarks>
public sealed class ManagedPpoController : IArchitectureSampler
{
    internal const string Magic = "MNASPPO2";
    internal const int FormatVersion = 1;

    private readonly ManagedLstmPolicy _policy;
    private readonly float[] _expAvg;
    private readonly float[] _expAvgSq;
    private long _adamSteps;
    private SeededRandom _random;
    private string? _hash;
    private double[] _dLogProb = [];

    public ManagedPpoController(ControllerOptions options, MnasNetSearchSpace? space = null)
    {
        Options = (options ?? throw new ArgumentNullException(nameof(options))).Validate();
        if (Options.LstmLayers != 1)
        {
            throw new ControllerException($"controller option LstmLayers: the managed engine has one LSTM layer, got {Options.LstmLayers} (use Engine libtorch for more)");
        }
        Space = space ?? MnasNetSearchSpace.Default;
        _policy = new ManagedLstmPolicy(Space, Options.HiddenSize, Options.EmbeddingSize) { Threads = Options.Threads ?? 1 };
        _policy.Initialize(new SeededRandom(SeededRandom.Derive(Options.Seed, "controller-init")), Options.InitRange);
        _expAvg = new float[_policy.Values.Length];
        _expAvgSq = new float[_policy.Values.Length];
        _random = new SeededRandom(SeededRandom.Derive(Options.Seed, "controller-sample"));
    }

    public ControllerOptions Options { get; private set; }
    public MnasNetSearchSpace Space { get; }
    public long UpdateCount { get; private set; }
    public double? Baseline { get; private set; }
    public PolicyUpdate? LastUpdate { get; private set; }
    public string Strategy => SearchStrategies.Ppo;
    public string Version => ParameterHash;
    public IReadOnlyList<ulong> RandomState => _random.State;
    public long ParameterCount => _policy.Values.Length;

    /// <summary>As <see cref="PpoController.ParameterHash"/>: equal parameters give equal hashes on both engines.</summary>
    public string ParameterHash => _hash ??= ComputeParameterHash();

    /// <summary>Exact arithmetic: the same bits on every machine and thread count.</summary>
    public bool ExactArithmetic => true;

    public int? Threads => Options.Threads;

    /// <summary>Only speed changes: results do not depend on the thread count.</summary>
    public void ContinueWithThreads(int threads)
    {
        Options = (Options with { Threads = threads }).Validate();
        _policy.Threads = threads;
    }

    public IReadOnlyList<Proposal> Sample(int count)
    {
        PpoInputs.CheckCount(count);
        _policy.Sample(count, Options.Temperature, _random);
        return Proposals(count);
    }

    public Proposal Greedy()
    {
        _policy.Sample(1, Options.Temperature, null);
        return Proposals(1)[0];
    }

    private Proposal[] Proposals(int count)
    {
        var tokens = _policy.Tokens(count);
        var logProb = _policy.SequenceLogProb(count);
        var version = ParameterHash;
        var result = new Proposal[count];
        for (var j = 0; j < count; j++)
        {
            result[j] = new Proposal(tokens.Slice(j * Space.DecisionCount, Space.DecisionCount).ToArray(), logProb[j], version);
        }
        return result;
    }

    public void SkipSamples(int count)
    {
        PpoInputs.CheckCount(count);
        for (long k = 0; k < (long)count * Space.DecisionCount; k++)
        {
            _random.NextDouble();
        }
    }

    public IReadOnlyList<SequenceScore> Score(IReadOnlyList<IReadOnlyList<int>> sequences)
    {
        if (sequences.Count == 0)
        {
            return [];
        }
        for (var j = 0; j < sequences.Count; j++)
        {
            PpoInputs.ValidateTokens(Space, sequences[j], j);
        }
        _policy.Score(Flatten(sequences), sequences.Count, Options.Temperature);
        var logProb = _policy.SequenceLogProb(sequences.Count);
        var entropy = _policy.SequenceEntropy(sequences.Count);
        var result = new SequenceScore[sequences.Count];
        for (var j = 0; j < result.Length; j++)
        {
            result[j] = new SequenceScore(logProb[j], entropy[j]);
        }
        return result;
    }

    public double LogProb(IReadOnlyList<int> tokens) => Score([tokens])[0].LogProb;

    SamplerStep IArchitectureSampler.Observe(IReadOnlyList<ScoredSample> batch)
    {
        var u = Update(batch);
        return new SamplerStep(u.ParameterHashBefore, u.ParameterHash, u.Advantages, u.PolicyLoss, u.MeanEntropy, u.ApproxKl, u.ClipFraction, u.BaselineBefore, u.BaselineAfter);
    }

    /// <summary>One PPO update, as <see cref="PpoController.Update"/>: a pure function of the state and the batch.</summary>
    public PolicyUpdate Update(IReadOnlyList<ScoredSample> batch)
    {
        ArgumentNullException.ThrowIfNull(batch);
        var oldLogProb = PpoInputs.SampledLogProbs(Space, batch);
        var n = batch.Count;
        var rewards = batch.Select(s => s.Reward).ToArray();
        var advantages = PpoController.Advantages(rewards, Baseline, Options.NormalizeAdvantages, Options.Advantage, out var baselineBefore);
        var entropyCoefficient = EntropyCoefficientAt(UpdateCount);
        var hashBefore = ParameterHash;
        var tokens = Flatten(batch.Select(s => s.Tokens).ToArray());
        if (_dLogProb.Length < n)
        {
            _dLogProb = new double[n];
        }

        var eps = Options.ClipEpsilon;
        double policyLoss = 0, entropyLoss = 0, totalLoss = 0, meanEntropy = 0, approxKl = 0, clipFraction = 0, gradNorm = 0;
        for (var epoch = 0; epoch < Options.Epochs; epoch++)
        {
            if (epoch > 0 || !_policy.Holds(tokens, n, Options.Temperature))
            {
                _policy.Score(tokens, n, Options.Temperature);
            }
            var logProb = _policy.SequenceLogProb(n);
            var entropy = _policy.SequenceEntropy(n);
            double surrogateSum = 0, entropySum = 0, klSum = 0;
            var clipped = 0;
            for (var j = 0; j < n; j++)
            {
                var logRatio = logProb[j] - oldLogProb[j];
                var ratio = ExactMath.Exp(logRatio);
                var a = advantages[j];
                var inRange = ratio >= 1 - eps && ratio <= 1 + eps;
                var unclipped = ratio * a;
                var clippedTerm = Math.Clamp(ratio, 1 - eps, 1 + eps) * a;
                // d min(rA, clip(r)A)/dr as autograd takes it: ties split the gradient between the two branches.
                var dSurrogate = unclipped < clippedTerm ? a
                    : unclipped > clippedTerm ? (inRange ? a : 0)
                    : 0.5 * a + 0.5 * (inRange ? a : 0);
                surrogateSum += Math.Min(unclipped, clippedTerm);
                entropySum += entropy[j];
                klSum += -logRatio;
                if (Math.Abs(ratio - 1) > eps)
                {
                    clipped++;
                }
                _dLogProb[j] = -dSurrogate * ratio / n;
            }
            policyLoss = -surrogateSum / n;
            meanEntropy = entropySum / n;
            entropyLoss = -entropyCoefficient * meanEntropy;
            totalLoss = policyLoss + entropyLoss;
            approxKl = klSum / n;
            clipFraction = (double)clipped / n;

            _policy.Backward(n, _dLogProb.AsSpan(0, n), -entropyCoefficient / n, Options.Temperature);
            gradNorm = ClipGradient();
            AdamStep();
        }

        _hash = null;
        var mean = rewards.Average();
        Baseline = Options.BaselineDecay * baselineBefore + (1 - Options.BaselineDecay) * mean;
        UpdateCount++;
        LastUpdate = new PolicyUpdate(UpdateCount, policyLoss, entropyLoss, totalLoss, meanEntropy, approxKl, clipFraction,
            gradNorm, advantages, baselineBefore, Baseline.Value, hashBefore, ParameterHash);
        return LastUpdate;
    }

    public double EntropyCoefficientAt(long updatesDone) => Options.EntropyCoefficientAt(updatesDone);

    /// <summary>Global L2 norm (in double, parameter order) and, above MaxGradNorm, scaling by MaxGradNorm/(norm + 1e−6), as torch's clip_grad_norm_.</summary>
    private double ClipGradient()
    {
        var gradient = _policy.Gradient;
        var squares = 0.0;
        for (var i = 0; i < gradient.Length; i++)
        {
            squares += (double)gradient[i] * gradient[i];
        }
        var norm = Math.Sqrt(squares);
        var coefficient = Options.MaxGradNorm / (norm + 1e-6);
        if (coefficient < 1)
        {
            var factor = (float)coefficient;
            for (var i = 0; i < gradient.Length; i++)
            {
                gradient[i] *= factor;
            }
        }
        return norm;
    }

    /// <summary><see cref="AdamOptimizer.Step"/> in float32, element by element (PyTorch's single-tensor Adam).</summary>
    private void AdamStep()
    {
        _adamSteps++;
        // β^t by repeated products, not Math.Pow: libm's pow is not the same function on every platform.
        var biasCorrection1 = 1 - IntegerPower(Options.AdamBeta1, _adamSteps);
        var biasCorrection2 = 1 - IntegerPower(Options.AdamBeta2, _adamSteps);
        var stepSize = (float)(Options.LearningRate / biasCorrection1);
        var sqrtCorrection2 = (float)Math.Sqrt(biasCorrection2);
        var beta1 = (float)Options.AdamBeta1;
        var oneMinusBeta1 = (float)(1 - Options.AdamBeta1);
        var beta2 = (float)Options.AdamBeta2;
        var oneMinusBeta2 = (float)(1 - Options.AdamBeta2);
        var epsilon = (float)Options.AdamEpsilon;
        var values = _policy.Values;
        var gradient = _policy.Gradient;
        for (var i = 0; i < values.Length; i++)
        {
            var g = gradient[i];
            var m = _expAvg[i] * beta1 + oneMinusBeta1 * g;
            var v = _expAvgSq[i] * beta2 + oneMinusBeta2 * (g * g);
            _expAvg[i] = m;
            _expAvgSq[i] = v;
            var denominator = MathF.Sqrt(v) / sqrtCorrection2 + epsilon;
            values[i] -= stepSize * (m / denominator);
        }
        _policy.Refresh();
    }

    /// <summary>x^n by binary powering in a fixed order (exact IEEE products, no libm).</summary>
    internal static double IntegerPower(double x, long n)
    {
        var result = 1.0;
        var power = x;
        while (n > 0)
        {
            if ((n & 1) != 0)
            {
                result *= power;
            }
            power *= power;
            n >>= 1;
        }
        return result;
    }

    public byte[] SaveState() => StateCodec.Write(Magic, FormatVersion, w =>
    {
        w.Write(PpoStates.OptionsJson(Options));
        w.Write(UpdateCount);
        w.Write(Baseline.HasValue);
        w.Write(Baseline ?? 0.0);
        StateCodec.WriteRandom(w, _random);
        w.Write(_adamSteps);
        w.Write(_policy.Parameters.Count);
        foreach (var p in _policy.Parameters)
        {
            w.Write(p.Name);
            WriteFloats(w, _policy.Values.AsSpan(p.Offset, p.Length));
            WriteFloats(w, _expAvg.AsSpan(p.Offset, p.Length));
            WriteFloats(w, _expAvgSq.AsSpan(p.Offset, p.Length));
        }
    }, capacity: 12 * _policy.Values.Length + 4096);

    public static ManagedPpoController Restore(byte[] state) => StateCodec.Read(state, Magic, FormatVersion, "PPO controller", r =>
    {
        var controller = new ManagedPpoController(PpoStates.ReadOptions(r));
        controller.UpdateCount = r.ReadInt64();
        var hasBaseline = r.ReadBoolean();
        var baseline = r.ReadDouble();
        controller.Baseline = hasBaseline ? baseline : null;
        controller._random = StateCodec.ReadRandom(r);
        controller._adamSteps = r.ReadInt64();
        var parameters = controller._policy.Parameters;
        var count = r.ReadInt32();
        if (count != parameters.Count)
        {
            throw new ControllerException($"PPO controller state: {count} parameters, the policy has {parameters.Count}");
        }
        foreach (var p in parameters)
        {
            var name = r.ReadString();
            if (name != p.Name)
            {
                throw new ControllerException($"PPO controller state: parameter '{name}' where '{p.Name}' was expected");
            }
            ReadFloats(r, controller._policy.Values.AsSpan(p.Offset, p.Length), name);
            ReadFloats(r, controller._expAvg.AsSpan(p.Offset, p.Length), name);
            ReadFloats(r, controller._expAvgSq.AsSpan(p.Offset, p.Length), name);
        }
        controller._policy.Refresh();
        controller._hash = null;
        return controller;
    });

    IReadOnlyList<float> IArchitectureSampler.ParameterValues() => ParameterValues();

    public float[] ParameterValues() => (float[])_policy.Values.Clone();

    /// <summary>Tests: the network, its flat parameters and last gradient.</summary>
    internal ManagedLstmPolicy Policy => _policy;

    public void Dispose()
    {
    }

    private string ComputeParameterHash()
    {
        using var sha = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        foreach (var p in _policy.Parameters)
        {
            sha.AppendData(System.Text.Encoding.UTF8.GetBytes(p.Name));
            sha.AppendData(MemoryMarshal.AsBytes(_policy.Values.AsSpan(p.Offset, p.Length)));
        }
        return Convert.ToHexStringLower(sha.GetHashAndReset())[..16];
    }

    private int[] Flatten(IReadOnlyList<IReadOnlyList<int>> sequences)
    {
        var steps = Space.DecisionCount;
        var flat = new int[sequences.Count * steps];
        for (var j = 0; j < sequences.Count; j++)
        {
            for (var i = 0; i < steps; i++)
            {
                flat[j * steps + i] = sequences[j][i];
            }
        }
        return flat;
    }

    private static void WriteFloats(BinaryWriter w, ReadOnlySpan<float> values)
    {
        w.Write(values.Length);
        w.Write(MemoryMarshal.AsBytes(values));
    }

    private static void ReadFloats(BinaryReader r, Span<float> target, string name)
    {
        var length = r.ReadInt32();
        if (length != target.Length)
        {
            throw new ControllerException($"PPO controller state: parameter '{name}' has {length} values, expected {target.Length}");
        }
        var bytes = r.ReadBytes(length * sizeof(float));
        if (bytes.Length != length * sizeof(float))
        {
            throw new EndOfStreamException();
        }
        MemoryMarshal.Cast<byte, float>(bytes).CopyTo(target);
    }
}
