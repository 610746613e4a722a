using MnasNet.Actors.Journal;
using MnasNet.Actors.State;

namespace MnasNet.Cli.Reporting;

/// <summary>The one place that knows the journal's read model; everything in Reporting works on <see cref="ReportData"/>.</summary>
public static class ReportDataAdapter
{
    public static ReportData FromJournal(string searchId, IReadOnlyList<JournalEntry> entries) => From(SearchSummary.From(searchId, entries));

    public static ReportData From(SearchSummary summary)
    {
        // A trial the search did not measure shows the latency its reward used: the prediction, labelled as such.
        var trials = summary.Trials.Select(t => new TrialResult(
            t.TrialId, t.Batch, t.Tokens, t.ArchitectureId, t.Accuracy, t.RewardLatencyMs, t.Reward, t.Failed,
            [.. summary.Targets.Select((_, i) => i == 0 && t.LatencySource is not null ? t.RewardLatencyMs : i < t.LatenciesMs.Count ? t.LatenciesMs[i] : null)])
        { LatencySource = t.LatencySource }).ToList();
        var batches = summary.Batches.Select(b => new BatchResult(b.Batch, b.Step, b.ParameterHash, b.MeanReward, b.MaxReward, b.Failed)).ToList();
        var finalists = summary.Finalists.Where(f => f.ProxyAccuracy is not null && f.FinalAccuracy is not null)
            .Select(f => new Finalist(f.TrialId, f.ProxyAccuracy!.Value, f.FinalAccuracy!.Value, f.LatenciesMs.Count > 0 ? f.LatenciesMs[0] : null)).ToList();
        return new ReportData(summary.SearchId, summary.Status, summary.Strategy, summary.FinalPolicyHash, summary.Targets, trials, batches, finalists,
            summary.RetriedTrials, summary.InfrastructureFailures)
        {
            Predictor = summary.Predictor is null || summary.SettingsJson is null ? null
                : PredictorView.Of(summary, Actors.Settings.SettingsLoader.FromJson(summary.SettingsJson).Latency.MeasureTop),
        };
    }
}
