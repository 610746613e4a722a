using MnasNet.Actors.Journal;
using MnasNet.Actors.Protocol;

namespace MnasNet.Actors.State;

/// <summary>One trial as the whole journal tells it (status, report, export, tests comparing journals).</summary>
public sealed record TrialSummary(
    long TrialId,
    int Batch,
    IReadOnlyList<int> Tokens,
    string ArchitectureId,
    double LogProb,
    double? Accuracy,
    double? LatencyMs,
    double? Reward,
    bool Failed,
    string? FailureReason,
    int Dispatches,
    string? WeightsPath);

public sealed record BatchSummary(int Batch, long Step, string ParameterHash, double MeanReward, double MaxReward, int Failed);

/// <summary>A projection of every event of a search, built by a pure fold (never touches the actors).</summary>
public sealed record SearchSummary(
    string SearchId,
    string Status,
    string? SettingsJson,
    string? Strategy,
    IReadOnlyList<TrialSummary> Trials,
    IReadOnlyList<BatchSummary> Batches,
    string? FinalPolicyHash,
    long Events,
    int Pauses,
    int Resumes,
    int LeaseExpiries,
    DateTimeOffset? StartedAt)
{
    public IEnumerable<TrialSummary> Rewarded => Trials.Where(t => t.Reward is not null);

    public static SearchSummary From(string id, IReadOnlyList<JournalEntry> entries)
    {
        var trials = new SortedDictionary<long, TrialSummary>();
        var batches = new List<BatchSummary>();
        string status = entries.Count == 0 ? "new" : "running";
        string? settings = null, strategy = null, hash = null;
        int pauses = 0, resumes = 0, expiries = 0;
        DateTimeOffset? started = null;
        foreach (var entry in entries)
        {
            switch (entry.Event)
            {
                case SearchStarted s:
                    (settings, strategy, hash, started) = (s.SettingsJson, s.Strategy, s.PolicyVersion, s.At);
                    break;
                case BatchSampled b:
                    foreach (var t in b.Trials)
                    {
                        trials[t.TrialId] = new TrialSummary(t.TrialId, b.Batch, t.Tokens, t.ArchitectureId, t.LogProb, null, null, null, false, null, 0, null);
                    }
                    break;
                case TrialDispatched d when trials.TryGetValue(d.TrialId, out var t):
                    trials[d.TrialId] = t with { Dispatches = t.Dispatches + 1 };
                    break;
                case TrialTrained tt when trials.TryGetValue(tt.TrialId, out var t):
                    trials[tt.TrialId] = t with { Accuracy = tt.Record.Accuracy, WeightsPath = tt.Record.WeightsPath };
                    break;
                case LatencyMeasured m when trials.TryGetValue(m.TrialId, out var t):
                    trials[m.TrialId] = t with { LatencyMs = m.Record.MedianMs };
                    break;
                case TrialFailed f when trials.TryGetValue(f.TrialId, out var t):
                    trials[f.TrialId] = t with { Failed = true, FailureReason = f.Reason };
                    break;
                case RewardComputed r when trials.TryGetValue(r.TrialId, out var t):
                    trials[r.TrialId] = t with { Reward = r.Inputs.Reward, Failed = t.Failed || r.Inputs.Failed };
                    break;
                case PolicyUpdated p:
                    hash = p.ParameterHash;
                    batches.Add(new BatchSummary(p.Batch, p.Step, p.ParameterHash, p.Rewards.Average(), p.Rewards.Max(), p.Failed.Count(f => f)));
                    break;
                case TrialLeaseExpired:
                    expiries++;
                    break;
                case SearchPaused:
                    status = "paused";
                    pauses++;
                    break;
                case SearchResumed:
                    status = "running";
                    resumes++;
                    break;
                case SearchCompleted c:
                    status = "completed";
                    hash = c.FinalPolicyHash;
                    break;
            }
        }
        return new SearchSummary(id, status, settings, strategy, trials.Values.ToList(), batches, hash, entries.Count, pauses, resumes, expiries, started);
    }

    /// <summary>Trials not dominated in (higher accuracy, lower latency), sorted by latency.</summary>
    public IReadOnlyList<TrialSummary> ParetoFront()
    {
        var candidates = Rewarded.Where(t => !t.Failed && t.Accuracy is not null && t.LatencyMs is not null).OrderBy(t => t.LatencyMs).ThenByDescending(t => t.Accuracy).ToList();
        var front = new List<TrialSummary>();
        var best = double.NegativeInfinity;
        foreach (var t in candidates)
        {
            if (t.Accuracy!.Value > best)
            {
                front.Add(t);
                best = t.Accuracy.Value;
            }
        }
        return front;
    }
}
