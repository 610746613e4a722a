using System.CommandLine;
using System.Globalization;
using MnasNet.Cli.Reporting;

namespace MnasNet.Cli.Commands.Search;

/// <summary><c>mnasnet report ID [--out DIR] [--json] [--html]</c>: top-k, Pareto front, reward per batch, PNG plots, an HTML page.</summary>
public sealed class ReportCommand : SearchCliCommand
{
    private readonly Argument<string> _id = IdArgument();
    private readonly JournalOptions _journal = new();
    private readonly Option<string?> _out = new("--out") { Description = "Directory for report.json, the PNG plots and report.html (default: <journal-dir>/<id>.report)." };
    private readonly Option<int> _top = new("--top") { Description = "How many trials in the top-k table.", DefaultValueFactory = _ => 10 };
    private readonly Option<bool> _json = new("--json") { Description = "Print the report as JSON." };
    private readonly Option<bool> _html = new("--html") { Description = "Also write report.html: one self-contained page with the tables and the plots inlined." };

    public ReportCommand() : base("report", "Results of a search: top-k trials, Pareto front (accuracy vs latency), reward per batch, plots.")
    {
        Arguments.Add(_id);
        _journal.AddTo(this);
        Options.Add(_out);
        Options.Add(_top);
        Options.Add(_json);
        Options.Add(_html);
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
        var entries = journal.Open().ReadEvents(id);
        var summary = Actors.State.SearchSummary.From(id, entries);
        var data = ReportDataAdapter.From(summary);
        var timing = Actors.Timing.SearchTiming.Of(entries);
        var report = SearchReport.From(data, top) with { Clock = timing.Clock, ElapsedSeconds = timing.ElapsedSeconds, WallSeconds = timing.WallSeconds };
        var outDir = parseResult.GetValue(_out) ?? Path.Combine(journal.Directory, $"{id}.report");
        Directory.CreateDirectory(outDir);
        var json = System.Text.Json.JsonSerializer.Serialize(report, Json);
        await File.WriteAllTextAsync(Path.Combine(outDir, "report.json"), json, cancellationToken);
        var images = ReportPlots.RenderAll(data);
        foreach (var image in images)
        {
            await File.WriteAllBytesAsync(Path.Combine(outDir, image.FileName), image.Png, cancellationToken);
        }
        List<string> written = ["report.json", .. images.Select(i => i.FileName)];
        if (parseResult.GetValue(_html))
        {
            await File.WriteAllTextAsync(Path.Combine(outDir, ReportHtml.FileName), ReportHtml.Render(data, images, top), cancellationToken);
            written.Add(ReportHtml.FileName);
        }
        if (parseResult.GetValue(_json))
        {
            await output.WriteLineAsync(json);
            return ExitCodes.Success;
        }
        var c = CultureInfo.InvariantCulture;
        await output.WriteLineAsync($"search {id}: {report.Status}, {report.TrialsRewarded} trials rewarded, {report.TrialsFailed} failed, {report.RetriedTrials} retried, {report.InfrastructureFailures} failed by the infrastructure (not learned from), policy {report.FinalPolicyHash}");
        if (report.Predictor is { } predictor)
        {
            await output.WriteLineAsync($"latency: {predictor.Describe()}");
        }
        await output.WriteLineAsync($"\ntop {report.Top.Count} by reward:");
        await output.WriteLineAsync($"  trial  batch  reward    accuracy  latency(ms)  {(report.Predictor is null ? "" : "latency    ")}architecture");
        foreach (var t in report.Top)
        {
            await output.WriteLineAsync(string.Create(c, $"  {t.TrialId,5}  {t.Batch,5}  {t.Reward,8:F5}  {t.Accuracy,8:F4}  {t.LatencyMs,11:F3}  {(t.LatencySource is { } source ? $"{source,-9}  " : "")}{t.ArchitectureId}"));
        }
        await output.WriteLineAsync($"\nPareto front (accuracy vs latency), {report.Pareto.Count} trials:");
        foreach (var t in report.Pareto)
        {
            await output.WriteLineAsync(string.Create(c, $"  trial {t.TrialId,5}  acc {t.Accuracy:F4}  lat {string.Join(" / ", t.LatenciesMs.Select(l => l.ToString("F3", c)))} ms  reward {t.Reward:F5}"));
        }
        if (summary.Finalists.Count > 0)
        {
            await output.WriteLineAsync($"\nfinalists (train-final), {summary.Finalists.Count}:");
            await FinalTable.WriteAsync(output, summary);
        }
        await output.WriteLineAsync("\nreward per batch:");
        foreach (var b in report.Batches)
        {
            await output.WriteLineAsync(string.Create(c, $"  batch {b.Batch,4}  mean {b.MeanReward:F5}  max {b.MaxReward:F5}  failed {b.Failed}  policy {b.ParameterHash}"));
        }
        await output.WriteLineAsync($"\nwritten to {Path.GetFullPath(outDir)}: {string.Join(", ", written)}");
        return ExitCodes.Success;
    }
}

