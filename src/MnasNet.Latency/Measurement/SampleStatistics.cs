using System.Text.Json.Serialization;

namespace MnasNet.Latency.Measurement;

/// <summary>
/// Summary of timed runs in milliseconds. Every sample counts: outliers are flagged by Tukey's fences
/// (below Q1 − 1.5·IQR or above Q3 + 1.5·IQR) and reported, never removed from the statistics.
/// </summary>
public sealed record SampleStatistics(
    int Count,
    double MedianMs,
    double MeanMs,
    double P90Ms,
    double MinMs,
    double MaxMs,
    double StdMs,
    double Cv,
    double LowerFenceMs,
    double UpperFenceMs,
    IReadOnlyList<int> OutlierIndices)
{
    [JsonIgnore]
    public int OutlierCount => OutlierIndices.Count;

    public static SampleStatistics Of(IReadOnlyList<double> samplesMs)
    {
        ArgumentNullException.ThrowIfNull(samplesMs);
        if (samplesMs.Count == 0)
        {
            throw new ArgumentException("statistics need at least one sample", nameof(samplesMs));
        }
        if (samplesMs.Any(s => !double.IsFinite(s) || s < 0))
        {
            throw new ArgumentException("samples must be finite and non-negative", nameof(samplesMs));
        }
        var sorted = samplesMs.Order().ToArray();
        var (lower, upper) = Statistics.TukeyFences(sorted);
        var outliers = Enumerable.Range(0, samplesMs.Count).Where(i => samplesMs[i] < lower || samplesMs[i] > upper).ToArray();
        var mean = Statistics.Mean(sorted);
        var std = Statistics.StandardDeviation(sorted);
        return new SampleStatistics(
            sorted.Length,
            Statistics.PercentileOfSorted(sorted, 50),
            mean,
            Statistics.PercentileOfSorted(sorted, 90),
            sorted[0],
            sorted[^1],
            std,
            Statistics.CoefficientOfVariation(mean, std),
            lower,
            upper,
            outliers);
    }
}

/// <summary>Pure statistics used by measurements and by the lookup table's evaluation.</summary>
public static class Statistics
{
    public static double Mean(IReadOnlyList<double> values)
    {
        RequireSome(values);
        var sum = 0.0;
        foreach (var v in values)
        {
            sum += v;
        }
        return sum / values.Count;
    }

    /// <summary>Sample standard deviation (n − 1 denominator); 0 for a single value.</summary>
    public static double StandardDeviation(IReadOnlyList<double> values)
    {
        RequireSome(values);
        if (values.Count == 1)
        {
            return 0;
        }
        var mean = Mean(values);
        var ss = 0.0;
        foreach (var v in values)
        {
            ss += (v - mean) * (v - mean);
        }
        return Math.Sqrt(ss / (values.Count - 1));
    }

    /// <summary>Standard deviation over mean; 0 when the mean is 0.</summary>
    public static double CoefficientOfVariation(double mean, double std) => mean == 0 ? 0 : std / mean;

    public static double CoefficientOfVariation(IReadOnlyList<double> values) =>
        CoefficientOfVariation(Mean(values), StandardDeviation(values));

    /// <summary>Percentile with linear interpolation between closest ranks (NumPy's default, Hyndman–Fan type 7).</summary>
    public static double Percentile(IReadOnlyList<double> values, double percent)
    {
        RequireSome(values);
        return PercentileOfSorted(values.Order().ToArray(), percent);
    }

    public static double PercentileOfSorted(IReadOnlyList<double> sorted, double percent)
    {
        RequireSome(sorted);
        if (!(percent >= 0 && percent <= 100))
        {
            throw new ArgumentOutOfRangeException(nameof(percent), percent, "percentile must be in [0, 100]");
        }
        var rank = percent / 100.0 * (sorted.Count - 1);
        var lo = (int)Math.Floor(rank);
        var hi = Math.Min(lo + 1, sorted.Count - 1);
        return sorted[lo] + (rank - lo) * (sorted[hi] - sorted[lo]);
    }

