using MnasNet.Latency.Measurement;
using MnasNet.SearchSpace;

namespace MnasNet.Latency.Table;

public sealed record TableEvaluationSample(string ArchitectureId, string Tokens, double PredictedMs, double MeasuredMs);

/// <summary>How well a table predicts real measurements: MAPE (percent) and Kendall's τ-b of the rankings.</summary>
public sealed record TableEvaluation(int Samples, double MapePercent, double KendallTau, string ReferenceDevice, IReadOnlyList<TableEvaluationSample> Points);

public static class LatencyTableEvaluator
{
    /// <summary>
    /// Samples <paramref name="samples"/> architectures uniformly from the space (seeded), predicts each from the
    /// table and measures each on <paramref name="reference"/> (its median), at the table's network options.
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
            var predicted = table.Predict(arch, table.Options).TotalMs;
            var measured = await reference.MeasureAsync(arch, table.Options, protocol, cancellationToken).ConfigureAwait(false);
            var point = new TableEvaluationSample(arch.Id, space.FormatTokens(tokens), predicted, measured.Statistics.MedianMs);
            points.Add(point);
            progress?.Report(point);
        }
        var p = points.Select(x => x.PredictedMs).ToArray();
        var m = points.Select(x => x.MeasuredMs).ToArray();
        return new TableEvaluation(samples, Statistics.MeanAbsolutePercentageError(p, m), Statistics.KendallTau(p, m), reference.DeviceId, points);
    }
}
