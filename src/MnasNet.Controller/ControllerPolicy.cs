using MnasNet.SearchSpace;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace MnasNet.Controller;

/// <summary>
/// The controller network: a stack of LSTM cells unrolled over the 42 decisions. Step i reads the embedding of
/// decision i−1's choice (a learned start token at step 0) and a softmax head for decision i's kind gives its
/// distribution, with the choices the search space does not allow masked out.
/// </summary>
/// <remarks>
/// Embeddings are per decision kind (one table, each kind owning a slice of rows): choice 1 of "kernel" and choice 1
/// of "skip" mean different things, so they must not share a vector, while the same choice in different blocks
/// does mean the same thing and shares one (as NASNet's controller does); the LSTM state carries the position.
/// </remarks>
public sealed class ControllerPolicy : nn.Module
{
    /// <summary>Masked logits are set to this (after temperature): exp underflows to exactly 0, no NaN from −∞.</summary>
    private const float MaskedLogit = -1e9f;

    public readonly Parameter start;
    public readonly Embedding embedding;
    public readonly ModuleList<LSTMCell> cells;
    public readonly ModuleList<Linear> heads;

    private readonly int[] _kindOfDecision;
    private readonly long[] _embeddingOffset;
    private readonly Tensor?[] _disallowed;
    private readonly bool[][] _allowed;

    public MnasNetSearchSpace Space { get; }
    public int HiddenSize { get; }
    public int Layers { get; }

    public ControllerPolicy(MnasNetSearchSpace space, int layers, int hiddenSize, int embeddingSize) : base(nameof(ControllerPolicy))
    {
        Space = space;
        HiddenSize = hiddenSize;
        Layers = layers;
        var kinds = Enum.GetValues<DecisionKind>();
        var offsets = new long[kinds.Length];
        long rows = 0;
        foreach (var kind in kinds)
        {
            offsets[(int)kind] = rows;
            rows += space.ChoiceCount(kind);
        }
        start = new Parameter(zeros(1, embeddingSize));
        embedding = nn.Embedding(rows, embeddingSize);
        cells = nn.ModuleList(Enumerable.Range(0, layers).Select(l => nn.LSTMCell(l == 0 ? embeddingSize : hiddenSize, hiddenSize)).ToArray());
        heads = nn.ModuleList(kinds.Select(k => nn.Linear(hiddenSize, space.ChoiceCount(k))).ToArray());
        RegisterComponents();

        _kindOfDecision = space.Decisions.Select(d => (int)d.Kind).ToArray();
        _embeddingOffset = space.Decisions.Select(d => offsets[(int)d.Kind]).ToArray();
        _allowed = space.Decisions.Select(d => d.Allowed.ToArray()).ToArray();
        _disallowed = _allowed.Select(a => a.All(x => x) ? null : tensor(a.Select(x => !x).ToArray())).ToArray();
    }

    public int DecisionCount => _kindOfDecision.Length;

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

    /// <summary>Sum over decisions of log π(token) and of the per-decision entropy, with gradients. tokens: [B, 42] int64.</summary>
    public (Tensor LogProb, Tensor Entropy) Evaluate(Tensor tokens, double temperature)
    {
        var batch = (int)tokens.shape[0];
        return Unroll(batch, temperature, (i, _) => tokens[TensorIndex.Colon, i]);
    }

    /// <summary>
    /// Samples <paramref name="count"/> sequences at once (one LSTM step per decision for the whole batch). Each
    /// choice is drawn by inverse CDF from the softmax computed in double, with one <see cref="SeededRandom.NextDouble"/>
    /// per sample per decision (decision-major order), so the result is a function of the parameters, the random
    /// state and the count only. Greedy takes the most likely allowed choice (lowest index on ties) and draws nothing.
    /// </summary>
    public (int[][] Tokens, double[] LogProb, double[] Entropy) Sample(int count, double temperature, SeededRandom? random)
    {
        var result = new int[count][];
        for (var j = 0; j < count; j++)
        {
            result[j] = new int[DecisionCount];
        }
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        var (logProb, entropy) = Unroll(count, temperature, (i, logits) =>
        {
            var width = (int)logits.shape[1];
            var values = logits.contiguous().data<float>().ToArray();
            var chosen = new long[count];
            for (var j = 0; j < count; j++)
            {
                var row = values.AsSpan(j * width, width);
                var c = random is null ? ArgMax(row, _allowed[i]) : InverseCdf(row, _allowed[i], random.NextDouble());
                chosen[j] = c;
                result[j][i] = c;
            }
            return tensor(chosen);
        });
        return (result, ToDoubles(logProb), ToDoubles(entropy));
    }

    private (Tensor LogProb, Tensor Entropy) Unroll(int batch, double temperature, Func<int, Tensor, Tensor> choose)
    {
        var h = new Tensor[Layers];
        var c = new Tensor[Layers];
        for (var l = 0; l < Layers; l++)
        {
            h[l] = zeros(batch, HiddenSize);
            c[l] = zeros(batch, HiddenSize);
        }
        var x = start.expand(batch, start.shape[1]);
        Tensor? logProb = null;
        Tensor? entropy = null;
        for (var i = 0; i < DecisionCount; i++)
        {
            for (var l = 0; l < Layers; l++)
            {
                (h[l], c[l]) = cells[l].call(x, (h[l], c[l]));
                x = h[l];
            }
            var logits = heads[_kindOfDecision[i]].call(x);
            if (temperature != 1.0)
            {
                logits = logits / temperature;
            }
            if (_disallowed[i] is { } mask)
            {
                logits = logits.masked_fill(mask, MaskedLogit);
            }
            var logSoftmax = logits.log_softmax(1);
            var token = choose(i, logits);
            var stepLogProb = logSoftmax.gather(1, token.unsqueeze(1)).squeeze(1);
            var stepEntropy = -(logSoftmax.exp() * logSoftmax).sum(1);
            logProb = logProb is null ? stepLogProb : logProb + stepLogProb;
            entropy = entropy is null ? stepEntropy : entropy + stepEntropy;
            x = embedding.call(token + _embeddingOffset[i]);
        }
        return (logProb!, entropy!);
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

    private static int InverseCdf(ReadOnlySpan<float> logits, bool[] allowed, double u)
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
            weights[k] = allowed[k] ? Math.Exp(logits[k] - max) : 0.0;
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

    private static double[] ToDoubles(Tensor t) => t.to_type(ScalarType.Float32).data<float>().ToArray().Select(v => (double)v).ToArray();

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            foreach (var m in _disallowed)
            {
                m?.Dispose();
            }
        }
        base.Dispose(disposing);
    }
}
