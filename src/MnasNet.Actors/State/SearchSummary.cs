using MnasNet.Actors.Journal;

namespace MnasNet.Actors.State;

/// <summary>
/// One trial as the whole journal tells it (status, report, export, tests comparing journals). <see cref="LatencyMs"/>
/// is the first target platform's; <see cref="LatenciesMs"/> holds every target's, in the order of the search's targets.
/// <see cref="Dispatches"/> counts every attempt at any of its work; <see cref="InfrastructureFailed"/>: failed for the
/// infrastructure's reasons after every attempt (no reward, not learned from).
/// </summary>
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
    string? WeightsPath,
    IReadOnlyList<double?> LatenciesMs,
    bool InfrastructureFailed = false)
{
    /// <summary>The latency the search's lookup table predicted (searches with a predictor).</summary>
    public double? PredictedMs { get; init; }

    /// <summary>Which latency the reward used ("measured" or "predicted") in a search with a predictor; null without one.</summary>
    public string? LatencySource { get; init; }

    /// <summary>The latency the reward used: the predicted one for a trial the search did not measure.</summary>
    public double? RewardLatencyMs => LatencySource == Protocol.LatencySources.Predicted ? PredictedMs : LatencyMs;
}

/// <summary>
/// How far a search's predictor can be trusted: over the <paramref name="Pairs"/> trials both predicted and measured,
/// the mean absolute percentage error of the prediction and Kendall's τ-b between predicted and measured latency.
/// </summary>
public sealed record PredictorError(int Pairs, double? MapePercent, double? KendallTau)
{
    public static PredictorError Of(IEnumerable<(double Predicted, double Measured)> pairs)
    {
        var list = pairs.ToList();
        if (list.Count == 0)
        {
            return new PredictorError(0, null, null);
        }
        var mape = 100 * list.Average(p => Math.Abs(p.Predicted - p.Measured) / p.Measured);
        var tau = list.Count >= 2 ? Latency.Measurement.Statistics.KendallTauB([.. list.Select(p => p.Predicted)], [.. list.Select(p => p.Measured)]) : double.NaN;
        return new PredictorError(list.Count, mape, double.IsFinite(tau) ? tau : null);
    }
}

/// <summary>
/// A finalist as the journal tells it: what the proxy task said (accuracy, reward, latency per target), how its full
/// training went (status, epochs, accuracy curve) and, once trained, its final and best accuracy and checkpoint.
/// </summary>
public sealed record FinalistSummary(
    long TrialId,
    string ArchitectureId,
    IReadOnlyList<int> Tokens,
    double? ProxyAccuracy,
    double? ProxyReward,
    IReadOnlyList<double?> LatenciesMs,
    string Status,
    int EpochsDone,
    int Epochs,
    IReadOnlyList<double> AccuracyCurve,
    double? FinalAccuracy,
    double? BestAccuracy,
    int? BestEpoch,
    string? BestCheckpoint,
    string? BestCheckpointSha256,
    string RecipeJson,
    string Dataset,
    int? Resolution,
    ulong Seed,
    Protocol.FinalTrainingRecord? Record,
    string? Failure);

public sealed record BatchSummary(int Batch, long Step, string ParameterHash, double MeanReward, double MaxReward, int Failed);

