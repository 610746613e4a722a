using System.Runtime.Intrinsics;
using MnasNet.SearchSpace;

namespace MnasNet.Controller.Managed;

/// <summary>
/// The controller network of <see cref="ControllerPolicy"/> (one LSTM layer, per-kind embedding slices, a learned start
/// token, one softmax head per decision kind, masked choices at −1e9) in plain float32 C# with exact arithmetic:
/// every value is a pure function of the parameters and the inputs, the same for any thread count and machine.
/// </summary>
/// <remarks>
/// Parameters live in one flat array in the libtorch module's registration order and layout (so the parameter hash,
/// the saved state and a warm start carry over between engines). For speed the forward pass works on derived copies:
/// the input projection W_ih·x + b_ih + b_hh as a table over the 19 possible inputs (18 embedding rows and the start
/// token), W_hhᵀ for the per-step product, head weights transposed; rows padded to a multiple of 8 floats. Sampling
/// and scoring are the same forward pass (the first picks each step's input token as it goes), so a sampled
/// log-probability equals the score of its tokens bit for bit, whatever the batch.
/// </remarks>
internal sealed class ManagedLstmPolicy
{
    private const float MaskedLogit = -1e9f;

    private readonly int _steps;
    private readonly int _hidden;
    private readonly int _embedding;
    private readonly int _gates;
    private readonly int _hiddenPadded;
    private readonly int _embeddingPadded;
    private readonly int _rows;
    private readonly int _inputs;
    private readonly int _maxChoices;
    private readonly int[] _kindOfStep;
    private readonly int[] _offsetOfStep;
    private readonly bool[][] _allowed;
    private readonly int[] _choices;

    // Offsets into the flat parameter array.
    private readonly int _startAt, _embeddingAt, _weightIhAt, _weightHhAt, _biasIhAt, _biasHhAt;
    private readonly int[] _headWeightAt, _headBiasAt;

    // Derived weights (rebuilt by Refresh after every parameter change).
    private readonly float[] _inputTable;   // [inputs][gates] = W_ih·x + b_ih + b_hh
    private readonly float[] _x;            // [inputs][Ep]: embedding rows, then the start token
    private readonly float[] _weightIhT;    // [E][gates]
    private readonly float[] _weightIh;     // [gates][Ep]
    private readonly float[] _weightHhT;    // [H][gates]
    private readonly float[] _weightHh;     // [gates][Hp]
    private readonly float[][] _headWeightT; // [H][C]
    private readonly float[][] _headWeight;  // [C][Hp]

    // Forward caches, grown to the largest batch seen.
    private int _capacity;
    private float[] _act = [];       // [T][B][gates]: i, f, g, o after their nonlinearity
    private float[] _cell = [];      // [T][B][H]
    private float[] _cellTanh = [];  // [T][B][H]
    private float[] _hiddenStates = []; // [T][B][Hp]
    private float[][] _logitsOfPart = [[]]; // per slice of the batch [Cmax]: one sample's logits
    private double[] _uniform = [];  // [T][B]: the draws of a sampled batch
    private float[] _hiddenT = [];   // [H][Bp]: this step's h, transposed for the heads
    private float[] _logitsT = [];   // [Cmax][Bp]
    private int _batchPadded;
    private double[] _logProb = [];  // [T][B][Cmax]
    private double[] _prob = [];     // [T][B][Cmax]
    private double[] _stepEntropy = []; // [T][B]
    private int[] _input = [];       // [T][B]
    private int[] _tokens = [];      // [B][T]
    private double[] _sequenceLogProb = [];
    private double[] _sequenceEntropy = [];

    // Backward buffers.
    private float[] _dLogits = [];   // [T][B][Cmax]
    private double[] _dSequenceLogProb = []; // [B]
    private float[] _dGates = [];    // [T][B][gates]
    private float[] _dHidden = [];   // [B][Hp]
    private float[] _dCellNext = []; // [B][H]
    private readonly float[] _dWeightHh;  // [gates][Hp]
    private readonly float[] _dInputTable; // [inputs][gates]
    private readonly float[] _dWeightIh;  // [gates][Ep]
    private readonly float[] _dX;         // [inputs][Ep]
    private readonly float[][] _dHeadWeight; // [C][Hp]

