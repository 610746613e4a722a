using CsCheck;
using MnasNet.Latency.Measurement;

namespace MnasNet.Latency.Tests;

public sealed class StatisticsTests
{
    [Fact]
    public void Percentiles_interpolate_linearly_like_numpy()
    {
        double[] v = [4, 1, 3, 2];
        Assert.Equal(2.5, Statistics.Median(v), 12);
        // numpy.percentile([1,2,3,4], 90) = 3.7
        Assert.Equal(3.7, Statistics.Percentile(v, 90), 12);
        Assert.Equal(1, Statistics.Percentile(v, 0));
        Assert.Equal(4, Statistics.Percentile(v, 100));
        Assert.Equal(3, Statistics.Median([5, 3, 1]));
    }

    [Fact]
    public void Standard_deviation_is_the_sample_one_and_cv_divides_by_the_mean()
    {
        double[] v = [2, 4, 4, 4, 5, 5, 7, 9];
        Assert.Equal(5, Statistics.Mean(v), 12);
        Assert.Equal(Math.Sqrt(32.0 / 7), Statistics.StandardDeviation(v), 12);
        Assert.Equal(Math.Sqrt(32.0 / 7) / 5, Statistics.CoefficientOfVariation(v), 12);
        Assert.Equal(0, Statistics.StandardDeviation([3.0]));
    }

    [Fact]
    public void Outliers_are_flagged_by_tukey_fences_and_still_counted()
    {
        double[] v = [10, 11, 10.5, 10.2, 10.8, 50, 10.1];
        var s = SampleStatistics.Of(v);
        Assert.Equal([5], s.OutlierIndices);
        Assert.Equal(7, s.Count);
        Assert.Equal(50, s.MaxMs);
        Assert.Equal(v.Average(), s.MeanMs, 12);
        Assert.True(s.UpperFenceMs < 50 && s.UpperFenceMs > 11);
    }

    [Fact]
    public void Statistics_reject_empty_and_non_finite_samples()
    {
        Assert.Throws<ArgumentException>(() => SampleStatistics.Of([]));
        Assert.Throws<ArgumentException>(() => SampleStatistics.Of([1, double.NaN]));
        Assert.Throws<ArgumentException>(() => SampleStatistics.Of([1, -2]));
    }

    [Fact]
    public void Kendall_tau_b_matches_known_values()
    {
        Assert.Equal(1, Statistics.KendallTau([1, 2, 3, 4], [10, 20, 30, 40]), 12);
        Assert.Equal(-1, Statistics.KendallTau([1, 2, 3, 4], [4, 3, 2, 1]), 12);
        // scipy.stats.kendalltau([12, 2, 1, 12, 2], [1, 4, 7, 1, 0]) → tau-b = -0.47140452079103173
        Assert.Equal(-0.47140452079103173, Statistics.KendallTau([12, 2, 1, 12, 2], [1, 4, 7, 1, 0]), 12);
    }

    [Fact]
    public void Mape_is_the_mean_relative_error_in_percent()
    {
        Assert.Equal(15, Statistics.MeanAbsolutePercentageError([110, 80], [100, 100]), 12);
        Assert.Throws<ArgumentException>(() => Statistics.MeanAbsolutePercentageError([1], [0]));
        Assert.Throws<ArgumentException>(() => Statistics.MeanAbsolutePercentageError([1, 2], [1]));
    }

    [Fact]
    public void Summary_is_ordered_and_invariant_under_sample_order()
    {
        Gen.Double[0.001, 1000].Array[1, 60].Sample(v =>
        {
            var s = SampleStatistics.Of(v);
            Assert.True(s.MinMs <= s.MedianMs && s.MedianMs <= s.P90Ms && s.P90Ms <= s.MaxMs);
            Assert.True(s.MinMs <= s.MeanMs + 1e-9 && s.MeanMs <= s.MaxMs + 1e-9);
            Assert.True(s.StdMs >= 0 && s.Cv >= 0);
            var reversed = SampleStatistics.Of(v.Reverse().ToArray());
            Assert.Equal(s.MedianMs, reversed.MedianMs);
            Assert.Equal(s.OutlierCount, reversed.OutlierCount);
        });
    }

    [Fact]
    public void Kendall_tau_is_one_under_any_strictly_increasing_map()
    {
        Gen.Int[-1000, 1000].Array[2, 40].Where(a => a.Distinct().Count() == a.Length).Sample(a =>
        {
            var v = a.Select(x => (double)x).ToArray();
            Assert.Equal(1, Statistics.KendallTau(v, v.Select(x => Math.Exp(x / 100)).ToArray()), 9);
            Assert.Equal(-1, Statistics.KendallTau(v, v.Select(x => -x).ToArray()), 9);
        });
    }
}