/// <summary>A trial in the report: <see cref="LatencyMs"/> is the first target platform's, <see cref="LatenciesMs"/> every target's.</summary>
public sealed record ReportTrial(long TrialId, int Batch, double Reward, double Accuracy, double LatencyMs, string ArchitectureId, IReadOnlyList<int> Tokens, IReadOnlyList<double> LatenciesMs)
{
    /// <summary>Which latency the reward used ("measured" or "predicted") in a search with a predictor; absent without one.</summary>
    [System.Text.Json.Serialization.JsonIgnore(Condition = System.Text.Json.Serialization.JsonIgnoreCondition.WhenWritingNull)]
    public string? LatencySource { get; init; }
}

public sealed record SearchReport(
    string SearchId, string Status, int TrialsRewarded, int TrialsFailed, string? FinalPolicyHash,
    IReadOnlyList<ReportTrial> Top, IReadOnlyList<ReportTrial> Pareto, IReadOnlyList<BatchResult> Batches, int RetriedTrials = 0, int InfrastructureFailures = 0,
    string Clock = Actors.Timing.SearchTiming.RealClock, double? ElapsedSeconds = null, double? WallSeconds = null)
{
    /// <summary>The fully trained finalists (train-final): proxy vs final accuracy and latency; absent from report.json without them.</summary>
    [System.Text.Json.Serialization.JsonIgnore(Condition = System.Text.Json.Serialization.JsonIgnoreCondition.WhenWritingNull)]
    public IReadOnlyList<Finalist>? Finalists { get; init; }

    /// <summary>Kendall's τ-b between the finalists' proxy and final accuracy.</summary>
    [System.Text.Json.Serialization.JsonIgnore(Condition = System.Text.Json.Serialization.JsonIgnoreCondition.WhenWritingNull)]
    public double? ProxyFidelityTau { get; init; }

    /// <summary>A search with a latency predictor: its table, the fraction measured and the predictor's error (MAPE, Kendall τ).</summary>
    [System.Text.Json.Serialization.JsonIgnore(Condition = System.Text.Json.Serialization.JsonIgnoreCondition.WhenWritingNull)]
    public PredictorView? Predictor { get; init; }

    public static SearchReport From(ReportData data, int top)
    {
        static ReportTrial View(TrialResult t) => new(t.TrialId, t.Batch, t.Reward ?? 0, t.Accuracy ?? 0, t.LatencyMs ?? 0, t.ArchitectureId, t.Tokens,
            [.. t.TargetLatenciesMs.Select(l => l ?? 0)])
        { LatencySource = t.LatencySource };
        return new SearchReport(data.SearchId, data.Status, data.Rewarded.Count(), data.Trials.Count(t => t.Failed), data.FinalPolicyHash,
            data.Top(top).Select(View).ToList(), data.ParetoFront().Select(View).ToList(), data.Batches, data.RetriedTrials, data.InfrastructureFailures)
        {
            Finalists = data.Finalists.Count > 0 ? data.Finalists : null,
            ProxyFidelityTau = ReportPlots.KendallTau(data.Finalists),
            Predictor = data.Predictor,
        };
    }
}