    public ManagedLstmPolicy(MnasNetSearchSpace space, int hiddenSize, int embeddingSize)
    {
        Space = space;
        _steps = space.DecisionCount;
        _hidden = hiddenSize;
        _embedding = embeddingSize;
        _gates = 4 * hiddenSize;
        _hiddenPadded = Pad(hiddenSize);
        _embeddingPadded = Pad(embeddingSize);
        var kinds = Enum.GetValues<DecisionKind>();
        _choices = kinds.Select(space.ChoiceCount).ToArray();
        _maxChoices = _choices.Max();
        var kindOffsets = new int[kinds.Length];
        for (var k = 1; k < kinds.Length; k++)
        {
            kindOffsets[k] = kindOffsets[k - 1] + _choices[k - 1];
        }
        _rows = _choices.Sum();
        _inputs = _rows + 1;
        _kindOfStep = space.Decisions.Select(d => (int)d.Kind).ToArray();
        _offsetOfStep = space.Decisions.Select(d => kindOffsets[(int)d.Kind]).ToArray();
        _allowed = space.Decisions.Select(d => d.Allowed.ToArray()).ToArray();

        var names = new List<(string Name, int[] Shape)>
        {
            ("start", [1, 1, embeddingSize]),
            ("embedding.weight", [_rows, embeddingSize]),
            ("lstm.weight_ih_l0", [_gates, embeddingSize]),
            ("lstm.weight_hh_l0", [_gates, hiddenSize]),
            ("lstm.bias_ih_l0", [_gates]),
            ("lstm.bias_hh_l0", [_gates]),
        };
        for (var k = 0; k < kinds.Length; k++)
        {
            names.Add(($"heads.{k}.weight", [_choices[k], hiddenSize]));
            names.Add(($"heads.{k}.bias", [_choices[k]]));
        }
        var offsets = new int[names.Count];
        var total = 0;
        for (var i = 0; i < names.Count; i++)
        {
            offsets[i] = total;
            total += names[i].Shape.Aggregate(1, (a, b) => a * b);
        }
        Parameters = names.Select((n, i) => new ManagedParameter(n.Name, offsets[i], n.Shape.Aggregate(1, (a, b) => a * b))).ToArray();
        Values = new float[total];
        Gradient = new float[total];
        (_startAt, _embeddingAt, _weightIhAt, _weightHhAt, _biasIhAt, _biasHhAt) = (offsets[0], offsets[1], offsets[2], offsets[3], offsets[4], offsets[5]);
        _headWeightAt = kinds.Select((_, k) => offsets[6 + 2 * k]).ToArray();
        _headBiasAt = kinds.Select((_, k) => offsets[7 + 2 * k]).ToArray();

        _gateScale = Enumerable.Range(0, _gates).Select(j => j / hiddenSize == 2 ? 2f : 1f).ToArray();
        _gateShift = Enumerable.Range(0, _gates).Select(j => j / hiddenSize == 2 ? -1f : 0f).ToArray();
        _inputTable = new float[_inputs * _gates];
        _x = new float[_inputs * _embeddingPadded];
        _weightIhT = new float[_embedding * _gates];
        _weightIh = new float[_gates * _embeddingPadded];
        _weightHhT = new float[_hidden * _gates];
        _weightHh = new float[_gates * _hiddenPadded];
        _headWeightT = _choices.Select(c => new float[_hidden * c]).ToArray();
        _headWeight = _choices.Select(c => new float[c * _hiddenPadded]).ToArray();
        _dWeightHh = new float[_gates * _hiddenPadded];
        _dInputTable = new float[_inputs * _gates];
        _dWeightIh = new float[_gates * _embeddingPadded];
        _dX = new float[_inputs * _embeddingPadded];
        _dHeadWeight = _choices.Select(c => new float[c * _hiddenPadded]).ToArray();
    }

    public MnasNetSearchSpace Space { get; }

    // Per gate column: σ(s·x)·s + shift, with s = 1, shift = 0 (σ) on i, f, o and s = 2, shift = −1 (tanh) on g.
    private readonly float[] _gateScale;
    private readonly float[] _gateShift;

    private static int Pad(int n) => (n + ExactKernels.VectorWidth - 1) / ExactKernels.VectorWidth * ExactKernels.VectorWidth;

    /// <summary>Name, offset and length of every parameter in <see cref="Values"/>, in libtorch's registration order.</summary>
    public IReadOnlyList<ManagedParameter> Parameters { get; }

    /// <summary>All parameters, flat, each in libtorch's row-major layout. Call <see cref="Refresh"/> after changing them.</summary>
    public float[] Values { get; }

    /// <summary>The gradient of the last <see cref="Backward"/>, laid out as <see cref="Values"/>.</summary>
    public float[] Gradient { get; }