    public static double Median(IReadOnlyList<double> values) => Percentile(values, 50);

    /// <summary>Tukey's fences: Q1 − k·IQR and Q3 + k·IQR (k = 1.5 flags "outliers").</summary>
    public static (double Lower, double Upper) TukeyFences(IReadOnlyList<double> sorted, double k = 1.5)
    {
        var q1 = PercentileOfSorted(sorted, 25);
        var q3 = PercentileOfSorted(sorted, 75);
        var iqr = q3 - q1;
        return (q1 - k * iqr, q3 + k * iqr);
    }

    /// <summary>Mean absolute percentage error of predictions against measurements, in percent.</summary>
    public static double MeanAbsolutePercentageError(IReadOnlyList<double> predicted, IReadOnlyList<double> actual)
    {
        RequirePairs(predicted, actual);
        var sum = 0.0;
        for (var i = 0; i < actual.Count; i++)
        {
            if (actual[i] <= 0)
            {
                throw new ArgumentException($"actual value {i} is {actual[i]}; MAPE needs positive actual values", nameof(actual));
            }
            sum += Math.Abs(predicted[i] - actual[i]) / actual[i];
        }
        return 100.0 * sum / actual.Count;
    }

    /// <summary>
    /// Kendall's rank correlation τ-b (ties in either list are corrected for): 1 when both lists rank the items
    /// alike, −1 when reversed, 0 when one list is constant. O(n²), fine for the few hundred architectures an
    /// evaluation uses.
    /// </summary>
    public static double KendallTau(IReadOnlyList<double> x, IReadOnlyList<double> y)
    {
        RequirePairs(x, y);
        if (x.Count < 2)
        {
            throw new ArgumentException("Kendall's tau needs at least two pairs", nameof(x));
        }
        var tau = KendallTauB(x, y);
        return double.IsNaN(tau) ? 0 : tau;
    }

    /// <summary>
    /// Kendall's τ-b of two equally long lists (pairs tied in one list count as neither concordant nor discordant and
    /// shrink the denominator); NaN when it is undefined (fewer than two pairs, or one list constant). O(n²).
    /// </summary>
    public static double KendallTauB(IReadOnlyList<double> x, IReadOnlyList<double> y)
    {
        if (x.Count != y.Count)
        {
            throw new ArgumentException($"Kendall's tau needs lists of the same length, got {x.Count} and {y.Count}", nameof(y));
        }
        long concordant = 0, discordant = 0, tiesX = 0, tiesY = 0;
        for (var i = 0; i < x.Count; i++)
        {
            for (var j = i + 1; j < x.Count; j++)
            {
                var dx = Math.Sign(x[i].CompareTo(x[j]));
                var dy = Math.Sign(y[i].CompareTo(y[j]));
                if (dx == 0 && dy == 0)
                {
                    continue;
                }
                if (dx == 0)
                {
                    tiesX++;
                }
                else if (dy == 0)
                {
                    tiesY++;
                }
                else if (dx == dy)
                {
                    concordant++;
                }
                else
                {
                    discordant++;
                }
            }
        }
        var denominator = Math.Sqrt((double)(concordant + discordant + tiesX) * (concordant + discordant + tiesY));
        return denominator == 0 ? double.NaN : (concordant - discordant) / denominator;
    }

    private static void RequireSome(IReadOnlyList<double> values)
    {
        ArgumentNullException.ThrowIfNull(values);
        if (values.Count == 0)
        {
            throw new ArgumentException("need at least one value", nameof(values));
        }
    }

    private static void RequirePairs(IReadOnlyList<double> a, IReadOnlyList<double> b)
    {
        RequireSome(a);
        RequireSome(b);
        if (a.Count != b.Count)
        {
            throw new ArgumentException($"lists differ in length ({a.Count} vs {b.Count})", nameof(b));
        }
    }
}
