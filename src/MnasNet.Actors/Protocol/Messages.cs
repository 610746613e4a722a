using System.Text.Json.Serialization;

namespace MnasNet.Actors.Protocol;

/// <summary>Messages between actors (never journaled). All serializable, no actor refs inside: replies go to Sender.</summary>
public interface ISearchCommand : ISearchMessage;

/// <summary>
/// A free worker asks for work (pull). The controller answers with <see cref="WorkOffer"/> when it has some. A device
/// worker names its platform (<see cref="Backends.DevicePlatform"/>): it is offered only searches that target it.
/// </summary>
public sealed record RequestWork(WorkKind Kind, string WorkerId, string? Platform = null) : ISearchCommand;

/// <summary>The worker took other work (in a cluster several controllers hear one request): forget its request.</summary>
public sealed record WithdrawWorkRequest(WorkKind Kind, string WorkerId) : ISearchCommand;

/// <summary>
/// One trial's work. <paramref name="SettingsJson"/> (the search's settings) rides along on the first offer to each
/// worker, so worker nodes serve any search without its config file.
/// </summary>
/// <paramref name="Target"/> is the index of the search's target platform a measurement is for.
/// <paramref name="Final"/>: what a <see cref="WorkKind.Final"/> offer trains (recipe, dataset, checkpoints).
public sealed record WorkOffer(string SearchId, long TrialId, WorkKind Kind, int Attempt, IReadOnlyList<int> Tokens, ulong Seed, string? SettingsJson = null, int Target = 0, FinalJob? Final = null) : ISearchCommand;

/// <summary>
/// A finalist's full training: the journaled recipe, epochs and dataset; where its epoch checkpoints go; and the last
/// journaled epoch to resume from (with the best one so far), none on a first attempt.
/// </summary>
public sealed record FinalJob(string RecipeJson, int Epochs, string Dataset, int? Resolution, int? TrainSize, string CheckpointDirectory, FinalEpoch? ResumeFrom = null, FinalEpoch? Best = null);

/// <summary>A finalist's epoch is done and checkpointed (sent while it trains on).</summary>
public sealed record FinalEpochDone(string SearchId, long TrialId, int Attempt, string WorkerId, FinalEpoch Epoch) : ISearchCommand;

/// <summary>
/// The controller to the trainer: this epoch of its final training is journaled, so checkpoints it supersedes may go.
/// A trainer whose controller is gone hears none and deletes nothing the journal may still name.
/// </summary>
public sealed record FinalEpochJournaled(string SearchId, long TrialId, int Attempt, int Epoch) : ISearchCommand;

/// <summary>A finalist's full training finished; the controller completes the curve and best epoch from the journaled epochs.</summary>
public sealed record FinalTrainingDone(string SearchId, long TrialId, int Attempt, string WorkerId, FinalTrainingRecord Record) : ISearchCommand;

/// <summary>Sent to the subscriber after every journaled final-training epoch or result.</summary>
public sealed record FinalTrainingProgress(string SearchId, long TrialId, int Epoch, int Epochs, double? Accuracy, string Status, int Done, int Finalists) : ISearchCommand;

/// <summary>The worker cannot take the offer (busy with other work, or it lacks the search's settings): dispatch it again.</summary>
public sealed record WorkDeclined(string SearchId, long TrialId, WorkKind Kind, int Attempt, string WorkerId, string Reason, int Target = 0) : ISearchCommand;

/// <summary>
/// Cluster: start (or, if it is journaled, continue) the search with these settings on a controller-role node; a new
/// search begins from <paramref name="WarmStart"/> when given (<c>search --cluster --warm-start</c>).
/// </summary>
public sealed record StartSearch(string SearchId, string SettingsJson,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] Policy.WarmStartPlan? WarmStart = null) : ISearchCommand;

/// <summary>
/// Cluster: train these finalists (<c>mnasnet train-final --cluster</c>) on a controller-role node, on the cluster's
/// trainer nodes; answered like <see cref="StartSearch"/>. A final run already going on is answered with its status.
/// </summary>
public sealed record StartFinalTraining(string SearchId, string SettingsJson, Decisions.FinalTrainingPlan Plan) : ISearchCommand;

/// <summary>Abandon the running work (pause grace period over).</summary>
public sealed record CancelWork(long TrialId) : ISearchCommand;

public sealed record TrainingDone(string SearchId, long TrialId, int Attempt, string WorkerId, TrainingRecord Record) : ISearchCommand;

public sealed record MeasurementDone(string SearchId, long TrialId, int Attempt, string WorkerId, LatencyRecord Record, int Target = 0) : ISearchCommand;

public sealed record WorkFailed(string SearchId, long TrialId, WorkKind Kind, int Attempt, string WorkerId, string Reason, int Target = 0, FailureCause Cause = FailureCause.Architecture) : ISearchCommand;

/// <summary>Latencies and targets per target platform (one for a single-device search).</summary>
/// <param name="LatencySource">With a predictor: whether the latency is the device's or the table's (see <see cref="RewardInputs.LatencySource"/>).</param>
public sealed record ComputeReward(long TrialId, double Accuracy, IReadOnlyList<DeviceLatency> Devices, bool Failed, double Alpha, double Beta, string? LatencySource = null) : ISearchCommand;

public sealed record RewardReply(long TrialId, RewardInputs Inputs) : ISearchCommand;

/// <summary>Stop dispatching; let in-flight work finish within the grace period, then persist the pause.</summary>
public sealed record PauseSearch(string Reason, double GraceSeconds) : ISearchCommand;

public sealed record GetSearchStatus : ISearchCommand
{
    public static GetSearchStatus Instance { get; } = new();
}

/// <summary>Progress sent to the subscriber after every journaled trial result and at the end; <paramref name="FinalStatus"/>: the train-final run's, once one began.</summary>
public sealed record SearchProgress(
    string SearchId,
    string Status,
    long TrialsDone,
    long TrialBudget,
    int Batch,
    double? BestReward,
    long? BestTrial,
    int InFlight,
    long Events,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? FinalStatus = null) : ISearchCommand;

/// <summary>
/// The controller reached a stopping point: completed, paused, or failed (reason). A transient failure (the journal
/// database unreachable) is worth a restart with backoff; the controller then continues from the journal.
/// </summary>
public sealed record SearchStopped(string SearchId, string Status, string? Reason, bool Transient = false) : ISearchCommand;

/// <summary>Sent to the subscriber once, when the first work offer after start (or resume) is durable and sent.</summary>
public sealed record FirstDispatch(string SearchId, long TrialId, WorkKind Kind) : ISearchCommand;

/// <summary>Internal timer tick of the controller.</summary>
public sealed record CheckLeases : ISearchCommand
{
    public static CheckLeases Instance { get; } = new();
}

public sealed record PauseGraceOver : ISearchCommand
{
    public static PauseGraceOver Instance { get; } = new();
}
