using System.Globalization;
using MnasNet.Actors.Protocol;
using MnasNet.Actors.State;

namespace MnasNet.Cli.Reporting;

/// <summary>
/// A search with a latency predictor as status and report show it: the table, the fraction measured, how many trials
/// were measured and how many rewarded with the prediction, and the predictor's error over the trials measured so far.
/// </summary>
public sealed record PredictorView(string Table, string Sha256, string Platform, bool Corrected, double MeasureTop, int Measured, int Predicted, int Pairs,
    double? MapePercent, double? KendallTau)
{
    public static PredictorView? Of(SearchSummary summary, double measureTop)
    {
        if (summary.Predictor is not { } p || summary.PredictorError is not { } error)
        {
            return null;
        }
        return new PredictorView(p.File, p.Sha256, p.Platform, p.Corrected, measureTop,
            summary.Trials.Count(t => t.LatencySource == LatencySources.Measured), summary.Trials.Count(t => t.LatencySource == LatencySources.Predicted),
            error.Pairs, error.MapePercent, error.KendallTau);
    }

    public string Describe()
    {
        var c = CultureInfo.InvariantCulture;
        var error = Pairs == 0 ? "predictor error: nothing measured yet"
            : string.Create(c, $"predictor error over {Pairs} measured: MAPE {MapePercent:F1} %, Kendall tau {(KendallTau is { } t ? t.ToString("F3", c) : "-")}");
        return string.Create(c, $"table {Table}{(Corrected ? " (corrected)" : "")}, top {MeasureTop:G4} of each batch measured: {Measured} rewards on measured latency, {Predicted} on predicted; {error}");
    }
}
