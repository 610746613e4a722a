using MnasNet.Actors.Backends;
using MnasNet.Actors.Journal;
using MnasNet.Actors.Protocol;
using MnasNet.Actors.Settings;
using MnasNet.Actors.State;
using MnasNet.Controller;
using MnasNet.SearchSpace;

namespace MnasNet.Actors.Policy;

/// <summary>A warm start that cannot be made (unknown source, another strategy or space, nothing to take).</summary>
public sealed class WarmStartException(string message) : Exception(message);

/// <summary>
/// What a new search starts from: the journaled <see cref="WarmStart"/> and, for a policy-state warm start, the
/// starting policy state (search-started journals it as the search's initial state).
/// </summary>
public sealed record WarmStartPlan(WarmStart Record, byte[]? PolicyState);

/// <summary>
/// Plans a warm start from the source search's journal (pure: the caller reads the events). PPO and ppo-tabular take
/// the newest journaled policy state; evolution and TPE take the best rewarded trials, re-scored under the new
/// search's reward settings with the accuracy and latencies the source measured; random search has nothing to take.
/// </summary>
public static class WarmStartPlanner
{
    public static WarmStartPlan Plan(SearchSettings settings, string sourceId, IReadOnlyList<JournalEntry> source)
    {
        EnsureOtherSearch(settings, sourceId);
        var history = SearchHistory.From(sourceId, source);
        var started = history.Started ?? throw new WarmStartException($"--warm-start {sourceId}: its journal has no search-started event");
        if (WarmStarts.KindOf(settings.Strategy) is not { } kind)
        {
            throw new WarmStartException($"--warm-start {sourceId}: strategy {settings.Strategy} learns nothing from earlier trials, so there is nothing to take; run it without --warm-start");
        }
        if (started.Strategy != settings.Strategy)
        {
            throw new WarmStartException($"--warm-start {sourceId}: that search used strategy {started.Strategy}, this one uses {settings.Strategy}; a warm start needs the same strategy");
        }
        if (started.SpaceVersion != MnasNetSearchSpace.Version)
        {
            throw new WarmStartException($"--warm-start {sourceId}: that search ran on search space {started.SpaceVersion}, this build's is {MnasNetSearchSpace.Version}");
        }
        var rewarded = history.Trials.Values.Where(t => t.Reward is not null).ToList();
        var head = (Events: history.Events, Link: history.Current.LastLink, Status: history.Status.Word());
        return kind == WarmStartKind.PolicyState
            ? FromPolicyState(settings, sourceId, history, head, rewarded.Count)
            : FromTrials(settings, sourceId, started, head, rewarded);
    }

    /// <summary>Checked before the source is read: a search's own id names no earlier search.</summary>
    public static void EnsureOtherSearch(SearchSettings settings, string sourceId)
    {
        if (sourceId == settings.Id)
        {
            throw new WarmStartException($"--warm-start {sourceId}: a search cannot warm-start from itself");
        }
    }

    private static WarmStartPlan FromPolicyState(SearchSettings settings, string sourceId, SearchHistory history, (long Events, string? Link, string Status) head, int rewarded)
    {
        var updates = history.Updates.Where(u => u.Update.Policy is not null).Select(u => (u.Update.Step, Checkpoint: u.Update.Policy!)).ToList();
        if (updates.Count == 0)
        {
            throw new WarmStartException(history.Updates.Count > 0
                ? $"--warm-start {sourceId}: its journal holds no policy states (written before they were journaled); nothing to take"
                : $"--warm-start {sourceId}: it has not finished a batch yet ({head.Status}, {rewarded} trials rewarded): its policy has learned nothing to take");
        }
        // Each state is stored relative to the one before it (the first relative to search-started's); decoding starts
        // at the last whole one.
        List<(long Step, PolicyCheckpoint Checkpoint)> checkpoints = history.Started!.Policy is { } initial ? [(0, initial), .. updates] : updates;
        var first = checkpoints.FindLastIndex(c => c.Checkpoint.Base is null);
        if (first < 0)
        {
            throw new WarmStartException($"--warm-start {sourceId}: its journal holds no whole policy state to decode from");
        }
        byte[]? state = null;
        try
        {
            foreach (var (_, checkpoint) in checkpoints.Skip(first))
            {
                state = checkpoint.Decode(state);
            }
        }
        catch (InvalidDataException e)
        {
            throw new WarmStartException($"--warm-start {sourceId}: its last policy state does not decode: {e.Message}");
        }
        var (step, last) = checkpoints[^1];
        byte[] start;
        try
        {
            start = WarmStarts.PolicyState(settings.Strategy, state!, SearchPolicies.ControllerOptions(settings, SearchPolicies.PolicySeed(settings)));
        }
        catch (Exception e) when (e is ControllerException or InvalidDataException)
        {
            throw new WarmStartException($"--warm-start {sourceId}: its policy state cannot start this search: {e.Message}");
        }
        var record = new WarmStart(sourceId, settings.Strategy, head.Status, head.Events, head.Link, WarmStartKind.PolicyState, rewarded,
            SourceStateHash: last.StateHash, SourceStep: step);
        return new WarmStartPlan(record, start);
    }