/// <summary>The <see cref="SearchHistory"/> of a search as the read-side commands show it.</summary>
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
    DateTimeOffset? StartedAt,
    IReadOnlyList<TargetPlatform> Targets)
{
    public IEnumerable<TrialSummary> Rewarded => Trials.Where(t => t.Reward is not null);

    /// <summary>The latest train-final run's status (running, paused, completed); null when there was none.</summary>
    public SearchStatus? FinalStatus { get; init; }

    /// <summary>Every trial chosen for final training, in trial-id order (none before <c>train-final</c>).</summary>
    public IReadOnlyList<FinalistSummary> Finalists { get; init; } = [];

    /// <summary>
    /// Kendall's τ-b between proxy and final accuracy over the trained finalists: how far the proxy task's ranking
    /// can be trusted. Null with fewer than two, or when every accuracy of one side is tied.
    /// </summary>
    public double? ProxyFidelityTau
    {
        get
        {
            var trained = Finalists.Where(f => f.FinalAccuracy is not null && f.ProxyAccuracy is not null).ToList();
            if (trained.Count < 2)
            {
                return null;
            }
            var tau = Latency.Measurement.Statistics.KendallTauB([.. trained.Select(f => f.ProxyAccuracy!.Value)], [.. trained.Select(f => f.FinalAccuracy!.Value)]);
            return double.IsFinite(tau) ? tau : null;
        }
    }

    /// <summary>Trials whose work was attempted more than once (lease expiries, declines, infrastructure faults).</summary>
    public int RetriedTrials => Trials.Count(t => t.Dispatches > 1 + Math.Max(1, t.LatenciesMs.Count));

    public int InfrastructureFailures => Trials.Count(t => t.InfrastructureFailed);

    /// <summary>The lookup table of a search with a predictor (search-started), or null.</summary>
    public Protocol.PredictorIdentity? Predictor { get; init; }

    /// <summary>The predictor's error over the trials measured so far (searches with a predictor).</summary>
    public PredictorError? PredictorError => Predictor is null ? null
        : State.PredictorError.Of(Trials.Where(t => t.PredictedMs is not null && t.LatencyMs is not null).Select(t => (t.PredictedMs!.Value, t.LatencyMs!.Value)));

    public static SearchSummary From(string id, IReadOnlyList<JournalEntry> entries) => From(SearchHistory.From(id, entries));

    public static SearchSummary From(SearchHistory h)
    {
        var targets = h.MeasureTargets;
        var trials = h.Trials.Values.Select(t => new TrialSummary(t.Sampled.TrialId, t.Batch, t.Sampled.Tokens, t.Sampled.ArchitectureId, t.Sampled.LogProb,
            t.Trained?.Record.Accuracy, t.LatencyMs(0), t.Rewards.Count > 0 ? t.Rewards[^1].Inputs.Reward : null, t.Failed,
            t.Failures.Count > 0 ? t.Failures[^1].Event.Reason : null, t.Dispatches, t.Trained?.Record.WeightsPath, t.LatenciesMs(targets),
            t.Failures.Any(f => f.Event.Cause == Protocol.FailureCause.Infrastructure))
        { PredictedMs = t.Predicted?.Event.PredictedMs, LatencySource = t.LatencySource }).ToList();
        var batches = h.Updates.Select(u => new BatchSummary(u.Update.Batch, u.Update.Step, u.Update.ParameterHash, u.Update.Rewards.DefaultIfEmpty(0).Average(), u.Update.Rewards.DefaultIfEmpty(0).Max(),
            u.Update.Failed.Count(f => f))).ToList();
        var byId = trials.ToDictionary(t => t.TrialId);
        var finalists = h.Current.Finalists.Values.Select(f =>
        {
            var trial = byId.GetValueOrDefault(f.TrialId);
            var best = f.BestEpoch;
            var status = f.Status switch
            {
                WorkStatus.Done => "trained",
                WorkStatus.Failed => "failed",
                WorkStatus.InFlight => "training",
                _ => f.EpochsDone.Count > 0 ? "interrupted" : "pending",
            };
            return new FinalistSummary(f.TrialId, f.ArchitectureId, f.Tokens, trial?.Accuracy, trial?.Reward, trial?.LatenciesMs ?? [], status, f.EpochsDone.Count, f.Epochs,
                [.. f.EpochsDone.Select(e => e.Accuracy)], f.Result?.Accuracy, best?.Accuracy, best?.Epoch, best?.Checkpoint, best?.CheckpointSha256,
                f.RecipeJson, f.Dataset, f.Resolution, f.Seed, f.Result, f.Failure);
        }).ToList();
        return new SearchSummary(h.SearchId, h.Status.Word(), h.Started?.SettingsJson, h.Started?.Strategy, trials, batches, h.FinalPolicyHash, h.Events,
            h.Pauses, h.Resumes, h.LeaseExpiries, h.Started?.At, h.Targets())
        { Finalists = finalists, FinalStatus = h.Current.FinalStatus, Predictor = h.Started?.Predictor };
    }

    /// <summary>Trials not dominated on accuracy and every target's latency (<see cref="State.ParetoFront"/>).</summary>
    public IReadOnlyList<TrialSummary> ParetoFront() =>
        State.ParetoFront.Of(Rewarded.Where(t => !t.Failed), t => t.Accuracy, t => t.LatenciesMs);
}
