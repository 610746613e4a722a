using System.Text.Json.Serialization;

namespace MnasNet.Actors.Protocol;

/// <summary>Every message and event of the search; bound to <see cref="Serialization.SearchSerializer"/>.</summary>
public interface ISearchMessage;

/// <summary>Journaled by the SearchController; the journal is the product's record, so fields are never removed.</summary>
public interface ISearchEvent : ISearchMessage;

/// <summary>
/// Every journaled event carries <see cref="Link"/>: the hash chaining it to the event before it (see
/// <see cref="Journal.JournalChain"/>). Absent in journals written before chains existed.
/// </summary>
public abstract record JournaledEvent : ISearchEvent
{
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string? Link { get; init; }
}

public enum WorkKind
{
    Train,
    Measure,

    /// <summary>Full training of a finalist after the search (<c>mnasnet train-final</c>), done by trainer workers.</summary>
    Final,
}

/// <summary>One sampled trial: the 42 tokens, their log-probability under the policy that drew them.</summary>
public sealed record SampledTrial(long TrialId, IReadOnlyList<int> Tokens, double LogProb, string ArchitectureId, ulong Seed);

/// <summary>What proxy training produced (real or simulated); <see cref="Backend"/> says which.</summary>
public sealed record TrainingRecord(
    string Backend,
    double Accuracy,
    double? ValidationLoss,
    IReadOnlyList<double> LossCurve,
    int Epochs,
    double Seconds,
    double ImagesPerSecond,
    long Parameters,
    long Macs,
    string? WeightsPath,
    ulong Seed);

/// <summary>
/// The full latency measurement: platform, protocol, every sample and its statistics. <paramref name="Device"/>: what
/// the device reported with this measurement (a phone's model, build fingerprint, ABI, SDK, governor, temperature,
/// benchmark_model's figures); absent for host backends and in journals written before phones.
/// </summary>
public sealed record LatencyRecord(
    string Backend,
    string Source,
    string DeviceId,
    string Platform,
    int Threads,
    int Resolution,
    int Warmup,
    int Runs,
    string StopReason,
    double MedianMs,
    double MeanMs,
    double P90Ms,
    double MinMs,
    double MaxMs,
    double StdMs,
    double Cv,
    int OutlierCount,
    IReadOnlyList<double> SamplesMs,
    double WallSeconds,
    ulong Seed,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] IReadOnlyDictionary<string, string>? Device = null);

/// <summary>
/// The reward with every input it came from: reward = ACC · (LAT/T)^w, w = α if LAT ≤ T else β. With several target
/// platforms, <paramref name="Devices"/> holds each one's latency, T and w (the first is also in LatencyMs, TargetMs
/// and Exponent) and reward = ACC · Π (LAT_i/T_i)^w_i; with one it is absent, as in journals written before.
/// </summary>
public sealed record RewardInputs(
    string FormulaId,
    double Accuracy,
    double LatencyMs,
    double TargetMs,
    double Alpha,
    double Beta,
    double Exponent,
    bool Failed,
    double Reward,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] IReadOnlyList<DeviceLatency>? Devices = null)
{
    /// <summary>
    /// Which latency the reward used in a search with a predictor: <see cref="LatencySources.Measured"/> (the device's)
    /// or <see cref="LatencySources.Predicted"/> (the table's). Absent without a predictor, as in journals written before.
    /// </summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string? LatencySource { get; init; }
}

/// <summary>The words of <see cref="RewardInputs.LatencySource"/>.</summary>
public static class LatencySources
{
    public const string Measured = "measured";
    public const string Predicted = "predicted";
}

/// <summary>
/// The lookup table a search predicts latencies with: the setting (<c>table:FILE</c>), the file's name and the
/// SHA-256 of its bytes, the platform it was measured on, whether it carries a fitted correction, its resolution.
/// </summary>
public sealed record PredictorIdentity(string Spec, string File, string Sha256, string Platform, bool Corrected, int Resolution);

/// <summary>A trained trial's latency as the search's lookup table predicts it (no device work).</summary>
public sealed record LatencyPredicted(long TrialId, double PredictedMs, PredictorIdentity Table,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] DateTimeOffset? At = null) : JournaledEvent;

/// <summary>One trained trial in a batch's ranking: its accuracy, predicted latency and the reward they give.</summary>
public sealed record RankedTrial(long TrialId, double Accuracy, double PredictedMs, double PredictedReward);

