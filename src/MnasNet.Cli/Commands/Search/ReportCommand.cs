using System.CommandLine;
using System.Globalization;
using MnasNet.Actors.State;

namespace MnasNet.Cli.Commands.Search;

/// <summary><c>mnasnet report ID [--out DIR] [--json]</c>: top-k, Pareto front, reward per batch, PNG plots.</summary>
public sealed class ReportCommand : SearchCliCommand
{
    private readonly Argument<string> _id = IdArgument();
    private readonly JournalOptions _journal = new();
    private readonly Option<string?> _out = new("--out") { Description = "Directory for report.json, pareto.png and rewards.png (default: <journal-dir>/<id>.report)." };
    private readonly Option<int> _top = new("--top") { Description = "How many trials in the top-k table.", DefaultValueFactory = _ => 10 };
    private readonly Option<bool> _json = new("--json") { Description = "Print the report as JSON." };

    public ReportCommand() : base("report", "Results of a search: top-k trials, Pareto front (accuracy vs latency), reward per batch, plots.")
    {
        Arguments.Add(_id);
        _journal.AddTo(this);
        Options.Add(_out);
        Options.Add(_top);
        Options.Add(_json);
    }

    protected override async Task<int> ExecuteAsync(ParseResult parseResult, TextWriter output, CancellationToken cancellationToken)
    {
        var journal = _journal.Resolve(parseResult);
        var id = parseResult.GetValue(_id)!;
        var top = parseResult.GetValue(_top);
        if (top < 1)
        {
            throw new CliInputException($"--top must be at least 1, got {top}");
        }
        var summary = SearchSummary.From(id, journal.Open().ReadEvents(id));
        var report = SearchReport.From(summary, top);
        var outDir = parseResult.GetValue(_out) ?? Path.Combine(journal.Directory, $"{id}.report");
        Directory.CreateDirectory(outDir);
        var json = System.Text.Json.JsonSerializer.Serialize(report, Json);
        await File.WriteAllTextAsync(Path.Combine(outDir, "report.json"), json, cancellationToken);
        ReportPlots.Pareto(summary, Path.Combine(outDir, "pareto.png"));
        ReportPlots.Rewards(summary, Path.Combine(outDir, "rewards.png"));
        if (parseResult.GetValue(_json))
        {
            await output.WriteLineAsync(json);
            return ExitCodes.Success;
        }
        var c = CultureInfo.InvariantCulture;
        await output.WriteLineAsync($"search {id}: {report.Status}, {report.TrialsRewarded} trials rewarded, {report.TrialsFailed} failed, policy {report.FinalPolicyHash}");
        await output.WriteLineAsync($"\ntop {report.Top.Count} by reward:");
        await output.WriteLineAsync("  trial  batch  reward    accuracy  latency(ms)  architecture");
        foreach (var t in report.Top)
        {
            await output.WriteLineAsync(string.Create(c, $"  {t.TrialId,5}  {t.Batch,5}  {t.Reward,8:F5}  {t.Accuracy,8:F4}  {t.LatencyMs,11:F3}  {t.ArchitectureId}"));
        }
        await output.WriteLineAsync($"\nPareto front (accuracy vs latency), {report.Pareto.Count} trials:");
        foreach (var t in report.Pareto)
        {
            await output.WriteLineAsync(string.Create(c, $"  trial {t.TrialId,5}  acc {t.Accuracy:F4}  lat {string.Join(" / ", t.LatenciesMs.Select(l => l.ToString("F3", c)))} ms  reward {t.Reward:F5}"));
        }
        await output.WriteLineAsync("\nreward per batch:");
        foreach (var b in report.Batches)
        {
            await output.WriteLineAsync(string.Create(c, $"  batch {b.Batch,4}  mean {b.MeanReward:F5}  max {b.MaxReward:F5}  failed {b.Failed}  policy {b.ParameterHash}"));
        }
        await output.WriteLineAsync($"\nwritten: {Path.Combine(outDir, "report.json")}, pareto.png, rewards.png");
        return ExitCodes.Success;
    }
}

/// <summary>A trial in the report: <see cref="LatencyMs"/> is the first target platform's, <see cref="LatenciesMs"/> every target's.</summary>
public sealed record ReportTrial(long TrialId, int Batch, double Reward, double Accuracy, double LatencyMs, string ArchitectureId, IReadOnlyList<int> Tokens, IReadOnlyList<double> LatenciesMs);

public sealed record SearchReport(
    string SearchId, string Status, int TrialsRewarded, int TrialsFailed, string? FinalPolicyHash,
    IReadOnlyList<ReportTrial> Top, IReadOnlyList<ReportTrial> Pareto, IReadOnlyList<BatchSummary> Batches)
{
    public static SearchReport From(SearchSummary s, int top)
    {
        static ReportTrial View(TrialSummary t) => new(t.TrialId, t.Batch, t.Reward ?? 0, t.Accuracy ?? 0, t.LatencyMs ?? 0, t.ArchitectureId, t.Tokens,
            [.. t.LatenciesMs.Select(l => l ?? 0)]);
        var ok = s.Rewarded.Where(t => !t.Failed).ToList();
        return new SearchReport(s.SearchId, s.Status, s.Rewarded.Count(), s.Trials.Count(t => t.Failed), s.FinalPolicyHash,
            ok.OrderByDescending(t => t.Reward).ThenBy(t => t.TrialId).Take(top).Select(View).ToList(),
            s.ParetoFront().Select(View).ToList(), s.Batches);
    }
}

internal static class ReportPlots
{
    public static void Pareto(SearchSummary s, string path)
    {
        var plot = new ScottPlot.Plot();
        var ok = s.Rewarded.Where(t => !t.Failed && t.LatencyMs is not null && t.Accuracy is not null).ToList();
        if (ok.Count > 0)
        {
            var all = plot.Add.Scatter(ok.Select(t => t.LatencyMs!.Value).ToArray(), ok.Select(t => t.Accuracy!.Value).ToArray());
            all.LineWidth = 0;
            all.MarkerSize = 4;
            all.LegendText = "trials";
            var front = s.ParetoFront();
            var line = plot.Add.Scatter(front.Select(t => t.LatencyMs!.Value).ToArray(), front.Select(t => t.Accuracy!.Value).ToArray());
            line.LineWidth = 2;
            line.MarkerSize = 7;
            line.LegendText = "Pareto front";
            plot.ShowLegend();
        }
        plot.Title($"search {s.SearchId}: accuracy vs latency");
        plot.XLabel("latency (ms)");
        plot.YLabel("accuracy");
        plot.SavePng(path, 900, 600);
    }

    public static void Rewards(SearchSummary s, string path)
    {
        var plot = new ScottPlot.Plot();
        if (s.Batches.Count > 0)
        {
            var xs = s.Batches.Select(b => (double)b.Batch).ToArray();
            var mean = plot.Add.Scatter(xs, s.Batches.Select(b => b.MeanReward).ToArray());
            mean.LegendText = "mean reward";
            var max = plot.Add.Scatter(xs, s.Batches.Select(b => b.MaxReward).ToArray());
            max.LegendText = "max reward";
            plot.ShowLegend();
        }
        plot.Title($"search {s.SearchId}: reward per batch");
        plot.XLabel("batch");
        plot.YLabel("reward");
        plot.SavePng(path, 900, 600);
    }
}
