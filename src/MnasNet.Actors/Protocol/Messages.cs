namespace MnasNet.Actors.Protocol;

/// <summary>Messages between actors (never journaled). All serializable, no actor refs inside: replies go to Sender.</summary>
public interface ISearchCommand : ISearchMessage;

/// <summary>A free worker asks for work (pull). The controller answers with <see cref="WorkOffer"/> when it has some.</summary>
public sealed record RequestWork(WorkKind Kind, string WorkerId) : ISearchCommand;

public sealed record WorkOffer(string SearchId, long TrialId, WorkKind Kind, int Attempt, IReadOnlyList<int> Tokens, ulong Seed) : ISearchCommand;

/// <summary>Abandon the running work (pause grace period over).</summary>
public sealed record CancelWork(long TrialId) : ISearchCommand;

public sealed record TrainingDone(string SearchId, long TrialId, int Attempt, string WorkerId, TrainingRecord Record) : ISearchCommand;

public sealed record MeasurementDone(string SearchId, long TrialId, int Attempt, string WorkerId, LatencyRecord Record) : ISearchCommand;

public sealed record WorkFailed(string SearchId, long TrialId, WorkKind Kind, int Attempt, string WorkerId, string Reason) : ISearchCommand;

public sealed record ComputeReward(long TrialId, double Accuracy, double LatencyMs, bool Failed, double TargetMs, double Alpha, double Beta) : ISearchCommand;

public sealed record RewardReply(long TrialId, RewardInputs Inputs) : ISearchCommand;

/// <summary>Stop dispatching; let in-flight work finish within the grace period, then persist the pause.</summary>
public sealed record PauseSearch(string Reason, double GraceSeconds) : ISearchCommand;

public sealed record GetSearchStatus : ISearchCommand
{
    public static GetSearchStatus Instance { get; } = new();
}

/// <summary>Progress sent to the subscriber after every journaled trial result and at the end.</summary>
public sealed record SearchProgress(
    string SearchId,
    string Status,
    long TrialsDone,
    long TrialBudget,
    int Batch,
    double? BestReward,
    long? BestTrial,
    int InFlight,
    long Events) : ISearchCommand;

/// <summary>The controller reached a stopping point: completed, paused, or failed (reason).</summary>
public sealed record SearchStopped(string SearchId, string Status, string? Reason) : ISearchCommand;

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
