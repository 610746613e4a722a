using MnasNet.Actors.State;

namespace MnasNet.Cli.Reporting;

/// <summary>
/// Everything a report shows, as plain data: the plots, the HTML page and report.json are pure functions of it.
/// Built from a journal by <see cref="ReportDataAdapter.FromJournal"/>; tests construct it directly.
/// </summary>
public sealed record ReportData(
    string SearchId,
    string Status,
    string? Strategy,
    string? FinalPolicyHash,
    IReadOnlyList<TargetPlatform> Targets,
    IReadOnlyList<TrialResult> Trials,
    IReadOnlyList<BatchResult> Batches,
    IReadOnlyList<Finalist> Finalists,
    int RetriedTrials = 0,
    int InfrastructureFailures = 0)
{
    /// <summary>A search with a latency predictor: its table, the fraction measured and the predictor's error.</summary>
    public PredictorView? Predictor { get; init; }

    public IEnumerable<TrialResult> Rewarded => Trials.Where(t => t.Reward is not null);

    /// <summary>Rewarded, not failed, with both accuracy and latency: the trials the scatter and the Pareto front use.</summary>
    public IEnumerable<TrialResult> Measured => Rewarded.Where(t => !t.Failed && t.Accuracy is not null && t.LatencyMs is not null);

    public bool MultiTarget => Targets.Count > 1;

    /// <summary>The k best trials by reward (ties: lower trial id first).</summary>
    public IReadOnlyList<TrialResult> Top(int k) =>
        Rewarded.Where(t => !t.Failed).OrderByDescending(t => t.Reward).ThenBy(t => t.TrialId).Take(k).ToList();

    /// <summary>Trials not dominated on accuracy and every target's latency, sorted by the first target's latency.</summary>
    public IReadOnlyList<TrialResult> ParetoFront() =>
        Actors.State.ParetoFront.Of(Measured, t => t.Accuracy, t => t.TargetLatenciesMs.Count > 0 ? t.TargetLatenciesMs : [t.LatencyMs]);

    /// <summary>The best reward seen up to and including each rewarded trial, in trial-id order (failed trials count as their reward).</summary>
    public IReadOnlyList<(long TrialId, double Best)> RunningBest()
    {
        var result = new List<(long, double)>();
        var best = double.NegativeInfinity;
        foreach (var t in Rewarded.OrderBy(t => t.TrialId))
        {
            best = Math.Max(best, t.Reward!.Value);
            result.Add((t.TrialId, best));
        }
        return result;
    }
}

/// <summary>
/// One trial. <see cref="LatencyMs"/> is the first target's latency (the one the single-device reward uses);
/// <see cref="TargetLatenciesMs"/> has one entry per <see cref="ReportData.Targets"/> (null where not measured).
/// </summary>
public sealed record TrialResult(
    long TrialId,
    int Batch,
    IReadOnlyList<int> Tokens,
    string ArchitectureId,
    double? Accuracy,
    double? LatencyMs,
    double? Reward,
    bool Failed,
    IReadOnlyList<double?> TargetLatenciesMs)
{
    /// <summary>Which latency the reward used ("measured" or "predicted": then <see cref="LatencyMs"/> is the prediction); null without a predictor.</summary>
    public string? LatencySource { get; init; }
}

/// <summary>One policy update; property names and order are those report.json has always had.</summary>
public sealed record BatchResult(int Batch, long Step, string ParameterHash, double MeanReward, double MaxReward, int Failed);

/// <summary>A trial trained again with the full recipe: its proxy (search) accuracy next to its final accuracy.</summary>
public sealed record Finalist(long TrialId, double ProxyAccuracy, double FinalAccuracy, double? LatencyMs);
