using MnasNet.SearchSpace;

namespace MnasNet.Latency.Table;

/// <summary>
/// What a network's latency is fitted on: the table's per-layer sums by layer kind (a layer timed alone and the same
/// layer inside a network differ by kind: a depthwise conv's input is cache-hot in a network, a pointwise conv's
/// weights are not), the activation and weight megabytes the network moves, its operator count (per-operator dispatch
/// inside one inference call) and a constant (the call itself).
/// </summary>
public static class NetworkFeatures
{
    public const string FixedLayersMs = "fixedLayersMs";
    public const string ConvMs = "convMs";
    public const string SepConvMs = "sepConvMs";
    public const string MBConvMs = "mbConvMs";
    public const string ActivationMB = "activationMB";
    public const string WeightMB = "weightMB";
    public const string Ops = "ops";
    public const string One = "one";

    public static IReadOnlyList<string> Names { get; } = [FixedLayersMs, ConvMs, SepConvMs, MBConvMs, ActivationMB, WeightMB, Ops, One];

    /// <summary>The coefficients under which the features give back the table's own sum: the fit's prior.</summary>
    public static double[] Identity(double callOverheadMs) => [1, 1, 1, 1, 0, 0, 0, callOverheadMs];

    /// <param name="layers">The network's layers.</param>
    /// <param name="layerMs">Each layer's table latency with the call overhead taken out, in the same order.</param>
    public static double[] Of(IReadOnlyList<LayerCost> layers, IReadOnlyList<double> layerMs)
    {
        ArgumentNullException.ThrowIfNull(layers);
        ArgumentNullException.ThrowIfNull(layerMs);
        if (layers.Count != layerMs.Count)
        {
            throw new ArgumentException($"{layers.Count} layers but {layerMs.Count} latencies");
        }
        var f = new double[Names.Count];
        for (var i = 0; i < layers.Count; i++)
        {
            var layer = layers[i];
            var kind = layer.Kind switch
            {
                LayerKind.Conv => 1,
                LayerKind.SepConv => 2,
                LayerKind.MBConv => 3,
                _ => 0,
            };
            f[kind] += layerMs[i];
            var traffic = CostModel.Traffic(layer);
            f[4] += traffic.ActivationElements * (double)sizeof(float) / 1e6;
            f[5] += layer.Params * (double)sizeof(float) / 1e6;
            f[6] += traffic.Ops;
        }
        f[7] = 1;
        return f;
    }
}

/// <summary>
/// A network-level correction of a table's predictions, fitted on networks measured on the reference device:
/// latency = Σ coefficient × feature (<see cref="NetworkFeatures"/>). <see cref="Architectures"/> are the networks the
/// fit saw, so an evaluation can tell held-out architectures from fitted ones; <see cref="Rounds"/>: interleaved
/// measurements of each of them (absent in tables fitted before rounds existed: 1).
/// </summary>
public sealed record TableCorrection(
    string Model,
    IReadOnlyList<string> Features,
    IReadOnlyList<double> Coefficients,
    string ReferenceDevice,
    int Samples,
    ulong Seed,
    double Ridge,
    double FitMapePercent,
    double TableMapePercent,
    IReadOnlyList<string> Architectures,
    DateTimeOffset FittedAt,
    int Rounds = 1)
{
    public const string LinearModel = "linear/v1";

    public double Apply(IReadOnlyList<double> features)
    {
        var total = 0.0;
        for (var i = 0; i < Coefficients.Count; i++)
        {
            total += Coefficients[i] * features[i];
        }
        return total;
    }

    public TableCorrection Validate()
    {
        if (Model != LinearModel)
        {
            throw new LatencyTableException($"correction: unsupported model '{Model}' (this version reads \"{LinearModel}\")");
        }
        if (Features is null || !Features.SequenceEqual(NetworkFeatures.Names))
        {
            throw new LatencyTableException($"correction: features must be [{string.Join(", ", NetworkFeatures.Names)}]");
        }
        if (Coefficients is null || Coefficients.Count != Features.Count || Coefficients.Any(c => !double.IsFinite(c)))
        {
            throw new LatencyTableException($"correction: needs {Features.Count} finite coefficients");
        }
        if (Architectures is null)
        {
            throw new LatencyTableException("correction: missing 'architectures'");
        }
        return this;
    }
}

/// <summary>Weighted least squares on relative error with a ridge toward a prior, for <see cref="TableCorrection"/>.</summary>
public static class RelativeLeastSquares
{
    /// <summary>
    /// Minimises Σᵢ ((xᵢ·c − mᵢ) / mᵢ)² + ridge · n · Σⱼ sⱼ² (cⱼ − priorⱼ)², where sⱼ is the RMS of column j of x / m
    /// (so the ridge weighs every feature alike whatever its unit). The prior keeps an under-determined fit (few
    /// networks, collinear features) at the table's own prediction instead of anywhere.
    /// </summary>
    public static double[] Fit(IReadOnlyList<double[]> x, IReadOnlyList<double> measured, IReadOnlyList<double> prior, double ridge)
    {
        ArgumentNullException.ThrowIfNull(x);
        ArgumentNullException.ThrowIfNull(measured);
        ArgumentNullException.ThrowIfNull(prior);
        if (x.Count != measured.Count || x.Count == 0)
        {
            throw new ArgumentException($"{x.Count} feature rows and {measured.Count} measurements: need equally many, at least one");
        }
        if (!(ridge > 0))
        {
            throw new ArgumentException($"ridge must be positive, got {ridge}");
        }
        var k = prior.Count;
        var n = x.Count;
        var ata = new double[k, k];
        var atb = new double[k];
        var scale = new double[k];
        for (var i = 0; i < n; i++)
        {
            if (x[i].Length != k || !(measured[i] > 0))
            {
                throw new ArgumentException($"row {i}: needs {k} features and a positive measurement");
            }
            for (var a = 0; a < k; a++)
            {
                var xa = x[i][a] / measured[i];
                scale[a] += xa * xa / n;
                atb[a] += xa;
                for (var b = 0; b < k; b++)
                {
                    ata[a, b] += xa * x[i][b] / measured[i];
                }
            }
        }
        for (var j = 0; j < k; j++)
        {
            // A feature that is zero on every network (no conv layer sampled) is held at its prior.
            var weight = ridge * n * Math.Max(scale[j], 1e-12);
            ata[j, j] += weight;
            atb[j] += weight * prior[j];
        }
        return Solve(ata, atb);
    }

    private static double[] Solve(double[,] a, double[] b)
    {
        var k = b.Length;
        for (var col = 0; col < k; col++)
        {
            var pivot = col;
            for (var r = col + 1; r < k; r++)
            {
                if (Math.Abs(a[r, col]) > Math.Abs(a[pivot, col]))
                {
                    pivot = r;
                }
            }
            if (pivot != col)
            {
                for (var c = 0; c < k; c++)
                {
                    (a[col, c], a[pivot, c]) = (a[pivot, c], a[col, c]);
                }
                (b[col], b[pivot]) = (b[pivot], b[col]);
            }
            for (var r = col + 1; r < k; r++)
            {
                var factor = a[r, col] / a[col, col];
                for (var c = col; c < k; c++)
                {
                    a[r, c] -= factor * a[col, c];
                }
                b[r] -= factor * b[col];
            }
        }
        var solution = new double[k];
        for (var r = k - 1; r >= 0; r--)
        {
            var sum = b[r];
            for (var c = r + 1; c < k; c++)
            {
                sum -= a[r, c] * solution[c];
            }
            solution[r] = sum / a[r, r];
        }
        return solution;
    }
}
