using MnasNet.Actors.Protocol;
using MnasNet.Actors.State;
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
    /// <summary>
    /// Where one attempt of a finalist writes its checkpoints: a directory of its own, so an attempt still running on a
    /// node the controller gave up on (its controller died, or it was cut off) never overwrites another attempt's files.
    /// </summary>
    public string CheckpointDirectoryOf(long trialId, int attempt) => Path.Combine(CheckpointDirectory, $"trial-{trialId}", $"attempt-{attempt}");

    /// <summary>A finalist's full-training seed: from its trial's seed only, so a re-run trains it the same way.</summary>
    public static ulong SeedOf(ulong trialSeed) => SeededRandom.Derive(trialSeed, "final");

    /// <summary>
    /// The final run the journal says is going on, as its last final-run-started began it (finalists with their
    /// journaled recipe and data, its checkpoint directory): what a controller taking the search over (its node died)
    /// continues. Null if no final run is running, or the run journaled no checkpoint directory.
    /// </summary>
    public static FinalTrainingPlan? Running(SearchHistory history, IEnumerable<ISearchEvent> events)
    {
        var state = history.Current;
        if (state.FinalStatus != SearchStatus.Running || events.OfType<FinalRunStarted>().LastOrDefault() is not { CheckpointDirectory: { } checkpoints } run)
        {
            return null;
        }
        var finalists = run.Trials.Where(state.Finalists.ContainsKey).Select(id => state.Finalists[id]).ToList();
        if (finalists.FirstOrDefault(f => !f.Finished) is not { } open)
        {
            return null;
        }
        var candidates = finalists.Select(f =>
        {
            var trial = history.Trials.GetValueOrDefault(f.TrialId);
            return new FinalCandidate(f.TrialId, f.Tokens, f.ArchitectureId, trial?.Sampled.Seed ?? 0, trial?.Reward?.Accuracy, trial?.Reward?.Reward);
        }).ToList();
        return new FinalTrainingPlan(candidates, open.RecipeJson, open.Epochs, open.Dataset, open.Resolution, open.TrainSize, checkpoints);
    }
}

/// <summary>The controller starts (or continues) final training with this plan instead of the search.</summary>
public sealed record BeginFinalRun(FinalTrainingPlan Plan);
