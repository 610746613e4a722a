using System.Security.Cryptography;
using System.Text.Json;
using MnasNet.SearchSpace;

namespace MnasNet.Controller;

/// <summary>
/// A factorised categorical policy (one softmax per decision, masked to the allowed choices) trained with PPO's
/// clipped objective, an exponential-moving-average reward baseline and an entropy bonus. Pure double arithmetic in a
/// fixed order, so the same batches give the same parameter hash on every run; its state is a small JSON document.
/// Strategy "ppo-tabular": fast, for benchmarks and big simulations, where the LSTM controller would dominate the time.
/// Uses the learning rate, clip, epochs, entropy coefficient and baseline decay of <see cref="ControllerOptions"/>.
/// </summary>
public sealed class TabularPpoPolicy : IArchitectureSampler
{
    private const string Format = "tabular-ppo/v1";
    private readonly MnasNetSearchSpace _space;
    private readonly ControllerOptions _settings;
    private readonly double[][] _logits;

    // Each decision's softmax of the current logits, computed once after every change to them (set null on change).
    private double[][]? _probabilities;
    private SeededRandom _random;
    private double? _baseline;
    private string? _hash;

    public TabularPpoPolicy(MnasNetSearchSpace space, ControllerOptions options)
    {
        _space = space;
        _settings = options;
        _logits = space.Decisions.Select(d => new double[d.Choices.Count]).ToArray();
        _random = new SeededRandom(options.Seed);
    }

    public string Strategy => SearchStrategies.PpoTabular;

    public long Step { get; private set; }

    public string Version => _hash ??= ComputeHash();

    public IReadOnlyList<Proposal> Sample(int count)
    {
        var result = new List<Proposal>(count);
        for (var i = 0; i < count; i++)
        {
            var tokens = new int[_logits.Length];
            var logProb = 0.0;
            for (var d = 0; d < _logits.Length; d++)
            {
                var p = Probabilities(d);
                var u = _random.NextDouble();
                var c = 0;
                var acc = 0.0;
                for (var k = 0; k < p.Length; k++)
                {
                    if (p[k] == 0)
                    {
                        continue;
                    }
                    c = k;
                    acc += p[k];
                    if (u < acc)
                    {
                        break;
                    }
                }
                tokens[d] = c;
                logProb += Math.Log(p[c]);
            }
            result.Add(new Proposal(tokens, logProb, Version));
        }
        return result;
    }

    public SamplerStep Observe(IReadOnlyList<ScoredSample> batch)
    {
        var before = Version;
        var rewards = batch.Select(b => b.Reward).ToArray();
        var mean = rewards.Average();
        var baselineBefore = _baseline ?? mean;
        var advantages = rewards.Select(r => r - baselineBefore).ToArray();
        var std = Math.Sqrt(rewards.Select(r => (r - mean) * (r - mean)).Sum() / rewards.Length);
        if (std > 1e-12)
        {
            for (var i = 0; i < advantages.Length; i++)
            {
                advantages[i] /= std;
            }
        }
        double policyLoss = 0, entropy = 0, kl = 0, clipFraction = 0;
        for (var epoch = 0; epoch < _settings.Epochs; epoch++)
        {
            var grads = _logits.Select(l => new double[l.Length]).ToArray();
            policyLoss = 0;
            kl = 0;
            var clipped = 0;
            for (var i = 0; i < batch.Count; i++)
            {
                var tokens = batch[i].Tokens;
                var logNew = LogProb(tokens);
                var ratio = Math.Exp(logNew - batch[i].LogProb!.Value);
                var a = advantages[i];
                var unclipped = ratio * a;
                var clippedRatio = Math.Clamp(ratio, 1 - _settings.ClipEpsilon, 1 + _settings.ClipEpsilon);
                policyLoss -= Math.Min(unclipped, clippedRatio * a) / batch.Count;
                kl += (batch[i].LogProb!.Value - logNew) / batch.Count;
                var active = !((a > 0 && ratio > 1 + _settings.ClipEpsilon) || (a < 0 && ratio < 1 - _settings.ClipEpsilon));
                if (!active)
                {
                    clipped++;
                    continue;
                }
                var scale = a * ratio / batch.Count;
                for (var d = 0; d < _logits.Length; d++)
                {
                    var p = Probabilities(d);
                    for (var k = 0; k < p.Length; k++)
                    {
                        grads[d][k] += scale * ((k == tokens[d] ? 1.0 : 0.0) - p[k]);
                    }
                }
            }
            clipFraction = (double)clipped / batch.Count;
            entropy = 0;
            for (var d = 0; d < _logits.Length; d++)
            {
                var p = Probabilities(d);
                var h = 0.0;
                for (var k = 0; k < p.Length; k++)
                {
                    h -= p[k] > 0 ? p[k] * Math.Log(p[k]) : 0;
                }
                entropy += h;
                for (var k = 0; k < p.Length; k++)
                {
                    // dH/dz_k = -p_k (log p_k + H)
                    var dh = p[k] > 0 ? -p[k] * (Math.Log(p[k]) + h) : 0;
                    grads[d][k] += _settings.EntropyCoefficient * dh;
                }
            }
            for (var d = 0; d < _logits.Length; d++)
            {
                for (var k = 0; k < _logits[d].Length; k++)
                {
                    _logits[d][k] += _settings.LearningRate * grads[d][k];
                }
            }
            _probabilities = null;
        }
        _baseline = _baseline is null ? mean : _settings.BaselineDecay * _baseline.Value + (1 - _settings.BaselineDecay) * mean;
        Step++;
        _hash = null;
        return new SamplerStep(before, Version, advantages, policyLoss, entropy, kl, clipFraction, baselineBefore, _baseline.Value);
    }

