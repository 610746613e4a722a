namespace MnasNet.Training.Proxy;

public enum TrainingOutcome
{
    Succeeded,

    /// <summary>The training loss became NaN or infinite; the run stopped at that step.</summary>
    Diverged,

    /// <summary>libtorch or the runtime could not allocate memory.</summary>
    OutOfMemory,

    /// <summary>libtorch rejected an operation (its message is the reason).</summary>
    TorchError,
}

/// <summary>One finished epoch: mean training loss and accuracy, validation loss and top-1, learning rate at its end.</summary>
public sealed record EpochMetrics(
    int Epoch,
    double TrainLoss,
    double TrainAccuracy,
    double ValidationLoss,
    double ValidationAccuracy,
    double LearningRate,
    double Seconds,
    double ImagesPerSecond);

/// <summary>
/// What a proxy-training run produced. <see cref="ValAccuracy"/> is the ACC of the reward (0 when the run failed,
/// and <see cref="ValLoss"/> null);
/// <see cref="StepLosses"/> holds the finite training loss of every step (the loss curve).
/// </summary>
public sealed record TrainingResult(
    TrainingOutcome Outcome,
    string? FailureReason,
    double ValAccuracy,
    double? ValLoss,
    IReadOnlyList<EpochMetrics> Epochs,
    IReadOnlyList<double> StepLosses,
    int EpochsCompleted,
    long TrainImagesSeen,
    double TrainImagesPerSecond,
    double Seconds,
    string? WeightsPath,
    long Parameters,
    long Macs,
    int TrainCount,
    int ValidationCount,
    int Resolution,
    string ArchitectureId)
{
    public bool Succeeded => Outcome == TrainingOutcome.Succeeded;
}

public enum TrainingPhase
{
    Step,
    Epoch,
}

/// <summary>
/// Progress of a run: after every training step (<see cref="TrainingPhase.Step"/>) and after every epoch's
/// validation (<see cref="TrainingPhase.Epoch"/>, with <see cref="Metrics"/>). Epoch and step count from 1.
/// </summary>
public sealed record TrainingProgress(
    TrainingPhase Phase,
    int Epoch,
    int Epochs,
    int Step,
    int StepsPerEpoch,
    double Loss,
    double LearningRate,
    double ImagesPerSecond,
    EpochMetrics? Metrics);
