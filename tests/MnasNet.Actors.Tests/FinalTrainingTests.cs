using MnasNet.Actors.Backends;
using MnasNet.Actors.Decisions;
using MnasNet.Actors.Hosting;
using MnasNet.Actors.Journal;
using MnasNet.Actors.Protocol;
using MnasNet.Actors.Settings;
using MnasNet.Actors.State;
using MnasNet.SearchSpace;
using MnasNet.Training.Proxy;

namespace MnasNet.Actors.Tests;

/// <summary>
/// train-final on the search's own controller and trainer workers: a finished (simulated) search is re-opened and its
/// finalists trained for real (libtorch, generated CIFAR-10-format data, 16×16, a few epochs of 128 images).
/// </summary>
public sealed class FinalTrainingTests
{
    private static SearchSettings Search(string dir, string id) => SettingsValidation.Validate(Simulated.Settings(dir, id, batchSize: 4, batches: 2) with
    {
        Threads = 1,
        Training = new TrainingSettings { Width = 0.25 },
        Workers = new WorkerSettings { Trainers = 1, Devices = 2, LeaseTimeoutSeconds = 30, PauseGraceSeconds = 0 },
    });

    private static async Task<SearchSettings> CompletedSearchAsync(string dir, string id)
    {
        var settings = Search(dir, id);
        Assert.Equal("completed", (await SearchRunner.RunAsync(settings, resume: false)).Status);
        return settings;
    }

    private static FinalTrainingPlan Plan(SearchSettings settings, string dir, int top, int epochs)
    {
        var history = SearchHistory.From(settings.Id, JournalReader.ReadEvents(dir, settings.Id));
        var summary = SearchSummary.From(history);
        var chosen = summary.Rewarded.Where(t => !t.Failed).OrderByDescending(t => t.Reward).ThenBy(t => t.TrialId).Take(top)
            .Select(t => new FinalCandidate(t.TrialId, t.Tokens, t.ArchitectureId, history.Trials[t.TrialId].Sampled.Seed, t.Accuracy, t.Reward)).ToList();
        var recipe = TrainingRecipe.Proxy with { Epochs = epochs, BatchSize = 32, Dropout = 0.2 };
        return new FinalTrainingPlan(chosen, recipe.ToJson(), epochs, $"cifar10:{SyntheticCifar10.Directory}", 16, 128, Path.Combine(dir, $"{settings.Id}.final"));
    }

    private static Task<SearchOutcome> TrainAsync(SearchSettings settings, FinalTrainingPlan plan, CancellationToken pause = default, Action<FinalTrainingProgress>? progress = null) =>
        SearchRunner.RunAsync(settings, resume: true, backends: new RealBackendFactory(settings, MnasNetSearchSpace.Default, settings.Journal.Directory),
            pauseToken: pause, final: plan, onFinalProgress: progress);

    private static List<ISearchEvent> Events(string dir, string id) => [.. JournalReader.ReadEvents(dir, id).Select(e => e.Event)];

