using MnasNet.Latency.Measurement;
using MnasNet.SearchSpace;

namespace MnasNet.Latency.Table;

public static class LatencyTableCalibrator
{
    /// <summary>Ridge weight of <see cref="RelativeLeastSquares.Fit"/>: small enough to follow 20+ networks, large enough to hold a collinear fit.</summary>
    public const double DefaultRidge = 0.01;

    /// <summary>
    /// Measures <paramref name="samples"/> seeded architectures on the reference, fits a <see cref="TableCorrection"/>
    /// of the table's per-layer sum on them (each measured in <paramref name="rounds"/> interleaved rounds, as
    /// <see cref="LatencyTableEvaluator.EvaluateAsync"/> does) (relative least squares, <see cref="NetworkFeatures"/>) and returns the
    /// table with that correction (any earlier correction replaced) and the fitted points.
    /// </summary>
    public static async Task<(LatencyTable Table, IReadOnlyList<TableEvaluationSample> Points)> CalibrateAsync(
        LatencyTable table,
        ILatencyBackend reference,
        int samples,
        ulong seed,
        MeasurementProtocol protocol,
        MnasNetSearchSpace? space = null,
        double ridge = DefaultRidge,
        IProgress<TableEvaluationSample>? progress = null,
        CancellationToken cancellationToken = default,
        int rounds = 1)
    {
        ArgumentNullException.ThrowIfNull(table);
        var uncorrected = table with { Correction = null };
        var points = await LatencyTableEvaluator.MeasureSamplesAsync(uncorrected, reference, samples, seed, protocol, space, new HashSet<string>(), progress, rounds, cancellationToken).ConfigureAwait(false);
        space ??= MnasNetSearchSpace.Default;
        var features = points.Select(p => FeaturesOf(uncorrected, space.Decode(space.ParseTokens(p.Tokens)))).ToArray();
        var measured = points.Select(p => p.MeasuredMs).ToArray();
        var coefficients = RelativeLeastSquares.Fit(features, measured, NetworkFeatures.Identity(table.CallOverheadMs), ridge);
        var fit = features.Select(f => Math.Max(table.CallOverheadMs, f.Zip(coefficients, (x, c) => x * c).Sum())).ToArray();
        var correction = new TableCorrection(TableCorrection.LinearModel, NetworkFeatures.Names, coefficients, reference.DeviceId, samples, seed, ridge,
            FitMapePercent: Statistics.MeanAbsolutePercentageError(fit, measured),
            TableMapePercent: Statistics.MeanAbsolutePercentageError(points.Select(p => p.TableSumMs).ToArray(), measured),
            points.Select(p => p.ArchitectureId).Distinct(StringComparer.Ordinal).ToArray(),
            reference.Platform.IsSimulated ? DateTimeOffset.UnixEpoch : DateTimeOffset.UtcNow,
            rounds);
        var corrected = table with { Correction = correction };
        return (corrected.Validate(), points);
    }

    private static double[] FeaturesOf(LatencyTable table, Architecture architecture)
    {
        var cost = CostModel.Compute(architecture, table.Options).Layers;
        var prediction = table.Predict(architecture, table.Options);
        return NetworkFeatures.Of(cost, prediction.Layers.Select(l => l.Ms).ToArray());
    }
}