    public int Threads { get; set; } = 1;

    // More slices than this share the products' threads instead.
    private const int MaxSlices = 64;

    /// <summary>Every parameter uniform in [−range, range] from <paramref name="random"/> in name order (as <see cref="ControllerPolicy.Initialize"/>).</summary>
    public void Initialize(SeededRandom random, double range)
    {
        for (var i = 0; i < Values.Length; i++)
        {
            Values[i] = (float)((random.NextDouble() * 2 - 1) * range);
        }
        Refresh();
    }

    /// <summary>Rebuilds the derived weights from <see cref="Values"/>.</summary>
    public void Refresh()
    {
        _version++;
        _forwardCount = 0;
        var e = _embedding;
        var h = _hidden;
        var g = _gates;
        for (var r = 0; r < _rows; r++)
        {
            Array.Copy(Values, _embeddingAt + r * e, _x, r * _embeddingPadded, e);
        }
        Array.Copy(Values, _startAt, _x, _rows * _embeddingPadded, e);
        for (var row = 0; row < g; row++)
        {
            Array.Copy(Values, _weightIhAt + row * e, _weightIh, row * _embeddingPadded, e);
            Array.Copy(Values, _weightHhAt + row * h, _weightHh, row * _hiddenPadded, h);
            for (var col = 0; col < e; col++)
            {
                _weightIhT[col * g + row] = Values[_weightIhAt + row * e + col];
            }
            for (var col = 0; col < h; col++)
            {
                _weightHhT[col * g + row] = Values[_weightHhAt + row * h + col];
            }
        }
        for (var k = 0; k < _choices.Length; k++)
        {
            var c = _choices[k];
            for (var row = 0; row < c; row++)
            {
                Array.Copy(Values, _headWeightAt[k] + row * h, _headWeight[k], row * _hiddenPadded, h);
                for (var col = 0; col < h; col++)
                {
                    _headWeightT[k][col * c + row] = Values[_headWeightAt[k] + row * h + col];
                }
            }
        }
        for (var r = 0; r < _inputs; r++)
        {
            for (var col = 0; col < g; col++)
            {
                _inputTable[r * g + col] = Values[_biasIhAt + col] + Values[_biasHhAt + col];
            }
        }
        ExactKernels.MultiplyAdd(_x, 0, _embeddingPadded, 1, _weightIhT, 0, g, _inputTable, 0, g, _inputs, e, g);
    }

    public int StepCount => _steps;

    private long _version;
    private int _forwardCount;
    private long _forwardVersion;
    private double _forwardTemperature;

    /// <summary>
    /// Whether the caches already hold the forward pass of these tokens under the current parameters (a sampled batch
    /// coming back for its update): scoring them again would compute the same bits.
    /// </summary>
    public bool Holds(ReadOnlySpan<int> tokens, int count, double temperature) =>
        _forwardCount == count && _forwardVersion == _version && _forwardTemperature.Equals(temperature)
        && tokens.SequenceEqual(_tokens.AsSpan(0, count * _steps));

    /// <summary>Tokens of the last forward pass, [count][42] flat.</summary>
    public ReadOnlySpan<int> Tokens(int count) => _tokens.AsSpan(0, count * _steps);

    /// <summary>Log-probability of each whole sequence of the last forward pass (sum over decisions, in double).</summary>
    public ReadOnlySpan<double> SequenceLogProb(int count) => _sequenceLogProb.AsSpan(0, count);

    /// <summary>Entropy of each sequence's 42 distributions of the last forward pass, summed.</summary>
    public ReadOnlySpan<double> SequenceEntropy(int count) => _sequenceEntropy.AsSpan(0, count);

    /// <summary>Teacher-forced pass over <paramref name="tokens"/> ([count][42] flat, already validated).</summary>
    public void Score(ReadOnlySpan<int> tokens, int count, double temperature)
    {
        EnsureCapacity(count);
        tokens.CopyTo(_tokens);
        Forward(count, temperature, TokenSource.Given, null);
    }

    /// <summary>
    /// Draws <paramref name="count"/> sequences: one <see cref="SeededRandom.NextDouble"/> per sample per decision,
    /// decision-major, inverse CDF on the step's probabilities; greedy (no random) takes the largest logit, lowest
    /// index on ties.
    /// </summary>
    public void Sample(int count, double temperature, SeededRandom? random)
    {
        EnsureCapacity(count);
        Forward(count, temperature, random is null ? TokenSource.Greedy : TokenSource.Drawn, random);
    }