    [Fact]
    public async Task Final_training_is_journaled_in_the_search_journal_and_folded_by_the_read_model()
    {
        using var dir = new TempDir();
        var settings = await CompletedSearchAsync(dir.Path, "fin");
        var before = Events(dir.Path, "fin").Count;
        var plan = Plan(settings, dir.Path, top: 2, epochs: 2);

        var outcome = await TrainAsync(settings, plan);

        Assert.Equal("completed", outcome.Status);
        var events = Events(dir.Path, "fin");
        var added = events.Skip(before).ToList();
        Assert.Equal(plan.Candidates.Select(c => c.TrialId), added.OfType<FinalTrainingStarted>().Select(e => e.TrialId));
        Assert.Single(added.OfType<FinalRunStarted>());
        Assert.Equal(4, added.OfType<FinalEpochCompleted>().Count());
        var trained = added.OfType<FinalTrained>().OrderBy(t => t.TrialId).ToList();
        Assert.Equal(2, trained.Count);
        foreach (var t in trained)
        {
            var epochs = added.OfType<FinalEpochCompleted>().Where(e => e.TrialId == t.TrialId).Select(e => e.Epoch).ToList();
            Assert.Equal([1, 2], epochs.Select(e => e.Epoch));
            Assert.Equal(epochs.Select(e => e.Accuracy), t.Record.AccuracyCurve);
            Assert.Equal(epochs[^1].Accuracy, t.Record.Accuracy);
            Assert.Equal(epochs.Max(e => e.Accuracy), t.Record.BestAccuracy);
            Assert.Equal(EpochCheckpoint.HashOf(t.Record.BestCheckpoint), t.Record.BestCheckpointSha256);
            Assert.Equal((16, 3, 10, 128, 1000), (t.Record.Resolution, t.Record.Channels, t.Record.Classes, t.Record.TrainImages, t.Record.TestImages));
            Assert.Equal(FinalTrainingPlan.SeedOf(plan.Candidates.Single(c => c.TrialId == t.TrialId).TrialSeed), t.Record.Seed);
            Assert.False(string.IsNullOrEmpty(t.Record.Platform));
        }
        // The search itself is untouched: still completed, same trials; the finalists are folded beside it.
        var history = SearchHistory.From("fin", JournalReader.ReadEvents(dir.Path, "fin"));
        Assert.Equal(SearchStatus.Completed, history.Status);
        Assert.Equal(SearchStatus.Completed, history.Current.FinalStatus);
        var summary = SearchSummary.From(history);
        Assert.Equal(["trained", "trained"], summary.Finalists.Select(f => f.Status));
        Assert.All(summary.Finalists, f => Assert.Equal(f.ProxyAccuracy, summary.Trials.Single(t => t.TrialId == f.TrialId).Accuracy));
        Assert.NotNull(summary.ProxyFidelityTau);

        // A second run of the same plan trains nothing again: it finds every finalist trained.
        Assert.Equal("completed", (await TrainAsync(settings, plan)).Status);
        Assert.Empty(Events(dir.Path, "fin").Skip(events.Count).OfType<FinalEpochCompleted>());
    }

    [Fact]
    public async Task A_paused_final_training_resumes_from_its_last_journaled_epoch_and_ends_as_an_uninterrupted_one()
    {
        using var dir = new TempDir();
        var whole = await CompletedSearchAsync(dir.Path, "whole");
        var wholePlan = Plan(whole, dir.Path, top: 1, epochs: 3);
        Assert.Equal("completed", (await TrainAsync(whole, wholePlan)).Status);
        var uninterrupted = Events(dir.Path, "whole").OfType<FinalTrained>().Single();

        var cut = await CompletedSearchAsync(dir.Path, "cut");
        var plan = Plan(cut, dir.Path, top: 1, epochs: 3);
        Assert.Equal(wholePlan.Candidates.Single().TrialId, plan.Candidates.Single().TrialId);
        using var pause = new CancellationTokenSource();
        var first = await TrainAsync(cut, plan, pause.Token, p =>
        {
            if (p.Epoch >= 1)
            {
                pause.Cancel();
            }
        });
        Assert.Equal("paused", first.Status);
        var journaledBefore = Events(dir.Path, "cut").OfType<FinalEpochCompleted>().Select(e => e.Epoch.Epoch).ToList();
        Assert.InRange(journaledBefore.Count, 1, 2);
        Assert.Single(Events(dir.Path, "cut").OfType<FinalRunPaused>());

        Assert.Equal("completed", (await TrainAsync(cut, plan)).Status);

        var events = Events(dir.Path, "cut");
        var epochs = events.OfType<FinalEpochCompleted>().ToList();
        // Every epoch exactly once: the resumed attempt began after the last journaled epoch, not from scratch.
        Assert.Equal([1, 2, 3], epochs.Select(e => e.Epoch.Epoch));
        Assert.All(epochs.Skip(journaledBefore.Count), e => Assert.Equal(2, e.Attempt));
        Assert.Equal(1, events.OfType<FinalRunStarted>().Last().RequeuedInFlight);
        var resumed = events.OfType<FinalTrained>().Single();
        Assert.Equal(uninterrupted.Record.AccuracyCurve, resumed.Record.AccuracyCurve);
        Assert.Equal(uninterrupted.Record.LossCurve, resumed.Record.LossCurve);
        Assert.Equal(uninterrupted.Record.BestCheckpointSha256, resumed.Record.BestCheckpointSha256);
    }
}
