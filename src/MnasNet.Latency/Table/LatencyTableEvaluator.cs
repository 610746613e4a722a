using MnasNet.Latency.Measurement;
using MnasNet.SearchSpace;

namespace MnasNet.Latency.Table;

/// <param name="PredictedMs">The table's prediction (corrected when the table has a correction).</param>
/// <param name="TableSumMs">The uncorrected per-layer sum.</param>
/// <param name="HeldOut">False when the table's correction was fitted on this architecture.</param>
public sealed record TableEvaluationSample(string ArchitectureId, string Tokens, double PredictedMs, double MeasuredMs, double TableSumMs, bool HeldOut);

/// <summary>
/// How well a table predicts real measurements: MAPE (percent) and Kendall's τ-b of the rankings, over the held-out
/// architectures (all of them for a table without correction), and the same for the uncorrected per-layer sum.
/// </summary>
/// <param name="SpeedFactor">Median of measured ÷ predicted: how much faster or slower the device ran than when the table was built and calibrated.</param>
/// <param name="ScaledMapePercent">MAPE of SpeedFactor × prediction: the predictor's error with the device's speed on the day factored out.</param>
/// <param name="Rounds">Measurements of each architecture, taken in interleaved rounds (see <see cref="LatencyTableEvaluator.EvaluateAsync"/>).</param>
public sealed record TableEvaluation(
    int Samples,
    int HeldOut,
    double MapePercent,
    double KendallTau,
    double TableSumMapePercent,
    double TableSumKendallTau,
    bool Corrected,
    string ReferenceDevice,
    IReadOnlyList<TableEvaluationSample> Points,
    int Rounds = 1,
    double SpeedFactor = 1,
    double ScaledMapePercent = 0);

public static class LatencyTableEvaluator
{
    /// <summary>
    /// Samples <paramref name="samples"/> architectures uniformly from the space (seeded), predicts each from the
    /// table and measures each on <paramref name="reference"/> (the table's estimator of its runs), at the table's network options.
    /// With <paramref name="rounds"/> &gt; 1 every architecture is measured once per round, all of them in each round
    /// before the next, and its figure is the table's estimator over its rounds (the fastest round's minimum, or the
    /// median of the rounds' medians): on a shared host the noise drifts over seconds, so measurements of one network
    /// spread over the whole evaluation disagree far less between two evaluations than back-to-back ones.
    /// </summary>
    public static async Task<TableEvaluation> EvaluateAsync(
        LatencyTable table,
        ILatencyBackend reference,
        int samples,
        ulong seed,
        MeasurementProtocol protocol,
        MnasNetSearchSpace? space = null,
        IProgress<TableEvaluationSample>? progress = null,
        CancellationToken cancellationToken = default,
        int rounds = 1)
    {
        ArgumentNullException.ThrowIfNull(table);
        var fitted = table.Correction?.Architectures.ToHashSet(StringComparer.Ordinal) ?? [];
        var points = await MeasureSamplesAsync(table, reference, samples, seed, protocol, space, fitted, progress, rounds, cancellationToken).ConfigureAwait(false);
        var scored = points.Where(p => p.HeldOut).ToArray();
        if (scored.Length < 2)
        {
            throw new ArgumentException($"only {scored.Length} of the {samples} sampled architectures were not fitted by the table's correction: evaluate with another --seed");
        }
        var m = scored.Select(x => x.MeasuredMs).ToArray();
        var p = scored.Select(x => x.PredictedMs).ToArray();
        var sum = scored.Select(x => x.TableSumMs).ToArray();
        var (factor, scaledMape) = AfterSpeedFactor(p, m);
        return new TableEvaluation(samples, scored.Length,
            Statistics.MeanAbsolutePercentageError(p, m), Statistics.KendallTau(p, m),
            Statistics.MeanAbsolutePercentageError(sum, m), Statistics.KendallTau(sum, m),
            table.Correction is not null, reference.DeviceId, points, rounds, factor, scaledMape);
    }

    /// <summary>
    /// The median ratio measured ÷ predicted and the MAPE of the predictions scaled by it. A host whose speed drifts
    /// (a VM whose neighbours or clock change, a phone that heats up) shifts every measurement by one factor between
    /// the table's build and its evaluation; this separates that from errors in the shape of the prediction.
    /// </summary>
    public static (double Factor, double MapePercent) AfterSpeedFactor(IReadOnlyList<double> predicted, IReadOnlyList<double> measured)
    {
        var factor = Statistics.Median(predicted.Select((x, i) => measured[i] / x).ToArray());
        return (factor, Statistics.MeanAbsolutePercentageError(predicted.Select(x => x * factor).ToArray(), measured));
    }

    /// <summary>
    /// Seeded uniform architectures of the space, each predicted from the table and measured on the reference in
    /// <paramref name="rounds"/> interleaved rounds; progress is reported as each architecture's last round ends.
    /// </summary>
    internal static async Task<IReadOnlyList<TableEvaluationSample>> MeasureSamplesAsync(
        LatencyTable table,
        ILatencyBackend reference,
        int samples,
        ulong seed,
        MeasurementProtocol protocol,
        MnasNetSearchSpace? space,
        IReadOnlySet<string> fitted,
        IProgress<TableEvaluationSample>? progress,
        int rounds,
        CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(reference);
        if (samples < 2)
        {
            throw new ArgumentException($"an evaluation needs at least 2 architectures (for Kendall's tau), got {samples}");
        }
        if (rounds is < 1 or > MaxRounds)
        {
            throw new ArgumentException($"rounds must be between 1 and {MaxRounds}, got {rounds}");
        }
        space ??= MnasNetSearchSpace.Default;
        var random = new SeededRandom(seed);
        var sampled = Enumerable.Range(0, samples).Select(_ => space.Sample(random)).Select(t => (Tokens: t, Architecture: space.Decode(t))).ToArray();
        var estimates = sampled.Select(_ => new List<double>(rounds)).ToArray();
        var points = new List<TableEvaluationSample>(samples);
        for (var round = 0; round < rounds; round++)
        {
            for (var i = 0; i < samples; i++)
            {
                var measured = await reference.MeasureAsync(sampled[i].Architecture, table.Options, protocol, cancellationToken).ConfigureAwait(false);
                estimates[i].Add(table.EstimateOf(measured.Statistics));
                if (round == rounds - 1)
                {
                    var (tokens, arch) = sampled[i];
                    var predicted = table.Predict(arch, table.Options);
                    var point = new TableEvaluationSample(arch.Id, space.FormatTokens(tokens), predicted.TotalMs, OverRounds(table.Estimator, estimates[i]), predicted.TableSumMs, !fitted.Contains(arch.Id));
                    points.Add(point);
                    progress?.Report(point);
                }
            }
        }
        return points;
    }

    public const int MaxRounds = 100;

    /// <summary>The table's estimator over an architecture's rounds: the fastest of the fastest runs, or the median of the medians.</summary>
    internal static double OverRounds(LatencyEstimator estimator, IReadOnlyList<double> rounds) => estimator == LatencyEstimator.Min
        ? rounds.Min()
        : Statistics.Median(rounds);
}