    public double LogProb(IReadOnlyList<int> tokens)
    {
        var sum = 0.0;
        for (var d = 0; d < _logits.Length; d++)
        {
            sum += Math.Log(Probabilities(d)[tokens[d]]);
        }
        return sum;
    }

    private double[] Probabilities(int d)
    {
        _probabilities ??= new double[_logits.Length][];
        return _probabilities[d] ??= Softmax(d);
    }

    private double[] Softmax(int d)
    {
        var allowed = _space.Decisions[d].Allowed;
        var z = _logits[d];
        var max = double.NegativeInfinity;
        for (var k = 0; k < z.Length; k++)
        {
            if (allowed[k])
            {
                max = Math.Max(max, z[k]);
            }
        }
        var p = new double[z.Length];
        var sum = 0.0;
        for (var k = 0; k < z.Length; k++)
        {
            p[k] = allowed[k] ? Math.Exp(z[k] - max) : 0;
            sum += p[k];
        }
        for (var k = 0; k < z.Length; k++)
        {
            p[k] /= sum;
        }
        return p;
    }

    private string ComputeHash()
    {
        var bytes = new List<byte>();
        foreach (var row in _logits)
        {
            foreach (var v in row)
            {
                bytes.AddRange(BitConverter.GetBytes(BitConverter.DoubleToInt64Bits(v)));
            }
        }
        return Convert.ToHexStringLower(SHA256.HashData(bytes.ToArray()))[..16];
    }

    private sealed record StateDocument(string Format, long Step, double? Baseline, ulong[] Random, long[][] Logits);

    public void Dispose()
    {
    }

    public byte[] SaveState() => JsonSerializer.SerializeToUtf8Bytes(new StateDocument(
        Format, Step, _baseline, _random.State, _logits.Select(r => r.Select(BitConverter.DoubleToInt64Bits).ToArray()).ToArray()));

    /// <summary>
    /// A warm start's state: the saved policy's logits and step count with the sampling stream of
    /// <paramref name="seed"/> (what a new policy of that seed starts with) and no baseline (the first batch on the new
    /// objective sets it).
    /// </summary>
    public static byte[] WarmStartState(byte[] source, ulong seed)
    {
        var doc = JsonSerializer.Deserialize<StateDocument>(source) ?? throw new InvalidDataException("policy state: empty");
        if (doc.Format != Format)
        {
            throw new InvalidDataException($"policy state: format '{doc.Format}', expected '{Format}'");
        }
        return JsonSerializer.SerializeToUtf8Bytes(doc with { Baseline = null, Random = new SeededRandom(seed).State });
    }

    public static TabularPpoPolicy Restore(MnasNetSearchSpace space, ControllerOptions options, byte[] state)
    {
        var doc = JsonSerializer.Deserialize<StateDocument>(state) ?? throw new InvalidDataException("policy state: empty");
        if (doc.Format != Format)
        {
            throw new InvalidDataException($"policy state: format '{doc.Format}', expected '{Format}'");
        }
        var policy = new TabularPpoPolicy(space, options with { Seed = 1 }) { Step = doc.Step, _baseline = doc.Baseline, _random = SeededRandom.FromState(doc.Random) };
        for (var d = 0; d < policy._logits.Length; d++)
        {
            for (var k = 0; k < policy._logits[d].Length; k++)
            {
                policy._logits[d][k] = BitConverter.Int64BitsToDouble(doc.Logits[d][k]);
            }
        }
        return policy;
    }
}
