using System.Text.Json;
using MnasNet.SearchSpace;

namespace MnasNet.Controller;

/// <summary>
/// A per-decision ridge regression of proxy accuracy on one-hot tokens: accuracy ≈ Intercept + Σ_i Weights[i][token i].
/// <paramref name="Weights"/> has one row per decision and one entry per choice (0 for choices the space does not
/// allow). <paramref name="Command"/> is the command that produced it from <paramref name="Source"/>.
/// </summary>
public sealed record FittedCoefficients(
    string Source,
    string Command,
    int Trials,
    double Lambda,
    double Intercept,
    double[][] Weights,
    double LeaveOneOutRmse,
    double AccuracyStd);

/// <summary>
/// A landscape fitted to real journal data: accuracy from <see cref="FittedCoefficients"/> (clamped to [0.01, 0.99]),
/// latency from the analytic model. Additive by construction, so its optimum is exact (<see cref="BlockObjective"/>).
/// </summary>
public sealed class FittedLandscape : BlockObjective
{
    /// <summary>The committed fit (embedded resource; see the Controller README for the command that made it).</summary>
    public const string DefaultResource = "MnasNet.Controller.Landscapes.fitted-quick.json";

    private static readonly JsonSerializerOptions Json = new() { PropertyNamingPolicy = JsonNamingPolicy.CamelCase, WriteIndented = true };
    private static readonly double[] LambdaGrid = [0.01, 0.03, 0.1, 0.3, 1, 3, 10, 30, 100];

    private readonly double[][] _weights;

    public FittedLandscape(FittedCoefficients coefficients, AnalyticLatency? latency = null, MnasNetSearchSpace? space = null)
        : base(latency ?? AnalyticLatency.Default, space)
    {
        Coefficients = coefficients ?? throw new ArgumentNullException(nameof(coefficients));
        if (coefficients.Weights is null || coefficients.Weights.Length != Space.DecisionCount)
        {
            throw new ControllerException($"fitted landscape: {coefficients.Weights?.Length ?? 0} weight rows, the space has {Space.DecisionCount} decisions");
        }
        for (var i = 0; i < Space.DecisionCount; i++)
        {
            var row = coefficients.Weights[i];
            if (row is null || row.Length != Space.Decisions[i].Choices.Count || row.Any(w => !double.IsFinite(w)))
            {
                throw new ControllerException($"fitted landscape: weight row {i} must have {Space.Decisions[i].Choices.Count} finite values");
            }
        }
        if (!double.IsFinite(coefficients.Intercept))
        {
            throw new ControllerException("fitted landscape: the intercept is not finite");
        }
        _weights = coefficients.Weights;
    }

    public FittedCoefficients Coefficients { get; }

    public static FittedLandscape LoadDefault()
    {
        using var stream = typeof(FittedLandscape).Assembly.GetManifestResourceStream(DefaultResource)
            ?? throw new InvalidOperationException($"resource {DefaultResource} is missing from the build");
        using var reader = new StreamReader(stream);
        return new FittedLandscape(Parse(reader.ReadToEnd(), DefaultResource));
    }

    public static FittedCoefficients Parse(string json, string what)
    {
        try
        {
            return JsonSerializer.Deserialize<FittedCoefficients>(json, Json) ?? throw new ControllerException($"{what}: empty coefficient file");
        }
        catch (JsonException e)
        {
            throw new ControllerException($"{what}: not a coefficient file ({e.Message})", e);
        }
    }

    public static string Serialize(FittedCoefficients coefficients) => JsonSerializer.Serialize(coefficients, Json);

    protected override double BlockScore(int block, int previousWidth, ReadOnlySpan<int> tokens, double macs)
    {
        var score = 0.0;
        for (var i = 0; i < tokens.Length; i++)
        {
            score += _weights[block * MnasNetSearchSpace.DecisionsPerBlock + i][tokens[i]];
        }
        return score;
    }

    protected override double AccuracyOf(double centeredScore) => Math.Clamp(Coefficients.Intercept + centeredScore, 0.01, 0.99);

