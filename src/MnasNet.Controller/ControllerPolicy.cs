using MnasNet.SearchSpace;
using MnasNet.Torch;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace MnasNet.Controller;

/// <summary>
/// The controller network: an LSTM unrolled over the 42 decisions. Step i reads the embedding of decision i−1's
/// choice (a learned start token at step 0) and the softmax head of decision i's kind gives its distribution, with
/// the choices the search space does not allow masked out.
/// </summary>
/// <remarks>
/// Embeddings are per decision kind (one table, each kind owning a slice of rows): choice 1 of "kernel" and choice 1
/// of "skip" mean different things, so they must not share a vector, while the same choice in different blocks
/// does mean the same thing and shares one (as NASNet's controller does); the LSTM state carries the position.
/// Scoring a known sequence (<see cref="Evaluate"/>) runs the LSTM over the whole teacher-forced sequence at once and
/// each head over its kind's 7 positions at once, so a PPO step costs a handful of kernels instead of 42×15; sampling
/// must go step by step, and then scores what it drew with <see cref="Evaluate"/>, so the log-probability it returns
/// is exactly what <see cref="Evaluate"/> gives for the same batch.
/// </remarks>
public sealed partial class ControllerPolicy : nn.Module
{
    /// <summary>Masked logits are set to this (after temperature): exp underflows to exactly 0, no NaN from −∞.</summary>
    private const float MaskedLogit = -1e9f;

    private static readonly Scalar MaskedLogitScalar = MaskedLogit.ToScalar();

    public readonly Parameter start;
    public readonly Embedding embedding;
    public readonly LSTM lstm;
    public readonly ModuleList<Linear> heads;

    private readonly int[] _kindOfDecision;
    private readonly long[] _embeddingOffset;
    private readonly Tensor _offsets;
    private readonly Tensor[] _positionsOfKind;
    private readonly Tensor?[] _disallowedOfKind;
    private readonly bool[][] _allowed;
    private readonly int _maxChoices;

    public MnasNetSearchSpace Space { get; }
    public int HiddenSize { get; }
    public int Layers { get; }

    public ControllerPolicy(MnasNetSearchSpace space, int layers, int hiddenSize, int embeddingSize) : base(nameof(ControllerPolicy))
    {
        Space = space;
        HiddenSize = hiddenSize;
        Layers = layers;
        var kinds = Enum.GetValues<DecisionKind>();
        var kindOffsets = new long[kinds.Length];
        long rows = 0;
        foreach (var kind in kinds)
        {
            kindOffsets[(int)kind] = rows;
            rows += space.ChoiceCount(kind);
        }
        start = new Parameter(zeros(1, 1, embeddingSize));
        embedding = nn.Embedding(rows, embeddingSize);
        lstm = nn.LSTM(embeddingSize, hiddenSize, numLayers: layers);
        heads = nn.ModuleList(kinds.Select(k => nn.Linear(hiddenSize, space.ChoiceCount(k))).ToArray());
        RegisterComponents();

        _kindOfDecision = space.Decisions.Select(d => (int)d.Kind).ToArray();
        _embeddingOffset = space.Decisions.Select(d => kindOffsets[(int)d.Kind]).ToArray();
        _allowed = space.Decisions.Select(d => d.Allowed.ToArray()).ToArray();
        _maxChoices = kinds.Max(space.ChoiceCount);
        _offsets = tensor(_embeddingOffset).DetachFromDisposeScope();
        _positionsOfKind = kinds.Select(k => tensor(space.Decisions.Where(d => d.Kind == k).Select(d => (long)d.Index).ToArray()).DetachFromDisposeScope()).ToArray();
        _disallowedOfKind = kinds.Select(k =>
        {
            var decisions = space.Decisions.Where(d => d.Kind == k).ToArray();
            if (decisions.All(d => d.Allowed.All(a => a)))
            {
                return null;
            }
            var mask = decisions.SelectMany(d => d.Allowed.Select(a => !a)).ToArray();
            return tensor(mask).reshape(decisions.Length, 1, space.ChoiceCount(k)).DetachFromDisposeScope();
        }).ToArray();
    }

    public int DecisionCount => _kindOfDecision.Length;

    /// <summary>Tests only: sees every sampling step's logits (samples × choices, row-major), so two paths can be compared bit for bit.</summary>
    internal Action<ReadOnlyMemory<float>>? LogitsObserver { get; set; }

    /// <summary>Every parameter uniform in [−range, range], drawn from <paramref name="random"/> in name order.</summary>
    public void Initialize(SeededRandom random, double range)
    {
        using var _ = no_grad();
        foreach (var (_, p) in named_parameters())
        {
            var values = new float[p.numel()];
            for (var i = 0; i < values.Length; i++)
            {
                values[i] = (float)((random.NextDouble() * 2 - 1) * range);
            }
            using var t = tensor(values).reshape(p.shape);
            p.copy_(t);
        }
    }

