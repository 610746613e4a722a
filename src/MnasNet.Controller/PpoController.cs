using System.Buffers;
using System.Runtime.InteropServices;
using System.Security.Cryptography;
using MnasNet.SearchSpace;
using MnasNet.Torch;
using TorchSharp;
using static TorchSharp.torch;

namespace MnasNet.Controller;

/// <summary>
/// The MnasNet controller: an LSTM policy (<see cref="ControllerPolicy"/>) trained with PPO on batches of rewarded
/// samples. Not thread-safe: one owner (the controller actor) calls it. Its whole state — parameters, Adam moments and
/// step, baseline, random state, update count and options — round-trips through <see cref="SaveState"/> and
/// <see cref="Restore"/> exactly, so a restored controller continues with bit-identical samples and updates.
/// </summary>
/// <remarks>
/// The advantage baseline is an exponential moving average of rewards rather than a learned value head: every
/// architecture starts from the same (empty) state, so a value head could only learn the mean reward anyway — which
/// the moving average gives with no parameters, no extra loss to tune and nothing that can lag behind the policy.
/// The first batch initialises it to its own mean.
/// </remarks>
public sealed class PpoController : IArchitectureSampler
{
    internal const string Magic = "MNASPPO1";
    private const int FormatVersion = 1;

    private readonly ControllerPolicy _policy;
    private readonly AdamOptimizer _adam;
    private SeededRandom _random;
    private string? _hash;

    public PpoController(ControllerOptions options, MnasNetSearchSpace? space = null)
    {
        Options = (options ?? throw new ArgumentNullException(nameof(options))).Validate();
        if (Options.Engine != ControllerEngines.Libtorch)
        {
            throw new ControllerException($"controller option Engine: PpoController is the libtorch engine, got '{Options.Engine}' (ArchitectureSamplers.Create picks the engine)");
        }
        Space = space ?? MnasNetSearchSpace.Default;
        TorchRuntime.EnsureLoaded(Options.Threads);
        _policy = new ControllerPolicy(Space, Options.LstmLayers, Options.HiddenSize, Options.EmbeddingSize);
        _policy.Initialize(new SeededRandom(SeededRandom.Derive(Options.Seed, "controller-init")), Options.InitRange);
        _adam = new AdamOptimizer(_policy.parameters(), Options.LearningRate, Options.AdamBeta1, Options.AdamBeta2, Options.AdamEpsilon);
        _random = new SeededRandom(SeededRandom.Derive(Options.Seed, "controller-sample"));
    }

    public ControllerOptions Options { get; private set; }
    public MnasNetSearchSpace Space { get; }

    /// <summary>PPO updates applied so far.</summary>
    public long UpdateCount { get; private set; }

    /// <summary>The moving-average baseline; null until the first update.</summary>
    public double? Baseline { get; private set; }

    public PolicyUpdate? LastUpdate { get; private set; }

    public string Strategy => SearchStrategies.Ppo;

    public string Version => ParameterHash;

    /// <summary>The current random state (four words): with the parameters it fixes the next samples.</summary>
    public IReadOnlyList<ulong> RandomState => _random.State;

    public long ParameterCount => _policy.parameters().Sum(p => p.numel());

    /// <summary>
    /// SHA-256 over every parameter's name and raw little-endian float32 bytes, in registration order; the first 16
    /// hex digits. Identifies a policy version.
    /// </summary>
    public string ParameterHash => _hash ??= ComputeParameterHash();

    /// <summary>Draws <paramref name="count"/> architectures in one batched pass; consumes random state.</summary>
    public IReadOnlyList<Proposal> Sample(int count)
    {
        PpoInputs.CheckCount(count);
        // Callers (actors) come on any pool thread, and a thread's intra-op count decides the last bits.
        if (Options.Threads is { } threads)
        {
            TorchRuntime.SetThreads(threads);
        }
        var (tokens, logProb, _) = _policy.Sample(count, Options.Temperature, _random);
        var version = ParameterHash;
        return tokens.Select((t, j) => new Proposal(t, logProb[j], version)).ToArray();
    }

    internal ControllerPolicy Policy => _policy;

    /// <summary>What <see cref="Sample"/> (or, greedy, <see cref="Greedy"/>) must give, by the plain per-step loop; only tests call it.</summary>
    internal IReadOnlyList<Proposal> ReferenceSample(int count, bool greedy = false)
    {
        PpoInputs.CheckCount(count);
        var (tokens, logProb, _) = _policy.ReferenceSample(count, Options.Temperature, greedy ? null : _random);
        var version = ParameterHash;
        return tokens.Select((t, j) => new Proposal(t, logProb[j], version)).ToArray();
    }

