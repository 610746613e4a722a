using MnasNet.Actors.Backends;
using MnasNet.Actors.Hosting;
using MnasNet.Actors.Journal;
using MnasNet.Actors.Protocol;
using MnasNet.SearchSpace;

namespace MnasNet.Audit.Tests;

/// <summary>Replay reads a journal while its search is running (read-only query beside the writing actor system).</summary>
public sealed class LiveReplayTests : IDisposable
{
    private readonly TempDir _dir = new();

    public void Dispose() => _dir.Dispose();

    /// <summary>The simulated backends, except that training of trials from <see cref="HoldFrom"/> on waits for a gate.</summary>
    private sealed class GatedBackends(IBackendFactory inner, long holdFrom) : IBackendFactory
    {
        public long HoldFrom { get; } = holdFrom;

        public TaskCompletionSource Gate { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public TaskCompletionSource Holding { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public ITrainerBackend CreateTrainer(int index) => new GatedTrainer(inner.CreateTrainer(index), this);

        public IDeviceBackend CreateDevice(int index) => inner.CreateDevice(index);

        private sealed class GatedTrainer(ITrainerBackend trainer, GatedBackends owner) : ITrainerBackend
        {
            public string Name => trainer.Name;

            public async Task<TrainingRecord> TrainAsync(WorkOffer work, CancellationToken cancellationToken)
            {
                if (work.TrialId >= owner.HoldFrom)
                {
                    owner.Holding.TrySetResult();
                    await owner.Gate.Task.WaitAsync(cancellationToken);
                }
                return await trainer.TrainAsync(work, cancellationToken);
            }

            public void Dispose() => trainer.Dispose();
        }
    }

    [Fact]
    public async Task A_running_search_replays_with_its_finished_decisions_verified()
    {
        var settings = Searches.Settings(_dir.Path, "live", batchSize: 4, batches: 3, failureRate: 0);
        var backends = new GatedBackends(new SimulatedBackendFactory(settings, MnasNetSearchSpace.Default), holdFrom: 4);
        var search = SearchRunner.RunAsync(settings, resume: false, backends: backends, pauseToken: TestContext.Current.CancellationToken);
        await backends.Holding.Task.WaitAsync(TimeSpan.FromSeconds(120), TestContext.Current.CancellationToken);
        Assert.True(JournalFiles.IsRunning(_dir.Path, "live"));

        var read = await JournalQuery.ReadAsync(JournalSource.ForSearch(_dir.Path, "live"), "live", cancellationToken: TestContext.Current.CancellationToken);
        var report = Auditor.Audit(read, new AuditOptions());
        backends.Gate.SetResult();
        var outcome = await search;

        Assert.True(report.Verified, string.Join("\n", report.Divergences));
        Assert.Equal("running", report.Status);
        Assert.Equal(1, report.Totals.UpdatesVerified);
        Assert.Equal(4, report.Rows.Count(r => r.Pending));
        Assert.All(report.Rows.Where(r => r.Batch == 0), r => Assert.True(r.Verified && r.LearningVerified == true));
        Assert.Equal("completed", outcome.Status);
    }
}