    private enum TokenSource
    {
        Given,
        Drawn,
        Greedy,
    }

    private void Forward(int batch, double temperature, TokenSource source, SeededRandom? random)
    {
        _forwardCount = 0;
        Array.Clear(_sequenceLogProb, 0, batch);
        Array.Clear(_sequenceEntropy, 0, batch);
        if (source == TokenSource.Drawn)
        {
            // Every sample draws once per decision whatever its probabilities, so the draws can be taken up front in
            // their decision-major order and the samples then run on any thread.
            for (var i = 0; i < _steps * batch; i++)
            {
                _uniform[i] = random!.NextDouble();
            }
        }
        ForEachSlice(batch, (first, last, part, inner) => ForwardSlice(batch, first, last, temperature, source, _logitsOfPart[part], inner));
        (_forwardCount, _forwardVersion, _forwardTemperature) = (batch, _version, temperature);
    }

    /// <summary>
    /// Runs <paramref name="slice"/> over [first, last) ranges of the batch on up to <see cref="Threads"/> threads.
    /// Every value of a sample depends on that sample alone (the products split by rows, the heads by columns), so
    /// the split never changes a bit. One slice gets the threads for its products instead.
    /// </summary>
    private void ForEachSlice(int batch, Action<int, int, int, int> slice)
    {
        var parts = Math.Clamp(Math.Min(Threads, batch / ExactKernels.VectorWidth), 1, _logitsOfPart.Length);
        if (parts == 1)
        {
            slice(0, batch, 0, Threads);
            return;
        }
        var width = ExactKernels.VectorWidth;
        Parallel.For(0, parts, new ParallelOptions { MaxDegreeOfParallelism = parts }, part =>
        {
            var first = part == 0 ? 0 : (int)((long)batch * part / parts) / width * width;
            var last = part == parts - 1 ? batch : (int)((long)batch * (part + 1) / parts) / width * width;
            slice(first, last, part, 1);
        });
    }

    private void ForwardSlice(int batch, int first, int last, double temperature, TokenSource source, float[] logitsScratch, int threads)
    {
        var g = _gates;
        var h = _hidden;
        var hp = _hiddenPadded;
        var cmax = _maxChoices;
        var n = last - first;
        var scale = (float)temperature;
        var bp = _batchPadded;
        for (var t = 0; t < _steps; t++)
        {
            var actAt = t * batch * g;
            for (var b = first; b < last; b++)
            {
                var input = t == 0 ? _rows : _offsetOfStep[t - 1] + _tokens[b * _steps + t - 1];
                _input[t * batch + b] = input;
                Array.Copy(_inputTable, input * g, _act, actAt + b * g, g);
            }
            if (t > 0)
            {
                ExactKernels.MultiplyAdd(_hiddenStates, ((t - 1) * batch + first) * hp, hp, 1, _weightHhT, 0, g, _act, actAt + first * g, g, n, h, g, threads);
            }
            var cellAt = t * batch * h;
            var hiddenAt = t * batch * hp;
            ActivateGates(_act.AsSpan(actAt + first * g, n * g));
            for (var b = first; b < last; b++)
            {
                var gate = _act.AsSpan(actAt + b * g, g);
                var cell = _cell.AsSpan(cellAt + b * h, h);
                if (t == 0)
                {
                    CellFirst(gate, h, cell);
                }
                else
                {
                    Cell(gate, h, _cell.AsSpan(cellAt - batch * h + b * h, h), cell);
                }
            }
            var cellTanh = _cellTanh.AsSpan(cellAt + first * h, n * h);
            _cell.AsSpan(cellAt + first * h, n * h).CopyTo(cellTanh);
            Tanh(cellTanh);
            for (var b = first; b < last; b++)
            {
                Multiply(_act.AsSpan(actAt + b * g + 3 * h, h), _cellTanh.AsSpan(cellAt + b * h, h), _hiddenStates.AsSpan(hiddenAt + b * hp, h));
                for (var j = 0; j < h; j++)
                {
                    _hiddenT[j * bp + b] = _hiddenStates[hiddenAt + b * hp + j];
                }
            }

            // Heads: logits[c, b] = bias[c] + Σ_j W[c, j] h[b, j], vectorised across the batch.
            var kind = _kindOfStep[t];
            var choices = _choices[kind];
            for (var c = 0; c < choices; c++)
            {
                Array.Fill(_logitsT, Values[_headBiasAt[kind] + c], c * bp + first, n);
            }
            ExactKernels.MultiplyAdd(_headWeight[kind], 0, hp, 1, _hiddenT, first, bp, _logitsT, first, bp, choices, h, n);
            var allowed = _allowed[t];
            for (var b = first; b < last; b++)
            {
                var logits = logitsScratch.AsSpan(0, choices);
                for (var c = 0; c < choices; c++)
                {
                    logits[c] = _logitsT[c * bp + b];
                }
                var at = (t * batch + b) * cmax;
                var entropy = LogSoftmax(logits, allowed, scale, temperature != 1.0, _logProb.AsSpan(at, choices), _prob.AsSpan(at, choices));
                _stepEntropy[t * batch + b] = entropy;
                var token = source switch
                {
                    TokenSource.Given => _tokens[b * _steps + t],
                    TokenSource.Drawn => InverseCdf(_prob.AsSpan(at, choices), allowed, _uniform[t * batch + b]),
                    _ => ArgMax(logits, allowed),
                };
                _tokens[b * _steps + t] = token;
                _sequenceLogProb[b] += _logProb[at + token];
                _sequenceEntropy[b] += entropy;
            }
        }
    }