    /// <summary>
    /// Sum over decisions of log π(token) and of the per-decision entropy, with gradients. tokens: [B, 42] int64.
    /// Summation order is fixed (kinds in enum order, positions in order), so results are reproducible.
    /// </summary>
    public (Tensor LogProb, Tensor Entropy) Evaluate(Tensor tokens, double temperature)
    {
        using var scope = NewDisposeScope();
        var batch = tokens.shape[0];
        using var temperatureScalar = temperature.ToScalar();
        var embedded = embedding.call(tokens.add(_offsets, KeptScalars.One));               // [B, 42, E]
        var inputs = cat([start.expand(batch, 1, start.shape[2]), embedded.narrow(1, 0, DecisionCount - 1)], 1);
        var (output, _, _) = lstm.call(inputs.transpose(0, 1));                              // [42, B, H]
        Tensor? logProb = null;
        Tensor? entropy = null;
        for (var k = 0; k < heads.Count; k++)
        {
            var logits = heads[k].call(output.index_select(0, _positionsOfKind[k]));          // [7, B, C]
            if (temperature != 1.0)
            {
                logits = logits / temperatureScalar;
            }
            if (_disallowedOfKind[k] is { } mask)
            {
                logits = logits.masked_fill(mask, MaskedLogitScalar);
            }
            var logSoftmax = logits.log_softmax(2);
            var chosen = tokens.index_select(1, _positionsOfKind[k]).t().unsqueeze(2);        // [7, B, 1]
            var kindLogProb = logSoftmax.gather(2, chosen).squeeze(2).sum(dim: 0);
            var kindEntropy = -(logSoftmax.exp() * logSoftmax).sum(dim: 2).sum(dim: 0);
            logProb = logProb is null ? kindLogProb : logProb.add(kindLogProb, KeptScalars.One);
            entropy = entropy is null ? kindEntropy : entropy.add(kindEntropy, KeptScalars.One);
        }
        return (logProb!.MoveToOuterDisposeScope(), entropy!.MoveToOuterDisposeScope());
    }

    /// <summary>
    /// Samples <paramref name="count"/> sequences at once (one LSTM step per decision for the whole batch). Each
    /// choice is drawn by inverse CDF from the softmax computed in double, with one <see cref="SeededRandom.NextDouble"/>
    /// per sample per decision (decision-major order), so the result is a function of the parameters, the random
    /// state and the count only. Greedy takes the most likely allowed choice (lowest index on ties) and draws nothing.
    /// </summary>
    public (int[][] Tokens, double[] LogProb, double[] Entropy) Sample(int count, double temperature, SeededRandom? random)
    {
        var (result, flat) = DrawTokens(count, temperature, random);
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        var (logProb, entropy) = Evaluate(tensor(flat).reshape(count, DecisionCount), temperature);
        return (result, ToDoubles(logProb), ToDoubles(entropy));
    }

    /// <summary>
    /// The step-by-step draw of <see cref="Sample"/>: the same libtorch operations on the same shapes as the plain
    /// loop in <see cref="ReferenceSample"/> (so the same bits), with the intermediate tensors of a step freed as soon
    /// as the next step no longer needs them and the logits copied into one reused buffer.
    /// </summary>
    private (int[][] Tokens, long[] Flat) DrawTokens(int count, double temperature, SeededRandom? random)
    {
        var result = new int[count][];
        for (var j = 0; j < count; j++)
        {
            result[j] = new int[DecisionCount];
        }
        var flat = new long[count * DecisionCount];
        var index = new long[count];
        var values = new float[count * _maxChoices];
        using var outer = NewDisposeScope();
        using var _ = no_grad();
        var step = new LstmStep(lstm, Layers);
        var h = Enumerable.Range(0, Layers).Select(_ => zeros(count, HiddenSize)).ToArray();
        var c = Enumerable.Range(0, Layers).Select(_ => zeros(count, HiddenSize)).ToArray();
        var x = start.reshape(1, start.shape[2]).expand(count, start.shape[2]);
        for (var i = 0; i < DecisionCount; i++)
        {
            Tensor next;
            using (var stepScope = NewDisposeScope())
            {
                var top = step.AdvanceFreeing(x, h, c);
                using var logits = heads[_kindOfDecision[i]].call(top);
                var width = (int)logits.shape[1];
                logits.data<float>().CopyTo(values, 0, 0);
                LogitsObserver?.Invoke(values.AsMemory(0, count * width));
                var allowed = _allowed[i];
                var offset = _embeddingOffset[i];
                for (var j = 0; j < count; j++)
                {
                    var row = values.AsSpan(j * width, width);
                    var choice = random is null ? ArgMax(row, allowed) : InverseCdf(row, allowed, temperature, random.NextDouble());
                    result[j][i] = choice;
                    flat[j * DecisionCount + i] = choice;
                    index[j] = choice + offset;
                }
                next = embedding.call(tensor(index)).MoveToOuterDisposeScope();
                for (var l = 0; l < Layers; l++)
                {
                    h[l].MoveToOuterDisposeScope();
                    c[l].MoveToOuterDisposeScope();
                }
            }
            x.Dispose();
            x = next;
        }
        return (result, flat);
    }

