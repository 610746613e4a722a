using System.Globalization;
using System.Net;
using System.Text;

namespace MnasNet.Cli.Reporting;

/// <summary>
/// The report as one self-contained HTML page: tables and the plots inlined as base64 data URIs, inline CSS, no
/// script and no external reference, so the file can be mailed or archived alone.
/// </summary>
public static class ReportHtml
{
    public const string FileName = "report.html";

    public static string Render(ReportData data, IReadOnlyList<ReportImage> images, int top)
    {
        var html = new StringBuilder();
        html.Append("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n")
            .Append("<title>").Append(Encode($"mnasnet report: {data.SearchId}")).Append("</title>\n")
            .Append("<style>\n").Append(Style).Append("</style>\n</head>\n<body>\n")
            .Append("<h1>").Append(Encode($"Search {data.SearchId}")).Append("</h1>\n");

        Section(html, "summary", "Summary");
        Table(html, ["", ""], SummaryRows(data));

        Section(html, "plots", "Plots");
        foreach (var image in images)
        {
            html.Append("<figure><img src=\"data:image/png;base64,").Append(Convert.ToBase64String(image.Png))
                .Append("\" alt=\"").Append(Encode(image.Caption)).Append("\" data-file=\"").Append(Encode(image.FileName))
                .Append("\"><figcaption>").Append(Encode(image.Caption)).Append("</figcaption></figure>\n");
        }

        var topTrials = data.Top(top);
        Section(html, "top", $"Top {topTrials.Count} trials by reward");
        Table(html, TrialHeader(data), topTrials.Select(t => TrialRow(data, t)));

        var front = data.ParetoFront();
        Section(html, "pareto", $"Pareto front (accuracy vs latency), {front.Count} trials");
        Table(html, TrialHeader(data), front.Select(t => TrialRow(data, t)));

        Section(html, "targets", "Latency per target");
        Table(html, ["platform", "T (ms)", "trials measured", "within T", "min (ms)", "median (ms)", "best trial (ms)"], TargetRows(data));

        if (data.Finalists.Count > 0)
        {
            var tau = ReportPlots.KendallTau(data.Finalists);
            Section(html, "finalists", $"Finalists: proxy vs final accuracy (Kendall tau {(tau is { } k ? Format.Score(k) : "undefined")})");
            Table(html, ["trial", "proxy accuracy", "final accuracy", "latency (ms)"],
                data.Finalists.Select(f => new[] { Id(f.TrialId), Format.Score(f.ProxyAccuracy), Format.Score(f.FinalAccuracy), Format.Ms(f.LatencyMs) }));
        }

        Section(html, "batches", "Reward per batch");
        Table(html, ["batch", "mean reward", "max reward", "failed", "policy"],
            data.Batches.Select(b => new[] { Id(b.Batch), Format.Score(b.MeanReward), Format.Score(b.MaxReward), Id(b.Failed), b.ParameterHash }));

        html.Append("</body>\n</html>\n");
        return html.ToString();
    }

    private static IEnumerable<string[]> SummaryRows(ReportData data)
    {
        var best = data.Top(1).FirstOrDefault();
        yield return ["status", data.Status];
        yield return ["strategy", data.Strategy ?? "-"];
        yield return ["trials rewarded", Id(data.Rewarded.Count())];
        yield return ["trials failed", Id(data.Trials.Count(t => t.Failed))];
        yield return ["batches", Id(data.Batches.Count)];
        yield return ["best reward", best is null ? "-" : $"{Format.Score(best.Reward)} (trial {Id(best.TrialId)})"];
        yield return ["latency targets", data.Targets.Count == 0 ? "-" : string.Join("; ", data.Targets.Select(t => $"{t.Platform} T = {Format.Ms(t.TargetMs)} ms"))];
        if (data.Predictor is { } predictor)
        {
            yield return ["latency predictor", predictor.Describe()];
        }
        yield return ["policy", data.FinalPolicyHash ?? "-"];
    }