    /// <summary>c = f·c_prev + i·g (gates i, f, g, o in PyTorch's order), element by element.</summary>
    private static void Cell(ReadOnlySpan<float> gate, int h, ReadOnlySpan<float> previous, Span<float> cell)
    {
        var width = Vector256<float>.Count;
        var j = 0;
        for (; j + width <= h; j += width)
        {
            var i = Vector256.Create(gate[j..]);
            var f = Vector256.Create(gate[(h + j)..]);
            var gg = Vector256.Create(gate[(2 * h + j)..]);
            (f * Vector256.Create(previous[j..]) + i * gg).CopyTo(cell[j..]);
        }
        for (; j < h; j++)
        {
            cell[j] = gate[h + j] * previous[j] + gate[j] * gate[2 * h + j];
        }
    }

    /// <summary><see cref="Cell"/> with c_prev = 0: f·0 + i·g is i·g exactly.</summary>
    private static void CellFirst(ReadOnlySpan<float> gate, int h, Span<float> cell)
    {
        for (var j = 0; j < h; j++)
        {
            cell[j] = gate[j] * gate[2 * h + j];
        }
    }

    private static void Multiply(ReadOnlySpan<float> x, ReadOnlySpan<float> y, Span<float> result)
    {
        var width = Vector256<float>.Count;
        var j = 0;
        for (; j + width <= x.Length; j += width)
        {
            (Vector256.Create(x[j..]) * Vector256.Create(y[j..])).CopyTo(result[j..]);
        }
        for (; j < x.Length; j++)
        {
            result[j] = x[j] * y[j];
        }
    }

    /// <summary>
    /// log-softmax and softmax in double of the step's logits (divided by the temperature in float, as libtorch
    /// does, then masked); returns the entropy. Masked choices get probability exactly 0.
    /// </summary>
    private static double LogSoftmax(Span<float> logits, bool[] allowed, float temperature, bool divide, Span<double> logProb, Span<double> prob)
    {
        var max = double.NegativeInfinity;
        for (var c = 0; c < logits.Length; c++)
        {
            var z = divide ? logits[c] / temperature : logits[c];
            if (!allowed[c])
            {
                z = MaskedLogit;
            }
            logProb[c] = z;
            max = Math.Max(max, z);
        }
        var sum = 0.0;
        for (var c = 0; c < logits.Length; c++)
        {
            sum += ExactMath.Exp(logProb[c] - max);
        }
        var logSum = max + ExactMath.Log(sum);
        var entropy = 0.0;
        for (var c = 0; c < logits.Length; c++)
        {
            logProb[c] -= logSum;
            prob[c] = ExactMath.Exp(logProb[c]);
            entropy -= prob[c] * logProb[c];
        }
        return entropy;
    }

    private static int InverseCdf(ReadOnlySpan<double> prob, bool[] allowed, double u)
    {
        var total = 0.0;
        for (var c = 0; c < prob.Length; c++)
        {
            total += prob[c];
        }
        var target = u * total;
        var cumulative = 0.0;
        var last = -1;
        for (var c = 0; c < prob.Length; c++)
        {
            if (!allowed[c])
            {
                continue;
            }
            last = c;
            cumulative += prob[c];
            if (target < cumulative)
            {
                return c;
            }
        }
        return last;
    }