    private static WarmStartPlan FromTrials(SearchSettings settings, string sourceId, SearchStarted started, (long Events, string? Link, string Status) head, List<TrialHistory> rewarded)
    {
        SearchSettings sourceSettings;
        try
        {
            sourceSettings = SettingsLoader.FromJson(started.SettingsJson);
        }
        catch (Exception e) when (e is SettingsException or System.Text.Json.JsonException)
        {
            throw new WarmStartException($"--warm-start {sourceId}: its journaled settings cannot be read: {e.Message}");
        }
        var targets = DevicePlatform.TargetsOf(settings);
        var sourcePlatforms = DevicePlatform.TargetsOf(sourceSettings).Select(t => t.Platform).ToList();
        if (!sourcePlatforms.SequenceEqual(targets.Select(t => t.Platform)))
        {
            throw new WarmStartException($"--warm-start {sourceId}: it measured latency on {string.Join("; ", sourcePlatforms)}, this search targets {string.Join("; ", targets.Select(t => t.Platform))}: its latencies do not carry over");
        }
        if (rewarded.Count == 0)
        {
            throw new WarmStartException($"--warm-start {sourceId}: it has no rewarded trial yet ({head.Status}): nothing to take");
        }
        var (alpha, beta) = SettingsValidation.Exponents(settings.Reward);
        var candidates = rewarded.Select(t =>
        {
            var inputs = t.Reward!;
            IReadOnlyList<double> latencies = inputs.Devices is { Count: > 1 } devices ? [.. devices.Select(d => d.LatencyMs)] : [inputs.LatencyMs];
            var rescored = Rescore(inputs.Accuracy, latencies, inputs.Failed, targets, alpha, beta);
            return new WarmTrial(t.Sampled.TrialId, t.Sampled.Tokens, inputs.Accuracy, latencies, inputs.Failed, inputs.Reward, rescored);
        }).ToList();
        using var fresh = SearchPolicies.Create(settings, MnasNetSearchSpace.Default);
        var capacity = fresh is ITrialSeededSampler seeded ? seeded.SeedCapacity : 0;
        var taken = WarmStarts.SelectTrials([.. candidates.Select(c => new ScoredSample(c.Tokens, null, c.Reward, c.Failed))], capacity);
        var record = new WarmStart(sourceId, settings.Strategy, head.Status, head.Events, head.Link, WarmStartKind.Trials, rewarded.Count,
            Trials: [.. taken.Select(i => candidates[i])]);
        return new WarmStartPlan(record, null);
    }

    /// <summary>A source trial's reward under this search's targets and exponents (what its reward actor would compute).</summary>
    public static double Rescore(double accuracy, IReadOnlyList<double> latenciesMs, bool failed, IReadOnlyList<MeasureTarget> targets, double alpha, double beta) =>
        MnasNetReward.Compute(accuracy, [.. targets.Select((t, i) => new DeviceLatency(t.Platform.ToString(), latenciesMs[i], t.TargetMs, 0))], alpha, beta, failed).Reward;
}