/// <summary>
/// Which trials of a batch are measured on the device, decided once every trial of it is trained (or failed):
/// <paramref name="Ranked"/> holds every trained trial by predicted reward (highest first, ties: lower trial id),
/// <paramref name="Chosen"/> the first ⌈F·n⌉ of them (<paramref name="Fraction"/> = F, n = the ranked count), in
/// trial-id order. <paramref name="Rule"/> names the rule (<see cref="Decisions.MeasurementSelection.Rule"/>).
/// </summary>
public sealed record MeasurementSelected(int Batch, string Rule, double Fraction, IReadOnlyList<RankedTrial> Ranked, IReadOnlyList<long> Chosen,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] DateTimeOffset? At = null) : JournaledEvent;

/// <summary>One target platform's part of a multi-device reward.</summary>
public sealed record DeviceLatency(string Platform, double LatencyMs, double TargetMs, double Exponent);

public sealed record SearchStarted(
    string SearchId,
    string SettingsJson,
    ulong Seed,
    string Strategy,
    string PolicyVersion,
    string CodeVersion,
    string SpaceVersion,
    string FormulaId,
    DateTimeOffset At,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] PolicyCheckpoint? Policy = null,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? Chain = null,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] WarmStart? WarmStart = null,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? Clock = null,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] PredictorIdentity? Predictor = null) : JournaledEvent;

/// <summary>
/// What a warm-started search took from an earlier one (<c>search --warm-start</c>), journaled in its search-started:
/// the source (id, strategy, status, and its journal's head when read: event count and last chain link) and either
/// its policy state (PPO: <paramref name="SourceStateHash"/> of policy step <paramref name="SourceStep"/>, re-seeded
/// and with this search's hyper-parameters; the result is search-started's policy state) or its best trials
/// re-scored under this search's reward (<paramref name="Trials"/>, in the order the strategy was seeded with them),
/// from which the starting state is re-derived without the source journal.
/// </summary>
public sealed record WarmStart(
    string SourceSearchId,
    string SourceStrategy,
    string SourceStatus,
    long SourceEvents,
    string? SourceLastLink,
    MnasNet.Controller.WarmStartKind Taken,
    int SourceTrials,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? SourceStateHash = null,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] long? SourceStep = null,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] IReadOnlyList<WarmTrial>? Trials = null);

/// <summary>
/// One trial a warm start took: its tokens, the accuracy and latencies (one per target platform) the source measured,
/// the source's reward and <paramref name="Reward"/>, the same inputs under this search's reward settings.
/// </summary>
public sealed record WarmTrial(long SourceTrialId, IReadOnlyList<int> Tokens, double Accuracy, IReadOnlyList<double> LatenciesMs, bool Failed, double SourceReward, double Reward);

// At on the events below: the virtual time of the decision, written only by searches on a virtual clock
// (search-started's Clock = "virtual"); real-time searches have the journal's write time instead.

public sealed record BatchSampled(int Batch, string PolicyVersion, IReadOnlyList<SampledTrial> Trials, [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] DateTimeOffset? At = null) : JournaledEvent;

/// <summary>Persisted before the work is sent; on recovery an undelivered or unfinished dispatch is sent again.</summary>
public sealed record TrialDispatched(long TrialId, WorkKind Kind, int Attempt, string Worker, [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)] int Target = 0,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] DateTimeOffset? At = null) : JournaledEvent;

/// <summary>A lease ran out (worker vanished or too slow): the work is dispatched again.</summary>
public sealed record TrialLeaseExpired(long TrialId, WorkKind Kind, int Attempt, string Worker, string Reason, [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)] int Target = 0,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] DateTimeOffset? At = null) : JournaledEvent;

public sealed record TrialTrained(long TrialId, int Attempt, string Worker, TrainingRecord Record, [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] DateTimeOffset? At = null) : JournaledEvent;

public sealed record LatencyMeasured(long TrialId, int Attempt, string Worker, LatencyRecord Record, [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)] int Target = 0,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] DateTimeOffset? At = null) : JournaledEvent;

/// <summary>
/// A trial's work failed for good. An <see cref="FailureCause.Architecture"/> failure is the architecture's (reward 0,
/// learned from); an <see cref="FailureCause.Infrastructure"/> one is the machines' after every attempt (no reward, left
/// out of the policy update).
/// </summary>
public sealed record TrialFailed(long TrialId, WorkKind Kind, int Attempt, string Worker, string Reason, [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)] int Target = 0,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)] FailureCause Cause = FailureCause.Architecture,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] DateTimeOffset? At = null) : JournaledEvent;

/// <summary>Whose fault a failure is: the architecture's (diverged, too large, unsupported) or the infrastructure's (device offline, I/O).</summary>
public enum FailureCause
{
    Architecture,
    Infrastructure,
}

public sealed record RewardComputed(long TrialId, RewardInputs Inputs) : JournaledEvent;