    private static int ArgMax(ReadOnlySpan<float> logits, bool[] allowed)
    {
        var best = -1;
        for (var c = 0; c < logits.Length; c++)
        {
            if (allowed[c] && (best < 0 || logits[c] > logits[best]))
            {
                best = c;
            }
        }
        return best;
    }

    /// <summary>
    /// The gate nonlinearities of a block of rows [i f g o] in place: σ on i, f, o and tanh(x) = 2σ(2x) − 1 on g, so
    /// one vector pass with per-column factors covers the whole row; vector lanes and the scalar tail agree bit for bit.
    /// </summary>
    internal void ActivateGates(Span<float> rows)
    {
        var g = _gates;
        for (var start = 0; start < rows.Length; start += g)
        {
            var row = rows.Slice(start, g);
            var j = 0;
            if (Vector512.IsHardwareAccelerated)
            {
                for (; j + Vector512<float>.Count <= g; j += Vector512<float>.Count)
                {
                    var scale = Vector512.Create<float>(_gateScale.AsSpan(j));
                    (ExactMath.Sigmoid(Vector512.Create<float>(row[j..]) * scale) * scale + Vector512.Create<float>(_gateShift.AsSpan(j))).CopyTo(row[j..]);
                }
            }
            for (; j + Vector256<float>.Count <= g; j += Vector256<float>.Count)
            {
                var scale = Vector256.Create<float>(_gateScale.AsSpan(j));
                (ExactMath.Sigmoid(Vector256.Create<float>(row[j..]) * scale) * scale + Vector256.Create<float>(_gateShift.AsSpan(j))).CopyTo(row[j..]);
            }
            for (; j < g; j++)
            {
                row[j] = ExactMath.Sigmoid(row[j] * _gateScale[j]) * _gateScale[j] + _gateShift[j];
            }
        }
    }

    /// <summary>tanh(x) = 2σ(2x) − 1 in place (as <see cref="ExactMath.Tanh(float)"/>); vector lanes and the scalar tail agree bit for bit.</summary>
    internal static void Tanh(Span<float> values)
    {
        var i = 0;
        if (Vector512.IsHardwareAccelerated)
        {
            var two = Vector512.Create(2f);
            for (; i + Vector512<float>.Count <= values.Length; i += Vector512<float>.Count)
            {
                (ExactMath.Sigmoid(two * Vector512.Create<float>(values[i..])) * two - Vector512<float>.One).CopyTo(values[i..]);
            }
        }
        var two256 = Vector256.Create(2f);
        for (; i + Vector256<float>.Count <= values.Length; i += Vector256<float>.Count)
        {
            (ExactMath.Sigmoid(two256 * Vector256.Create<float>(values[i..])) * two256 - Vector256<float>.One).CopyTo(values[i..]);
        }
        for (; i < values.Length; i++)
        {
            values[i] = ExactMath.Tanh(values[i]);
        }
    }