    /// <summary>
    /// Ridge regression on one-hot tokens (columns and accuracy centred, so the intercept is not penalised), λ chosen
    /// from a fixed grid by leave-one-out error (the closed form for ridge: residual / (1 − leverage)). Deterministic.
    /// </summary>
    public static FittedCoefficients Fit(IReadOnlyList<(IReadOnlyList<int> Tokens, double Accuracy)> trials, string source, string command, MnasNetSearchSpace? space = null)
    {
        space ??= MnasNetSearchSpace.Default;
        if (trials.Count < 3)
        {
            throw new ControllerException($"fit: need at least 3 trials with an accuracy, got {trials.Count}");
        }
        var columns = new List<(int Decision, int Choice)>();
        foreach (var d in space.Decisions)
        {
            for (var c = 0; c < d.Choices.Count; c++)
            {
                if (d.Allowed[c])
                {
                    columns.Add((d.Index, c));
                }
            }
        }
        var n = trials.Count;
        var p = columns.Count;
        var x = new double[n, p];
        var y = new double[n];
        for (var r = 0; r < n; r++)
        {
            var (tokens, accuracy) = trials[r];
            try
            {
                space.ValidateTokens(tokens);
            }
            catch (ArchitectureException e)
            {
                throw new ControllerException($"fit: trial {r}: {e.Message}", e);
            }
            if (!double.IsFinite(accuracy))
            {
                throw new ControllerException($"fit: trial {r} has a non-finite accuracy");
            }
            y[r] = accuracy;
            for (var k = 0; k < p; k++)
            {
                x[r, k] = tokens[columns[k].Decision] == columns[k].Choice ? 1 : 0;
            }
        }
        var yMean = y.Average();
        var xMean = new double[p];
        for (var k = 0; k < p; k++)
        {
            for (var r = 0; r < n; r++)
            {
                xMean[k] += x[r, k] / n;
            }
            for (var r = 0; r < n; r++)
            {
                x[r, k] -= xMean[k];
            }
        }
        var yc = y.Select(v => v - yMean).ToArray();

        double[]? bestW = null;
        var bestLambda = double.NaN;
        var bestRmse = double.PositiveInfinity;
        foreach (var lambda in LambdaGrid)
        {
            var (w, rmse) = Ridge(x, yc, lambda);
            if (rmse < bestRmse)
            {
                (bestW, bestLambda, bestRmse) = (w, lambda, rmse);
            }
        }
        var weights = space.Decisions.Select(d => new double[d.Choices.Count]).ToArray();
        var intercept = yMean;
        for (var k = 0; k < p; k++)
        {
            weights[columns[k].Decision][columns[k].Choice] = Math.Round(bestW![k], 6);
            intercept -= xMean[k] * bestW[k];
        }
        var std = Math.Sqrt(yc.Sum(v => v * v) / n);
        return new FittedCoefficients(source, command, n, bestLambda, Math.Round(intercept, 6), weights, Math.Round(bestRmse, 6), Math.Round(std, 6));
    }

    /// <summary>w = (XᵀX + λI)⁻¹ Xᵀy and the leave-one-out RMSE from the hat matrix's diagonal.</summary>
    private static (double[] W, double Rmse) Ridge(double[,] x, double[] y, double lambda)
    {
        var n = y.Length;
        var p = x.GetLength(1);
        var a = new double[p, p];
        for (var i = 0; i < p; i++)
        {
            for (var j = 0; j < p; j++)
            {
                var s = 0.0;
                for (var r = 0; r < n; r++)
                {
                    s += x[r, i] * x[r, j];
                }
                a[i, j] = s + (i == j ? lambda : 0);
            }
        }
        var inverse = Invert(a);
        var w = new double[p];
        for (var i = 0; i < p; i++)
        {
            for (var j = 0; j < p; j++)
            {
                var xty = 0.0;
                for (var r = 0; r < n; r++)
                {
                    xty += x[r, j] * y[r];
                }
                w[i] += inverse[i, j] * xty;
            }
        }
        var squared = 0.0;
        for (var r = 0; r < n; r++)
        {
            var prediction = 0.0;
            var leverage = 0.0;
            for (var i = 0; i < p; i++)
            {
                prediction += x[r, i] * w[i];
                for (var j = 0; j < p; j++)
                {
                    leverage += x[r, i] * inverse[i, j] * x[r, j];
                }
            }
            var residual = (y[r] - prediction) / Math.Max(1e-9, 1 - leverage);
            squared += residual * residual;
        }
        return (w, Math.Sqrt(squared / n));
    }

    /// <summary>Gauss–Jordan with partial pivoting; the matrix is symmetric positive definite (λ &gt; 0).</summary>
    private static double[,] Invert(double[,] matrix)
    {
        var p = matrix.GetLength(0);
        var a = (double[,])matrix.Clone();
        var inv = new double[p, p];
        for (var i = 0; i < p; i++)
        {
            inv[i, i] = 1;
        }
        for (var col = 0; col < p; col++)
        {
            var pivot = col;
            for (var r = col + 1; r < p; r++)
            {
                if (Math.Abs(a[r, col]) > Math.Abs(a[pivot, col]))
                {
                    pivot = r;
                }
            }
            for (var k = 0; k < p; k++)
            {
                (a[col, k], a[pivot, k]) = (a[pivot, k], a[col, k]);
                (inv[col, k], inv[pivot, k]) = (inv[pivot, k], inv[col, k]);
            }
            var d = a[col, col];
            for (var k = 0; k < p; k++)
            {
                a[col, k] /= d;
                inv[col, k] /= d;
            }
            for (var r = 0; r < p; r++)
            {
                if (r == col || a[r, col] == 0)
                {
                    continue;
                }
                var f = a[r, col];
                for (var k = 0; k < p; k++)
                {
                    a[r, k] -= f * a[col, k];
                    inv[r, k] -= f * inv[col, k];
                }
            }
        }
        return inv;
    }
}