    private static int ArgMax(ReadOnlySpan<float> logits, bool[] allowed)
    {
        var best = -1;
        for (var k = 0; k < logits.Length; k++)
        {
            if (allowed[k] && (best < 0 || logits[k] > logits[best]))
            {
                best = k;
            }
        }
        return best;
    }

    private static int InverseCdf(ReadOnlySpan<float> logits, bool[] allowed, double temperature, double u)
    {
        var max = double.NegativeInfinity;
        for (var k = 0; k < logits.Length; k++)
        {
            if (allowed[k])
            {
                max = Math.Max(max, logits[k]);
            }
        }
        Span<double> weights = stackalloc double[logits.Length];
        var total = 0.0;
        for (var k = 0; k < logits.Length; k++)
        {
            weights[k] = allowed[k] ? Math.Exp((logits[k] - max) / temperature) : 0.0;
            total += weights[k];
        }
        var target = u * total;
        var cumulative = 0.0;
        var last = -1;
        for (var k = 0; k < logits.Length; k++)
        {
            if (!allowed[k])
            {
                continue;
            }
            last = k;
            cumulative += weights[k];
            if (target < cumulative)
            {
                return k;
            }
        }
        return last;
    }

    private static double[] ToDoubles(Tensor t) => t.data<float>().ToArray().Select(v => (double)v).ToArray();

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            _offsets.Dispose();
            foreach (var t in _positionsOfKind.Concat(_disallowedOfKind))
            {
                t?.Dispose();
            }
        }
        base.Dispose(disposing);
    }
}

/// <summary>
/// One time step of <see cref="ControllerPolicy.lstm"/> written out with its own weights (PyTorch's gate order i, f,
/// g, o): per step it is cheaper than calling the sequence module with length 1. Only sampling uses it; all
/// log-probabilities come from the sequence module.
/// </summary>
internal sealed class LstmStep
{
    private readonly (Tensor WeightIhT, Tensor WeightHhT, Tensor Bias)[] _layers;

    public LstmStep(LSTM lstm, int layers)
    {
        _layers = Enumerable.Range(0, layers).Select(l => (
            Weight(lstm, $"weight_ih_l{l}").t(),
            Weight(lstm, $"weight_hh_l{l}").t(),
            Weight(lstm, $"bias_ih_l{l}").add(Weight(lstm, $"bias_hh_l{l}"), KeptScalars.One))).ToArray();
    }

    private static Tensor Weight(LSTM lstm, string name) =>
        lstm.get_parameter(name) ?? throw new InvalidOperationException($"LSTM has no parameter {name}");

    /// <summary>Updates h and c in place (replacing the tensors) and returns the top layer's new h.</summary>
    public Tensor Advance(Tensor x, Tensor[] h, Tensor[] c)
    {
        for (var l = 0; l < _layers.Length; l++)
        {
            var (wih, whh, bias) = _layers[l];
            var gates = addmm(bias, x, wih, 1, 1).addmm_(h[l], whh, 1, 1).chunk(4, 1);
            c[l] = (gates[1].sigmoid() * c[l]).add(gates[0].sigmoid() * gates[2].tanh(), KeptScalars.One);
            h[l] = gates[3].sigmoid() * c[l].tanh();
            x = h[l];
        }
        return x;
    }

    /// <summary>
    /// <see cref="Advance"/> with the same operations on the same shapes, so the same bits, but products and sums
    /// written into tensors this step created (fewer allocations), and the replaced h and c disposed at once.
    /// </summary>
    public Tensor AdvanceFreeing(Tensor x, Tensor[] h, Tensor[] c)
    {
        for (var l = 0; l < _layers.Length; l++)
        {
            var (wih, whh, bias) = _layers[l];
            using var gates = addmm(bias, x, wih, 1, 1).addmm_(h[l], whh, 1, 1);
            var chunks = gates.chunk(4, 1);
            var cell = chunks[1].sigmoid().mul_(c[l]);
            using (var input = chunks[0].sigmoid())
            using (var candidate = chunks[2].tanh())
            {
                cell.add_(input.mul_(candidate), KeptScalars.One);
            }
            using (var cellTanh = cell.tanh())
            {
                h[l].Dispose();
                h[l] = chunks[3].sigmoid().mul_(cellTanh);
            }
            c[l].Dispose();
            c[l] = cell;
            foreach (var chunk in chunks)
            {
                chunk.Dispose();
            }
            x = h[l];
        }
        return x;
    }
}
