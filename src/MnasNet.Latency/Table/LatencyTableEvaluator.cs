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
public sealed record TableEvaluation(
    int Samples,
    int HeldOut,
    double MapePercent,
    double KendallTau,
    double TableSumMapePercent,
    double TableSumKendallTau,
    bool Corrected,
    string ReferenceDevice,
    IReadOnlyList<TableEvaluationSample> Points);

public static class LatencyTableEvaluator
{
    /// <summary>
    /// Samples <paramref name="samples"/> architectures uniformly from the space (seeded), predicts each from the
    /// table and measures each on <paramref name="reference"/> (the table's estimator of its runs), at the table's network options.
    /// </summary>
    public static async Task<TableEvaluation> EvaluateAsync(
        LatencyTable table,
        ILatencyBackend reference,
        int samples,
        ulong seed,
        MeasurementProtocol protocol,
        MnasNetSearchSpace? space = null,
        IProgress<TableEvaluationSample>? progress = null,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(table);
        var fitted = table.Correction?.Architectures.ToHashSet(StringComparer.Ordinal) ?? [];
        var points = await MeasureSamplesAsync(table, reference, samples, seed, protocol, space, fitted, progress, cancellationToken).ConfigureAwait(false);
        var scored = points.Where(p => p.HeldOut).ToArray();
        if (scored.Length < 2)
        {
            throw new ArgumentException($"only {scored.Length} of the {samples} sampled architectures were not fitted by the table's correction: evaluate with another --seed");
        }
        var m = scored.Select(x => x.MeasuredMs).ToArray();
        var p = scored.Select(x => x.PredictedMs).ToArray();
        var sum = scored.Select(x => x.TableSumMs).ToArray();
        return new TableEvaluation(samples, scored.Length,
            Statistics.MeanAbsolutePercentageError(p, m), Statistics.KendallTau(p, m),
            Statistics.MeanAbsolutePercentageError(sum, m), Statistics.KendallTau(sum, m),
            table.Correction is not null, reference.DeviceId, points);
    }

    /// <summary>Seeded uniform architectures of the space, each predicted from the table and measured on the reference.</summary>
    internal static async Task<IReadOnlyList<TableEvaluationSample>> MeasureSamplesAsync(
        LatencyTable table,
        ILatencyBackend reference,
        int samples,
        ulong seed,
        MeasurementProtocol protocol,
        MnasNetSearchSpace? space,
        IReadOnlySet<string> fitted,
        IProgress<TableEvaluationSample>? progress,
        CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(reference);
        if (samples < 2)
        {
            throw new ArgumentException($"an evaluation needs at least 2 architectures (for Kendall's tau), got {samples}");
        }
        space ??= MnasNetSearchSpace.Default;
        var random = new SeededRandom(seed);
        var points = new List<TableEvaluationSample>();
        for (var i = 0; i < samples; i++)
        {
            var tokens = space.Sample(random);
            var arch = space.Decode(tokens);
            var predicted = table.Predict(arch, table.Options);
            var measured = await reference.MeasureAsync(arch, table.Options, protocol, cancellationToken).ConfigureAwait(false);
            var point = new TableEvaluationSample(arch.Id, space.FormatTokens(tokens), predicted.TotalMs, table.EstimateOf(measured.Statistics), predicted.TableSumMs, !fitted.Contains(arch.Id));
            points.Add(point);
            progress?.Report(point);
        }
        return points;
    }
}
