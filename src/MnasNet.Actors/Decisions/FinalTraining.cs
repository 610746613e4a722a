using MnasNet.SearchSpace;

namespace MnasNet.Actors.Decisions;

/// <summary>A trial chosen for full training, with what the proxy task said of it.</summary>
public sealed record FinalCandidate(long TrialId, IReadOnlyList<int> Tokens, string ArchitectureId, ulong TrialSeed, double? ProxyAccuracy, double? ProxyReward);

/// <summary>
/// What one <c>mnasnet train-final</c> run trains: the finalists, the recipe (JSON of a
/// <see cref="Training.Proxy.TrainingRecipe"/>) and its epochs, the dataset (spec, resolution, training images) and
/// where epoch checkpoints go. <paramref name="LeaseSeconds"/> is how long a finalist's training may go without an
/// epoch before it is dispatched again (a worker that dies is noticed at once; this is for one that hangs).
/// </summary>
public sealed record FinalTrainingPlan(
    IReadOnlyList<FinalCandidate> Candidates,
    string RecipeJson,
    int Epochs,
    string Dataset,
    int? Resolution,
    int? TrainSize,
    string CheckpointDirectory,
    double LeaseSeconds = 6 * 3600)
{
    public string CheckpointDirectoryOf(long trialId) => Path.Combine(CheckpointDirectory, $"trial-{trialId}");

    /// <summary>A finalist's full-training seed: from its trial's seed only, so a re-run trains it the same way.</summary>
    public static ulong SeedOf(ulong trialSeed) => SeededRandom.Derive(trialSeed, "final");
}

/// <summary>The controller starts (or continues) final training with this plan instead of the search.</summary>
public sealed record BeginFinalRun(FinalTrainingPlan Plan);