    /// <summary>
    /// Gradients of Σ_b (dLogProb[b] · logπ(sequence b) + dEntropy · entropy(sequence b)) with respect to every
    /// parameter, through the last forward pass, into <see cref="Gradient"/>.
    /// </summary>
    public void Backward(int batch, ReadOnlySpan<double> dLogProb, double dEntropy, double temperature)
    {
        var g = _gates;
        var h = _hidden;
        var hp = _hiddenPadded;
        var cmax = _maxChoices;
        var inverseTemperature = 1.0 / temperature;

        // Per sample: the logits' gradients, then backpropagation through time (both depend on that sample alone).
        dLogProb[..batch].CopyTo(_dSequenceLogProb);
        ForEachSlice(batch, (first, last, _, threads) => BackwardSlice(batch, first, last, _dSequenceLogProb, dEntropy, inverseTemperature, threads));

        foreach (var w in _dHeadWeight)
        {
            Array.Clear(w);
        }
        for (var k = 0; k < _choices.Length; k++)
        {
            Array.Clear(Gradient, _headBiasAt[k], _choices[k]);
        }
        for (var t = 0; t < _steps; t++)
        {
            var kind = _kindOfStep[t];
            var choices = _choices[kind];
            ExactKernels.MultiplyAdd(_dLogits, t * batch * cmax, 1, cmax, _hiddenStates, t * batch * hp, hp, _dHeadWeight[kind], 0, hp, choices, batch, hp);
            for (var b = 0; b < batch; b++)
            {
                for (var c = 0; c < choices; c++)
                {
                    Gradient[_headBiasAt[kind] + c] += _dLogits[(t * batch + b) * cmax + c];
                }
            }
        }

        // dW_hh = Σ over (t ≥ 1, b) of dgatesᵀ · h_{t−1}: one product over all steps.
        Array.Clear(_dWeightHh);
        if (_steps > 1)
        {
            ExactKernels.MultiplyAdd(_dGates, batch * g, 1, g, _hiddenStates, 0, hp, _dWeightHh, 0, hp, g, (_steps - 1) * batch, hp, Threads);
        }

        // The input table: each (t, b) adds its gate gradient to the row of the input it read.
        Array.Clear(_dInputTable);
        for (var t = 0; t < _steps; t++)
        {
            for (var b = 0; b < batch; b++)
            {
                var target = _dInputTable.AsSpan(_input[t * batch + b] * g, g);
                var source = _dGates.AsSpan((t * batch + b) * g, g);
                var j = 0;
                for (; j + Vector256<float>.Count <= g; j += Vector256<float>.Count)
                {
                    (Vector256.Create<float>(target[j..]) + Vector256.Create<float>(source[j..])).CopyTo(target[j..]);
                }
                for (; j < g; j++)
                {
                    target[j] += source[j];
                }
            }
        }
        Array.Clear(_dWeightIh);
        Array.Clear(_dX);
        ExactKernels.MultiplyAdd(_dInputTable, 0, 1, g, _x, 0, _embeddingPadded, _dWeightIh, 0, _embeddingPadded, g, _inputs, _embeddingPadded);
        ExactKernels.MultiplyAdd(_dInputTable, 0, g, 1, _weightIh, 0, _embeddingPadded, _dX, 0, _embeddingPadded, _inputs, g, _embeddingPadded);

        // Unpack into the flat layout.
        var e = _embedding;
        for (var col = 0; col < g; col++)
        {
            var sum = 0f;
            for (var r = 0; r < _inputs; r++)
            {
                sum += _dInputTable[r * g + col];
            }
            Gradient[_biasIhAt + col] = sum;
            Gradient[_biasHhAt + col] = sum;
        }
        for (var r = 0; r < _rows; r++)
        {
            Array.Copy(_dX, r * _embeddingPadded, Gradient, _embeddingAt + r * e, e);
        }
        Array.Copy(_dX, _rows * _embeddingPadded, Gradient, _startAt, e);
        for (var row = 0; row < g; row++)
        {
            Array.Copy(_dWeightIh, row * _embeddingPadded, Gradient, _weightIhAt + row * e, e);
            Array.Copy(_dWeightHh, row * hp, Gradient, _weightHhAt + row * h, h);
        }
        for (var k = 0; k < _choices.Length; k++)
        {
            for (var row = 0; row < _choices[k]; row++)
            {
                Array.Copy(_dHeadWeight[k], row * hp, Gradient, _headWeightAt[k] + row * h, h);
            }
        }
    }

    private void BackwardSlice(int batch, int first, int last, double[] dLogProb, double dEntropy, double inverseTemperature, int threads)
    {
        var g = _gates;
        var h = _hidden;
        var hp = _hiddenPadded;
        var cmax = _maxChoices;
        var n = last - first;

        // Logits: d logπ/dz_c = 1[c = token] − p_c; d H/dz_c = −p_c (log p_c + H).
        for (var t = 0; t < _steps; t++)
        {
            var choices = _choices[_kindOfStep[t]];
            var allowed = _allowed[t];
            for (var b = first; b < last; b++)
            {
                var at = (t * batch + b) * cmax;
                var token = _tokens[b * _steps + t];
                var entropy = _stepEntropy[t * batch + b];
                for (var c = 0; c < choices; c++)
                {
                    if (!allowed[c])
                    {
                        _dLogits[at + c] = 0f;
                        continue;
                    }
                    var p = _prob[at + c];
                    var d = dLogProb[b] * ((c == token ? 1.0 : 0.0) - p) - dEntropy * p * (_logProb[at + c] + entropy);
                    _dLogits[at + c] = (float)(d * inverseTemperature);
                }
            }
        }

        Array.Clear(_dCellNext, first * h, n * h);
        for (var t = _steps - 1; t >= 0; t--)
        {
            var kind = _kindOfStep[t];
            Array.Clear(_dHidden, first * hp, n * hp);
            ExactKernels.MultiplyAdd(_dLogits, (t * batch + first) * cmax, cmax, 1, _headWeight[kind], 0, hp, _dHidden, first * hp, hp, n, _choices[kind], hp);
            if (t < _steps - 1)
            {
                ExactKernels.MultiplyAdd(_dGates, ((t + 1) * batch + first) * g, g, 1, _weightHh, 0, hp, _dHidden, first * hp, hp, n, g, hp, threads);
            }
            var actAt = t * batch * g;
            var cellAt = t * batch * h;
            for (var b = first; b < last; b++)
            {
                var row = actAt + b * g;
                var previous = t == 0 ? default : _cell.AsSpan(cellAt - batch * h + b * h, h);
                CellBackward(_act.AsSpan(row, g), _cellTanh.AsSpan(cellAt + b * h, h), previous, _dHidden.AsSpan(b * hp, h), _dCellNext.AsSpan(b * h, h), _dGates.AsSpan(row, g), h);
            }
        }
    }