    private static string[] TrialHeader(ReportData data) =>
        ["trial", "batch", "reward", "accuracy", .. LatencyHeaders(data), "architecture"];

    private static IEnumerable<string> LatencyHeaders(ReportData data) => data.MultiTarget
        ? data.Targets.Select(t => $"{t.Platform} (ms)")
        : ["latency (ms)"];

    private static string[] TrialRow(ReportData data, TrialResult t) =>
        [Id(t.TrialId), Id(t.Batch), Format.Score(t.Reward), Format.Score(t.Accuracy),
            .. data.MultiTarget ? t.TargetLatenciesMs.Select(Format.Ms) : [Format.Ms(t.LatencyMs) + (t.LatencySource is { } source ? $" ({source})" : "")], t.ArchitectureId];

    private static IEnumerable<string[]> TargetRows(ReportData data)
    {
        var best = data.Top(1).FirstOrDefault();
        for (var i = 0; i < data.Targets.Count; i++)
        {
            var index = i;
            var target = data.Targets[i];
            var latencies = data.Trials.Where(t => !t.Failed).Select(t => LatencyOn(data, t, index)).OfType<double>().Order().ToList();
            yield return
            [
                target.Platform, Format.Ms(target.TargetMs), Id(latencies.Count), Id(latencies.Count(l => l <= target.TargetMs)),
                latencies.Count > 0 ? Format.Ms(latencies[0]) : "-",
                latencies.Count > 0 ? Format.Ms(Median(latencies)) : "-",
                best is null ? "-" : Format.Ms(LatencyOn(data, best, index)),
            ];
        }
    }

    private static double? LatencyOn(ReportData data, TrialResult t, int target) =>
        data.MultiTarget ? (t.TargetLatenciesMs.Count > target ? t.TargetLatenciesMs[target] : null) : t.LatencyMs;

    private static double Median(IReadOnlyList<double> sorted) =>
        sorted.Count % 2 == 1 ? sorted[sorted.Count / 2] : (sorted[(sorted.Count / 2) - 1] + sorted[sorted.Count / 2]) / 2;

    private static void Section(StringBuilder html, string id, string title) =>
        html.Append("<h2 id=\"").Append(id).Append("\">").Append(Encode(title)).Append("</h2>\n");

    private static void Table(StringBuilder html, IReadOnlyList<string> header, IEnumerable<string[]> rows)
    {
        html.Append("<table>\n");
        if (header.Any(h => h.Length > 0))
        {
            html.Append("<thead><tr>");
            foreach (var h in header)
            {
                html.Append("<th>").Append(Encode(h)).Append("</th>");
            }
            html.Append("</tr></thead>\n");
        }
        html.Append("<tbody>\n");
        foreach (var row in rows)
        {
            html.Append("<tr>");
            foreach (var cell in row)
            {
                html.Append("<td>").Append(Encode(cell)).Append("</td>");
            }
            html.Append("</tr>\n");
        }
        html.Append("</tbody>\n</table>\n");
    }

    private static string Id(long value) => value.ToString(CultureInfo.InvariantCulture);

    private static string Encode(string text) => WebUtility.HtmlEncode(text);

    private const string Style = """
        body { font-family: "DejaVu Sans", sans-serif; margin: 2em; color: #222; background: #fff; }
        h1 { font-size: 1.6em; }
        h2 { font-size: 1.2em; margin-top: 1.6em; border-bottom: 1px solid #ccc; }
        table { border-collapse: collapse; font-size: 0.9em; }
        th, td { border: 1px solid #ccc; padding: 0.25em 0.6em; text-align: right; }
        td:last-child, th:last-child { text-align: left; font-family: "DejaVu Sans Mono", monospace; }
        thead { background: #f0f0f0; }
        figure { display: inline-block; margin: 0.5em 1em 1em 0; }
        figure img { width: 900px; height: 560px; border: 1px solid #ddd; }
        figcaption { font-size: 0.9em; color: #555; }

        """;
}