    /// <summary>
    /// Moves the random state past <paramref name="count"/> samples without drawing them: sampling takes exactly one
    /// uniform per decision and sample, whatever the probabilities, so this is what <see cref="Sample"/> would leave
    /// behind. Recovery uses it: the journal already holds the samples.
    /// </summary>
    public void SkipSamples(int count)
    {
        PpoInputs.CheckCount(count);
        for (long k = 0; k < (long)count * Space.DecisionCount; k++)
        {
            _random.NextDouble();
        }
    }

    /// <summary>The most likely choice at every step (no random state used), with its log-probability.</summary>
    public Proposal Greedy()
    {
        var (tokens, logProb, _) = _policy.Sample(1, Options.Temperature, null);
        return new Proposal(tokens[0], logProb[0], ParameterHash);
    }

    /// <summary>Log-probability and entropy of token sequences under the current policy (batched, no gradients).</summary>
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
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        using var tokens = TokensTensor(sequences);
        var (logProb, entropy) = _policy.Evaluate(tokens, Options.Temperature);
        var lp = logProb.data<float>().ToArray();
        var en = entropy.data<float>().ToArray();
        return lp.Select((v, j) => new SequenceScore(v, en[j])).ToArray();
    }

    public double LogProb(IReadOnlyList<int> tokens) => Score([tokens])[0].LogProb;

    SamplerStep IArchitectureSampler.Observe(IReadOnlyList<ScoredSample> batch)
    {
        var u = Update(batch);
        return new SamplerStep(u.ParameterHashBefore, u.ParameterHash, u.Advantages, u.PolicyLoss, u.MeanEntropy, u.ApproxKl, u.ClipFraction, u.BaselineBefore, u.BaselineAfter);
    }

    /// <summary>
    /// One PPO update on a batch: advantages from the moving-average baseline, <see cref="ControllerOptions.Epochs"/>
    /// Adam steps on the clipped surrogate minus the entropy bonus, then the baseline moves toward the batch mean.
    /// Uses no random state, so it is a pure function of the state and the batch.
    /// </summary>
    public PolicyUpdate Update(IReadOnlyList<ScoredSample> batch)
    {
        ArgumentNullException.ThrowIfNull(batch);
        if (Options.Threads is { } threads)
        {
            TorchRuntime.SetThreads(threads);
        }
        var oldLogProb = PpoInputs.SampledLogProbs(Space, batch);

        var rewards = batch.Select(s => s.Reward).ToArray();
        var advantages = Advantages(rewards, Baseline, Options.NormalizeAdvantages, Options.Advantage, out var baselineBefore);
        var entropyCoefficient = EntropyCoefficientAt(UpdateCount);
        var hashBefore = ParameterHash;

        double policyLoss = 0, entropyLoss = 0, totalLoss = 0, meanEntropy = 0, approxKl = 0, clipFraction = 0, gradNorm = 0;
        using (var scope = NewDisposeScope())
        {
            var tokens = TokensTensor(batch.Select(s => s.Tokens).ToArray());
            var old = tensor(oldLogProb.Select(v => (float)v).ToArray());
            var adv = tensor(advantages.Select(v => (float)v).ToArray());
            var eps = Options.ClipEpsilon;
            // Scalars held in locals for the whole update: see KeptScalars.
            using var clipLow = (1 - eps).ToScalar();
            using var clipHigh = (1 + eps).ToScalar();
            using var clipEpsilon = eps.ToScalar();
            using var entropyWeight = (-entropyCoefficient).ToScalar();
            for (var epoch = 0; epoch < Options.Epochs; epoch++)
            {
                using var stepScope = NewDisposeScope();
                _adam.ZeroGrad();
                var (logProb, entropy) = _policy.Evaluate(tokens, Options.Temperature);
                var logRatio = logProb - old;
                var ratio = logRatio.exp();
                var surrogate = torch.min(ratio * adv, ratio.clamp(clipLow, clipHigh) * adv);
                var policy = -surrogate.mean();
                var meanEnt = entropy.mean();
                var entropyTerm = meanEnt.mul(entropyWeight);
                var total = policy.add(entropyTerm, KeptScalars.One);
                total.backward();
                gradNorm = nn.utils.clip_grad_norm_(_policy.parameters(), Options.MaxGradNorm);
                _adam.Step();

                policyLoss = policy.item<float>();
                entropyLoss = entropyTerm.item<float>();
                totalLoss = total.item<float>();
                meanEntropy = meanEnt.item<float>();
                approxKl = (-logRatio).mean().item<float>();
                clipFraction = ratio.sub(KeptScalars.One).abs().gt(clipEpsilon).to_type(ScalarType.Float32).mean().item<float>();
            }
        }

        _hash = null;
        var mean = rewards.Average();
        Baseline = Options.BaselineDecay * baselineBefore + (1 - Options.BaselineDecay) * mean;
        UpdateCount++;
        LastUpdate = new PolicyUpdate(UpdateCount, policyLoss, entropyLoss, totalLoss, meanEntropy, approxKl, clipFraction,
            gradNorm, advantages, baselineBefore, Baseline.Value, hashBefore, ParameterHash);
        return LastUpdate;
    }

    /// <summary>The entropy weight of the update after <paramref name="updatesDone"/> updates (see <see cref="ControllerOptions.EntropyDecayUpdates"/>).</summary>
    public double EntropyCoefficientAt(long updatesDone) => Options.EntropyCoefficientAt(updatesDone);

    /// <summary>Advantages in any <see cref="AdvantageModes"/> mode; "baseline" is <see cref="Advantages(IReadOnlyList{double}, double?, bool, out double)"/>.</summary>
    public static double[] Advantages(IReadOnlyList<double> rewards, double? baseline, bool normalize, string mode, out double baselineUsed)
    {
        switch (mode)
        {
            case AdvantageModes.Baseline:
                return Advantages(rewards, baseline, normalize, out baselineUsed);
            case AdvantageModes.Batch:
                baselineUsed = baseline ?? rewards.Average();
                return Advantages(rewards, null, normalize, out _);
            case AdvantageModes.Rank:
                baselineUsed = baseline ?? rewards.Average();
                return Advantages(CentredRanks(rewards), null, normalize, out _);
            default:
                throw new ControllerException($"advantage mode '{mode}': expected one of {string.Join(", ", AdvantageModes.All)}");
        }
    }

    /// <summary>Rank of each reward in the batch (ties share their mean rank), mapped to [−0.5, 0.5].</summary>
    private static double[] CentredRanks(IReadOnlyList<double> rewards)
    {
        var n = rewards.Count;
        var ranks = new double[n];
        if (n == 1)
        {
            return ranks;
        }
        var order = Enumerable.Range(0, n).OrderBy(j => rewards[j]).ThenBy(j => j).ToArray();
        for (var start = 0; start < n;)
        {
            var end = start;
            while (end + 1 < n && rewards[order[end + 1]] == rewards[order[start]])
            {
                end++;
            }
            var mean = (start + end) / 2.0;
            for (var k = start; k <= end; k++)
            {
                ranks[order[k]] = mean / (n - 1) - 0.5;
            }
            start = end + 1;
        }
        return ranks;
    }

    /// <summary>
    /// reward − baseline (the batch mean when there is no baseline yet), divided by the rewards' population standard
    /// deviation when normalising and that deviation is above 1e-12. Pure; exposed for replay.
    /// </summary>
    public static double[] Advantages(IReadOnlyList<double> rewards, double? baseline, bool normalize, out double baselineUsed)
    {
        var mean = rewards.Average();
        baselineUsed = baseline ?? mean;
        var b = baselineUsed;
        var advantages = rewards.Select(r => r - b).ToArray();
        if (normalize && rewards.Count > 1)
        {
            var variance = rewards.Sum(r => (r - mean) * (r - mean)) / rewards.Count;
            var std = Math.Sqrt(variance);
            if (std > 1e-12)
            {
                for (var j = 0; j < advantages.Length; j++)
                {
                    advantages[j] /= std;
                }
            }
        }
        return advantages;
    }

    /// <summary>The whole state as bytes (see the class remarks); framed and checksummed.</summary>
    public byte[] SaveState() => StateCodec.Write(Magic, FormatVersion, w =>
    {
        w.Write(PpoStates.OptionsJson(Options));
        w.Write(UpdateCount);
        w.Write(Baseline.HasValue);
        w.Write(Baseline ?? 0.0);
        StateCodec.WriteRandom(w, _random);
        w.Write(_adam.Steps);
        var named = _policy.named_parameters().ToArray();
        w.Write(named.Length);
        for (var i = 0; i < named.Length; i++)
        {
            w.Write(named[i].name);
            WriteFloats(w, named[i].parameter);
            WriteFloats(w, _adam.ExpAvg[i]);
            WriteFloats(w, _adam.ExpAvgSq[i]);
        }
    }, capacity: (int)Math.Min(int.MaxValue, 3 * sizeof(float) * ParameterCount + 4096));

    /// <summary>A warm start's state from a saved state of either engine (see <see cref="PpoStates.WarmStart"/>).</summary>
    public static byte[] WarmStartState(byte[] source, ControllerOptions options) => PpoStates.WarmStart(source, options);

    /// <summary>A controller that continues exactly where the saved one was.</summary>
    public static PpoController Restore(byte[] state) => StateCodec.Read(state, Magic, FormatVersion, "PPO controller", r =>
    {
        var controller = new PpoController(PpoStates.ReadOptions(r));
        try
        {
            controller.UpdateCount = r.ReadInt64();
            var hasBaseline = r.ReadBoolean();
            var baseline = r.ReadDouble();
            controller.Baseline = hasBaseline ? baseline : null;
            controller._random = StateCodec.ReadRandom(r);
            controller._adam.Steps = r.ReadInt64();
            var named = controller._policy.named_parameters().ToArray();
            var count = r.ReadInt32();
            if (count != named.Length)
            {
                throw new ControllerException($"PPO controller state: {count} parameters, the policy has {named.Length}");
            }
            for (var i = 0; i < named.Length; i++)
            {
                var name = r.ReadString();
                if (name != named[i].name)
                {
                    throw new ControllerException($"PPO controller state: parameter {i} is '{name}', expected '{named[i].name}'");
                }
                ReadFloats(r, named[i].parameter, name);
                ReadFloats(r, controller._adam.ExpAvg[i], name);
                ReadFloats(r, controller._adam.ExpAvgSq[i], name);
            }
            controller._hash = null;
            return controller;
        }
        catch
        {
            controller.Dispose();
            throw;
        }
    });

    public void Dispose()
    {
        _adam.Dispose();
        _policy.Dispose();
    }

    /// <summary>All parameters, flattened in registration order (what <see cref="ParameterHash"/> hashes).</summary>
    IReadOnlyList<float> IArchitectureSampler.ParameterValues() => ParameterValues();

    /// <summary>LSTM arithmetic depends on the libtorch kernels, so equal bits hold only on the writing platform.</summary>
    public bool ExactArithmetic => false;

    public int? Threads => Options.Threads;

    /// <summary>The thread count is saved with the options, so a state saved after this carries the new count.</summary>
    public void ContinueWithThreads(int threads)
    {
        Options = (Options with { Threads = threads }).Validate();
        TorchRuntime.SetThreads(threads);
    }

    public float[] ParameterValues()
    {
        using var scope = NewDisposeScope();
        return _policy.parameters().SelectMany(p => p.detach().contiguous().data<float>().ToArray()).ToArray();
    }

    private string ComputeParameterHash()
    {
        using var sha = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        using var scope = NewDisposeScope();
        foreach (var (name, p) in _policy.named_parameters())
        {
            sha.AppendData(System.Text.Encoding.UTF8.GetBytes(name));
            sha.AppendData(MemoryMarshal.AsBytes(p.detach().contiguous().data<float>().ToArray().AsSpan()));
        }
        return Convert.ToHexStringLower(sha.GetHashAndReset())[..16];
    }

    private Tensor TokensTensor(IReadOnlyList<IReadOnlyList<int>> sequences)
    {
        var flat = new long[sequences.Count * Space.DecisionCount];
        for (var j = 0; j < sequences.Count; j++)
        {
            for (var i = 0; i < Space.DecisionCount; i++)
            {
                flat[j * Space.DecisionCount + i] = sequences[j][i];
            }
        }
        return tensor(flat).reshape(sequences.Count, Space.DecisionCount);
    }

    private static void WriteFloats(BinaryWriter w, Tensor t)
    {
        using var scope = NewDisposeScope();
        var source = t.detach().contiguous();
        var length = (int)source.numel();
        var values = ArrayPool<float>.Shared.Rent(length);
        try
        {
            source.data<float>().CopyTo(values, 0, 0);
            w.Write(length);
            w.Write(MemoryMarshal.AsBytes(values.AsSpan(0, length)));
        }
        finally
        {
            ArrayPool<float>.Shared.Return(values);
        }
    }

    private static void ReadFloats(BinaryReader r, Tensor target, string name)
    {
        var length = r.ReadInt32();
        if (length != target.numel())
        {
            throw new ControllerException($"PPO controller state: parameter '{name}' has {length} values, expected {target.numel()}");
        }
        var bytes = r.ReadBytes(length * sizeof(float));
        if (bytes.Length != length * sizeof(float))
        {
            throw new EndOfStreamException();
        }
        var values = MemoryMarshal.Cast<byte, float>(bytes).ToArray();
        using var _ = no_grad();
        using var source = tensor(values).reshape(target.shape);
        target.copy_(source);
    }
}
