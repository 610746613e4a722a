using MnasNet.Actors.Journal;
using MnasNet.Actors.Protocol;
using MnasNet.Actors.State;

namespace MnasNet.Cli.Reporting;

/// <summary>The one place that knows the journal's read model; everything in Reporting works on <see cref="ReportData"/>.</summary>
public static class ReportDataAdapter
{
    public static ReportData FromJournal(string searchId, IReadOnlyList<JournalEntry> entries)
    {
        var summary = SearchSummary.From(searchId, entries);
        // The targets (platform, T) and each target's latency are not in the summary: read them from the events.
        IReadOnlyList<DeviceLatency>? devices = null;
        double? singleTargetMs = null;
        var platforms = new Dictionary<int, string>();
        var latencies = new Dictionary<(long Trial, int Target), double>();
        foreach (var entry in entries)
        {
            switch (entry.Event)
            {
                case RewardComputed r when r.Inputs.Devices is { Count: > 0 } d:
                    devices ??= d;
                    break;
                case RewardComputed r when !r.Inputs.Failed:
                    singleTargetMs ??= r.Inputs.TargetMs;
                    break;
                case LatencyMeasured m:
                    platforms.TryAdd(m.Target, m.Record.Platform);
                    latencies.TryAdd((m.TrialId, m.Target), m.Record.MedianMs);
                    break;
            }
        }
        IReadOnlyList<LatencyTarget> targets = devices is not null
            ? devices.Select(d => new LatencyTarget(d.Platform, d.TargetMs)).ToList()
            : singleTargetMs is { } t ? [new LatencyTarget(platforms.GetValueOrDefault(0, "target"), t)] : [];
        var trials = summary.Trials.Select(t => new TrialResult(
            t.TrialId, t.Batch, t.Tokens, t.ArchitectureId, t.Accuracy, t.LatencyMs, t.Reward, t.Failed,
            targets.Select((_, i) => latencies.TryGetValue((t.TrialId, i), out var ms) ? ms : (double?)null).ToList())).ToList();
        var batches = summary.Batches.Select(b => new BatchResult(b.Batch, b.Step, b.ParameterHash, b.MeanReward, b.MaxReward, b.Failed)).ToList();
        return new ReportData(summary.SearchId, summary.Status, summary.Strategy, summary.FinalPolicyHash, targets, trials, batches, Finalists: []);
    }
}