/// <summary>
/// One policy update on a complete batch, fed in trial-id order. Inputs (trial ids, rewards, failed flags) and
/// outputs (losses, advantages, parameter hash) are both journaled so the update can be re-run and checked;
/// <paramref name="Policy"/> is the whole policy state after it (absent in journals written before), from which
/// recovery restores the policy without re-running anything and the audit re-runs the next update.
/// </summary>
public sealed record PolicyUpdated(
    int Batch,
    long Step,
    string PolicyVersionBefore,
    string ParameterHash,
    IReadOnlyList<long> TrialIds,
    IReadOnlyList<double> Rewards,
    IReadOnlyList<bool> Failed,
    IReadOnlyList<double> Advantages,
    double PolicyLoss,
    double Entropy,
    double ApproxKl,
    double ClipFraction,
    double BaselineBefore,
    double BaselineAfter,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] PolicyCheckpoint? Policy = null,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] DateTimeOffset? At = null) : JournaledEvent;

public sealed record SearchPaused(string Reason, int AbandonedInFlight, DateTimeOffset At) : JournaledEvent;

public sealed record SearchResumed(int RequeuedInFlight, DateTimeOffset At) : JournaledEvent;

public sealed record SearchCompleted(long Trials, string FinalPolicyHash, DateTimeOffset At) : JournaledEvent;

/// <summary>The controller's snapshot: the pure state plus the policy's saved state (base64).</summary>
public sealed record SearchSnapshot(State.SearchState State, string PolicyState) : ISearchMessage;

/// <summary>
/// The journal's head when a search stops (paused or completed): its event count and last link, sealed by
/// <paramref name="Mac"/> under a keyed chain. Kept as a snapshot of its own persistence id, so an audit can tell a
/// journal cut short after it (a deleted last event) from one that ended there.
/// </summary>
public sealed record JournalHead(long EventCount, string? LastLink, string? Mac) : ISearchMessage;

/// <summary>One finished epoch of a finalist's full training and the checkpoint (TorchSharp state file, SHA-256) it was saved to.</summary>
public sealed record FinalEpoch(
    int Epoch,
    double TrainLoss,
    double TrainAccuracy,
    double Loss,
    double Accuracy,
    double LearningRate,
    double Seconds,
    string Checkpoint,
    string CheckpointSha256);

/// <summary>
/// What a finalist's full training produced: its accuracy per epoch (on the dataset's test images, or a held-out
/// split when it has none), the best epoch and its checkpoint, the run's seed and the platform it ran on, and the
/// network's shape (resolution, channels, classes, width) to rebuild it from the checkpoint.
/// </summary>
public sealed record FinalTrainingRecord(
    string Backend,
    int Epochs,
    double Accuracy,
    double BestAccuracy,
    int BestEpoch,
    string BestCheckpoint,
    string BestCheckpointSha256,
    IReadOnlyList<double> AccuracyCurve,
    IReadOnlyList<double> LossCurve,
    long Parameters,
    long Macs,
    int Resolution,
    int Channels,
    int Classes,
    double Width,
    int TrainImages,
    int TestImages,
    double Seconds,
    ulong Seed,
    string Platform);

/// <summary>
/// A finalist is chosen for full training: the trial (with its tokens, so the event stands alone), the recipe, the
/// dataset and the seed, and what the proxy task said of it. Journaled once per trial, by the first train-final run
/// that trains it.
/// </summary>
public sealed record FinalTrainingStarted(
    long TrialId,
    IReadOnlyList<int> Tokens,
    string ArchitectureId,
    string RecipeJson,
    int Epochs,
    string Dataset,
    int? Resolution,
    int? TrainSize,
    ulong Seed,
    double? ProxyAccuracy,
    double? ProxyReward,
    DateTimeOffset At) : JournaledEvent;

/// <summary>
/// A train-final run begins with these finalists; in-flight final training of a run before it goes back to pending.
/// <paramref name="CheckpointDirectory"/>: where its epoch checkpoints go, so a controller taking the run over (its
/// node died) continues it there.
/// </summary>
public sealed record FinalRunStarted(IReadOnlyList<long> Trials, int RequeuedInFlight, DateTimeOffset At,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? CheckpointDirectory = null) : JournaledEvent;

/// <summary>A finalist finished an epoch: a resumed run continues from this checkpoint.</summary>
public sealed record FinalEpochCompleted(long TrialId, int Attempt, string Worker, FinalEpoch Epoch) : JournaledEvent;

public sealed record FinalTrained(long TrialId, int Attempt, string Worker, FinalTrainingRecord Record) : JournaledEvent;

public sealed record FinalTrainingFailed(long TrialId, int Attempt, string Worker, string Reason, FailureCause Cause) : JournaledEvent;

/// <summary>A train-final run paused (Ctrl-C, <c>mnasnet pause</c>); the abandoned finalists resume from their last journaled epoch.</summary>
public sealed record FinalRunPaused(string Reason, int AbandonedInFlight, DateTimeOffset At) : JournaledEvent;