    /// <summary>
    /// One step of backpropagation through the cell, element by element (vector lanes do the scalar operations in
    /// the same order): from dh and the next step's dc to the four gate gradients and this step's dc (in place).
    /// An empty <paramref name="previous"/> is the zero state of step 0.
    /// </summary>
    private static void CellBackward(ReadOnlySpan<float> act, ReadOnlySpan<float> cellTanh, ReadOnlySpan<float> previous,
        ReadOnlySpan<float> dHidden, Span<float> dCell, Span<float> dGates, int h)
    {
        var width = Vector256<float>.Count;
        var one = Vector256<float>.One;
        var j = 0;
        for (; j + width <= h; j += width)
        {
            var i = Vector256.Create(act[j..]);
            var f = Vector256.Create(act[(h + j)..]);
            var gg = Vector256.Create(act[(2 * h + j)..]);
            var o = Vector256.Create(act[(3 * h + j)..]);
            var tc = Vector256.Create(cellTanh[j..]);
            var p = previous.IsEmpty ? Vector256<float>.Zero : Vector256.Create(previous[j..]);
            var dh = Vector256.Create(dHidden[j..]);
            var dOut = dh * tc;
            var dc = dh * o * (one - tc * tc) + Vector256.Create(dCell[j..]);
            (dc * gg * i * (one - i)).CopyTo(dGates[j..]);
            (dc * p * f * (one - f)).CopyTo(dGates[(h + j)..]);
            (dc * i * (one - gg * gg)).CopyTo(dGates[(2 * h + j)..]);
            (dOut * o * (one - o)).CopyTo(dGates[(3 * h + j)..]);
            (dc * f).CopyTo(dCell[j..]);
        }
        for (; j < h; j++)
        {
            var i = act[j];
            var f = act[h + j];
            var gg = act[2 * h + j];
            var o = act[3 * h + j];
            var tc = cellTanh[j];
            var p = previous.IsEmpty ? 0f : previous[j];
            var dh = dHidden[j];
            var dOut = dh * tc;
            var dc = dh * o * (1f - tc * tc) + dCell[j];
            dGates[j] = dc * gg * i * (1f - i);
            dGates[h + j] = dc * p * f * (1f - f);
            dGates[2 * h + j] = dc * i * (1f - gg * gg);
            dGates[3 * h + j] = dOut * o * (1f - o);
            dCell[j] = dc * f;
        }
    }

    private void EnsureCapacity(int batch)
    {
        if (batch <= _capacity)
        {
            return;
        }
        var t = _steps;
        _capacity = batch;
        _act = new float[t * batch * _gates];
        _cell = new float[t * batch * _hidden];
        _cellTanh = new float[t * batch * _hidden];
        _hiddenStates = new float[t * batch * _hiddenPadded];
        _batchPadded = Pad(batch);
        _hiddenT = new float[_hidden * _batchPadded];
        _logitsT = new float[_maxChoices * _batchPadded];
        _logitsOfPart = Enumerable.Range(0, MaxSlices).Select(_ => new float[_maxChoices]).ToArray();
        _uniform = new double[t * batch];
        _logProb = new double[t * batch * _maxChoices];
        _prob = new double[t * batch * _maxChoices];
        _stepEntropy = new double[t * batch];
        _input = new int[t * batch];
        _tokens = new int[batch * t];
        _sequenceLogProb = new double[batch];
        _sequenceEntropy = new double[batch];
        _dLogits = new float[t * batch * _maxChoices];
        _dSequenceLogProb = new double[batch];
        _dGates = new float[t * batch * _gates];
        _dHidden = new float[batch * _hiddenPadded];
        _dCellNext = new float[batch * _hidden];
    }
}

/// <summary>One parameter's name (libtorch's) and its place in the flat array.</summary>
internal sealed record ManagedParameter(string Name, int Offset, int Length);
