using MnasNet.Actors.Decisions;
using MnasNet.Actors.Protocol;
using MnasNet.Actors.State;

namespace MnasNet.Actors.Tests;

/// <summary>The controller's final-training decisions without an actor system: workers are strings, time is given.</summary>
public sealed class FinalDeciderTests : IDisposable
{
    private static readonly DateTimeOffset T0 = new(2026, 1, 1, 0, 0, 0, TimeSpan.Zero);

    private readonly TempDir _dir = new();

    public void Dispose() => _dir.Dispose();

    private static FinalEpoch Epoch(int n, double accuracy) => new(n, 1.0 / n, 0.5, 1.0 / n, accuracy, 0.01, 1, $"/ckpt/epoch-{n}.pt", new string((char)('a' + n), 64));

    private static FinalTrainingRecord Record() => new("test", 0, 0, 0, 0, "", "", [], [], 100, 200, 16, 3, 10, 0.25, 128, 1000, 0, 9, "cpu");

    private static FinalTrainingPlan Plan(int epochs = 2) => new(
        [new FinalCandidate(3, [1, 2, 3], "arch-3", 7, 0.5, 0.4), new FinalCandidate(5, [4, 5, 6], "arch-5", 8, 0.6, 0.45)],
        "{}", epochs, "cifar10:data", 16, null, "/ckpt");

    private sealed class Run(SearchDecider<string> decider, SearchSession<string> session) : IDisposable
    {
        private readonly SearchPolicy _policy = decider.NewPolicy();

        public SearchSession<string> Session { get; private set; } = session;

        public List<ISearchEvent> Journal { get; } = [];

        public Decision<string> Do(object command, string sender = "controller")
        {
            var d = decider.Decide(Session, _policy, command, sender, T0);
            Session = d.Session;
            Journal.AddRange(d.Events);
            return d;
        }

        public void Dispose() => _policy.Dispose();
    }

    private Run Paused(SearchState? state = null)
    {
        var settings = Simulated.Settings(_dir.Path, "decide");
        state ??= SearchState.Empty("decide").Apply(new SearchStarted("decide", "{}", 1, "ppo", "v0", "c", "s", "f", T0)).Apply(new SearchPaused("test", 0, T0));
        return new Run(new SearchDecider<string>(settings), SearchSession<string>.Of(state));
    }

    [Fact]
    public void Finalists_are_offered_to_trainers_stale_epochs_are_ignored_and_a_lost_worker_resumes_after_the_last_journaled_epoch()
    {
        using var run = Paused();
        run.Do(new BeginFinalRun(Plan()));
        Assert.Equal([typeof(FinalTrainingStarted), typeof(FinalTrainingStarted), typeof(FinalRunStarted)], run.Journal.Select(e => e.GetType()));

        var offer = Assert.Single(run.Do(new RequestWork(WorkKind.Train, "w1"), "w1").Steps.OfType<SendToWorker<string>>()).Message as WorkOffer;
        Assert.Equal((3L, WorkKind.Final, 1, (FinalEpoch?)null), (offer!.TrialId, offer.Kind, offer.Attempt, offer.Final!.ResumeFrom));
        Assert.Equal(Path.Combine("/ckpt", "trial-3", "attempt-1"), offer.Final.CheckpointDirectory);
        Assert.Equal(FinalTrainingPlan.SeedOf(7), offer.Seed);

        var first = run.Do(new FinalEpochDone("decide", 3, 1, "w1", Epoch(1, 0.3)), "w1");
        Assert.Single(first.Events.OfType<FinalEpochCompleted>());
        // Told once the epoch is journaled (after its event): the trainer may then drop the checkpoints it supersedes.
        var ack = Assert.Single(first.Steps.OfType<SendToWorker<string>>());
        Assert.Equal(("w1", new FinalEpochJournaled("decide", 3, 1, 1)), (ack.Worker, ack.Message));
        Assert.True(first.Steps.ToList().IndexOf(ack) > first.Steps.ToList().FindIndex(s => s is JournalEvent));
        var stale = run.Do(new FinalEpochDone("decide", 3, 1, "w1", Epoch(1, 0.3)), "w1");
        Assert.Empty(stale.Events);
        Assert.Empty(stale.Steps.OfType<SendToWorker<string>>());
        Assert.Empty(run.Do(new FinalEpochDone("decide", 3, 1, "w1", Epoch(3, 0.3)), "w1").Events);

        Assert.IsType<TrialLeaseExpired>(Assert.Single(run.Do(WorkerGone.Instance, "w1").Events));
        var again = (WorkOffer)Assert.Single(run.Do(new RequestWork(WorkKind.Train, "w2"), "w2").Steps.OfType<SendToWorker<string>>()).Message;
        Assert.Equal((3L, 2, 1), (again.TrialId, again.Attempt, again.Final!.ResumeFrom!.Epoch));
        Assert.Equal(Path.Combine("/ckpt", "trial-3", "attempt-2"), again.Final.CheckpointDirectory);
        Assert.Empty(run.Do(new FinalEpochDone("decide", 3, 1, "w1", Epoch(2, 0.9)), "w1").Events);

        run.Do(new FinalEpochDone("decide", 3, 2, "w2", Epoch(2, 0.25)), "w2");
        var trained = Assert.IsType<FinalTrained>(Assert.Single(run.Do(new FinalTrainingDone("decide", 3, 2, "w2", Record()), "w2").Events.OfType<FinalTrained>()));
        Assert.Equal([0.3, 0.25], trained.Record.AccuracyCurve);
        Assert.Equal((0.25, 0.3, 1, "/ckpt/epoch-1.pt", 2), (trained.Record.Accuracy, trained.Record.BestAccuracy, trained.Record.BestEpoch, trained.Record.BestCheckpoint, trained.Record.Epochs));

        // The next finalist went to w2 as soon as it was free; its architecture fails: the run is complete.
        run.Do(new RequestWork(WorkKind.Train, "w2"), "w2");
        var failed = run.Do(new WorkFailed("decide", 5, WorkKind.Final, 1, "w2", "diverged"), "w2");
        Assert.IsType<FinalTrainingFailed>(Assert.Single(failed.Events));
        Assert.True(run.Session.Stopped);
        Assert.Equal(SearchStatus.Completed, run.Session.Journaled.FinalStatus);
        Assert.Equal(SearchStatus.Paused, run.Session.Journaled.Status);
    }

    [Fact]
    public void A_finalist_begun_with_another_epoch_count_is_not_continued_with_this_one()
    {
        using var first = Paused();
        first.Do(new BeginFinalRun(Plan(epochs: 2)));
        using var second = Paused(first.Session.Journaled);
        var d = second.Do(new BeginFinalRun(Plan(epochs: 5)));
        Assert.Empty(d.Events);
        Assert.True(second.Session.Stopped);
        Assert.Contains("trial 3's final training was begun with another recipe, epoch count or dataset (2 epochs", second.Session.StopNotice!.Reason);
    }

    [Fact]
    public void A_search_without_a_journal_has_nothing_to_train()
    {
        using var run = Paused(SearchState.Empty("decide"));
        run.Do(new BeginFinalRun(Plan()));
        Assert.Empty(run.Journal);
        Assert.Equal("failed", run.Session.StopNotice!.Status);
    }
}
