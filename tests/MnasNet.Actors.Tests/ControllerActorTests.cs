using Akka.Actor;
using Akka.TestKit;
using MnasNet.Actors.Actors;
using MnasNet.Actors.Backends;
using MnasNet.Actors.Journal;
using MnasNet.Actors.Protocol;
using MnasNet.Actors.Settings;
using MnasNet.SearchSpace;

namespace MnasNet.Actors.Tests;

/// <summary>One search's controller driven by test probes as trainers and devices: offers, leases, duplicates, pauses.</summary>
public sealed class ControllerActorTests(TempDir root)
    : SearchControllerTestKit("controller-tests", root, dir => Simulated.Settings(dir, "actor", batchSize: 2, batches: 1) with
    {
        Workers = new WorkerSettings { Trainers = 1, Devices = 1, LeaseTimeoutSeconds = 2, PauseGraceSeconds = 1 },
    }), IClassFixture<TempDir>
{
    [Fact]
    public async Task Workers_pull_work_and_duplicate_results_are_journaled_once()
    {
        var trainer1 = CreateTestProbe();
        var trainer2 = CreateTestProbe();
        var device = CreateTestProbe();
        trainer1.Send(Controller, new RequestWork(WorkKind.Train, "t1"));
        var offer0 = await trainer1.ExpectMsgAsync<WorkOffer>(TimeSpan.FromSeconds(10));
        trainer2.Send(Controller, new RequestWork(WorkKind.Train, "t2"));
        var offer1 = await trainer2.ExpectMsgAsync<WorkOffer>();
        Assert.Equal((0L, 1L), (offer0.TrialId, offer1.TrialId));
        Assert.Equal(SearchController_TrialSeed(offer0.TrialId), offer0.Seed);

        // Trial 0 trained twice (a retried worker): only the first result counts.
        Controller.Tell(new TrainingDone("actor", 0, 1, "t1", Trained(0.6)));
        Controller.Tell(new TrainingDone("actor", 0, 1, "t2", Trained(0.1)));
        Controller.Tell(new TrainingDone("actor", 1, 1, "t2", Trained(0.7)));
        device.Send(Controller, new RequestWork(WorkKind.Measure, "d"));
        var m0 = await device.ExpectMsgAsync<WorkOffer>();
        Controller.Tell(new MeasurementDone("actor", m0.TrialId, 1, "d", Measured(50)));
        Controller.Tell(new MeasurementDone("actor", m0.TrialId, 1, "d", Measured(5)));
        device.Send(Controller, new RequestWork(WorkKind.Measure, "d"));
        var m1 = await device.ExpectMsgAsync<WorkOffer>();
        Controller.Tell(new MeasurementDone("actor", m1.TrialId, 1, "d", Measured(100)));

        await AwaitConditionAsync(() => Task.FromResult(Stopped() is not null), TimeSpan.FromSeconds(10));
        Assert.Equal("completed", Stopped()!.Status);
        var events = JournalReader.ReadEvents(JournalDirectory, "actor").Select(e => e.Event).ToList();
        Assert.Equal(2, events.OfType<TrialTrained>().Count());
        Assert.Equal(0.6, events.OfType<TrialTrained>().Single(t => t.TrialId == 0).Record.Accuracy);
        Assert.Equal(2, events.OfType<LatencyMeasured>().Count());
        var rewards = events.OfType<RewardComputed>().OrderBy(r => r.TrialId).ToList();
        Assert.Equal(2, rewards.Count);
        Assert.Equal(MnasNetReward.Compute(0.6, 50, 80, -0.07, -0.07, false), rewards[0].Inputs);
        Assert.Equal(MnasNetReward.Compute(0.7, 100, 80, -0.07, -0.07, false), rewards[1].Inputs);
        var update = Assert.Single(events.OfType<PolicyUpdated>());
        Assert.Equal([0L, 1L], update.TrialIds);
        Assert.IsType<SearchCompleted>(events[^1]);
    }

    [Fact]
    public async Task An_expired_lease_dispatches_the_trial_again_and_the_late_result_is_ignored_after_the_first()
    {
        var slow = CreateTestProbe();
        slow.Send(Controller, new RequestWork(WorkKind.Train, "slow"));
        var first = await slow.ExpectMsgAsync<WorkOffer>(TimeSpan.FromSeconds(10));
        var other = CreateTestProbe();
        other.Send(Controller, new RequestWork(WorkKind.Train, "other"));
        Assert.Equal(1, (await other.ExpectMsgAsync<WorkOffer>()).TrialId);
        other.Send(Controller, new TrainingDone("actor", 1, 1, "other", Trained(0.5)));
        other.Send(Controller, new RequestWork(WorkKind.Train, "other"));
        // The slow worker never answers: after its lease (2 s) trial 0 goes to the other worker, attempt 2.
        var again = await other.ExpectMsgAsync<WorkOffer>(TimeSpan.FromSeconds(10));
        Assert.Equal((first.TrialId, 2), (again.TrialId, again.Attempt));
        var probe = CreateTestProbe();
        probe.Send(Controller, new TrainingDone("actor", 0, 2, "other", Trained(0.4)));
        probe.Send(Controller, new TrainingDone("actor", 0, 1, "slow", Trained(0.9)));
        probe.Send(Controller, GetSearchStatus.Instance);
        // Same sender, so both results were handled before the status; wait until everything emitted so far is durable.
        var status = await probe.ExpectMsgAsync<SearchProgress>();
        await AwaitConditionAsync(() => Task.FromResult(JournalReader.ReadEvents(JournalDirectory, "actor").Count == status.Events), TimeSpan.FromSeconds(5));
        var events = JournalReader.ReadEvents(JournalDirectory, "actor").Select(e => e.Event).ToList();
        var expired = Assert.Single(events.OfType<TrialLeaseExpired>());
        Assert.Equal(("slow", 0L), (expired.Worker, expired.TrialId));
        var trained = events.OfType<TrialTrained>().Where(t => t.TrialId == 0).ToList();
        Assert.Equal(0.4, Assert.Single(trained).Record.Accuracy);
    }

    [Fact]
    public async Task A_terminated_worker_gives_its_trial_back_at_once()
    {
        var doomed = CreateTestProbe();
        doomed.Send(Controller, new RequestWork(WorkKind.Measure, "doomed"));
        var offer = await doomed.ExpectMsgAsync<WorkOffer>(TimeSpan.FromSeconds(10));
        var other = CreateTestProbe();
        other.Send(Controller, new RequestWork(WorkKind.Measure, "other"));
        await other.ExpectMsgAsync<WorkOffer>();
        other.Send(Controller, new MeasurementDone("actor", 1, 1, "other", Measured(10)));
        other.Send(Controller, new RequestWork(WorkKind.Measure, "other"));
        await doomed.Ref.GracefulStop(TimeSpan.FromSeconds(3));
        var again = await other.ExpectMsgAsync<WorkOffer>(TimeSpan.FromSeconds(5));
        Assert.Equal((offer.TrialId, 2), (again.TrialId, again.Attempt));
    }

    [Fact]
    public async Task Pause_waits_for_in_flight_work_then_journals_the_pause()
    {
        var worker = CreateTestProbe();
        worker.Send(Controller, new RequestWork(WorkKind.Train, "w"));
        var offer = await worker.ExpectMsgAsync<WorkOffer>(TimeSpan.FromSeconds(10));
        Controller.Tell(new PauseSearch("test", 5));
        worker.Send(Controller, new TrainingDone("actor", offer.TrialId, 1, "w", Trained(0.5)));
        worker.Send(Controller, new RequestWork(WorkKind.Train, "w"));
        await AwaitConditionAsync(() => Task.FromResult(Stopped() is not null), TimeSpan.FromSeconds(10));
        Assert.Equal("paused", Stopped()!.Status);
        await worker.ExpectNoMsgAsync(TimeSpan.FromMilliseconds(200));
        var events = JournalReader.ReadEvents(JournalDirectory, "actor").Select(e => e.Event).ToList();
        var paused = Assert.IsType<SearchPaused>(events[^1]);
        Assert.Equal(0, paused.AbandonedInFlight);
        Assert.Single(events.OfType<TrialTrained>());
    }

    [Fact]
    public async Task A_declined_offer_is_dispatched_again_at_once_and_theSettings_ride_only_on_a_workers_first_offer()
    {
        var busy = CreateTestProbe();
        busy.Send(Controller, new RequestWork(WorkKind.Train, "busy"));
        var declined = await busy.ExpectMsgAsync<WorkOffer>(TimeSpan.FromSeconds(10));
        Assert.Equal(Settings.Definition, SettingsLoader.DefinitionFromJson(declined.SettingsJson!));
        var free = CreateTestProbe();
        free.Send(Controller, new RequestWork(WorkKind.Train, "free"));
        var next = await free.ExpectMsgAsync<WorkOffer>();
        Assert.Equal(1, next.TrialId);
        free.Send(Controller, new TrainingDone("actor", 1, 1, "free", Trained(0.5)));
        free.Send(Controller, new RequestWork(WorkKind.Train, "free"));

        // Declined well within the 2 s lease: trial 0 goes to the free worker now, attempt 2, without settings.
        busy.Send(Controller, new WorkDeclined("actor", declined.TrialId, WorkKind.Train, declined.Attempt, "busy", "busy with trial 7"));
        var again = await free.ExpectMsgAsync<WorkOffer>(TimeSpan.FromSeconds(1));
        Assert.Equal((declined.TrialId, 2, null), (again.TrialId, again.Attempt, again.SettingsJson));
        await busy.ExpectNoMsgAsync(TimeSpan.FromMilliseconds(200));
        var expired = JournalReader.ReadEvents(JournalDirectory, "actor").Select(e => e.Event).OfType<TrialLeaseExpired>().ToList();
        var x = Assert.Single(expired);
        Assert.Equal(("busy", 1), (x.Worker, x.Attempt));
        Assert.Contains("declined by the worker (busy with trial 7)", x.Reason);
    }

    [Fact]
    public async Task Only_devices_that_satisfy_the_target_platform_are_offered_measurements_and_a_withdrawn_request_gets_none()
    {
        var phone = CreateTestProbe();
        phone.Send(Controller, new RequestWork(WorkKind.Measure, "phone", "onnxruntime:cpu=pixel,threads=1"));
        var sim1 = CreateTestProbe();
        sim1.Send(Controller, new RequestWork(WorkKind.Measure, "sim1", "simulated:name=rack-1"));
        var first = await sim1.ExpectMsgAsync<WorkOffer>(TimeSpan.FromSeconds(10));
        var sim2 = CreateTestProbe();
        sim2.Send(Controller, new RequestWork(WorkKind.Measure, "sim2", "simulated"));
        Assert.Equal(first.TrialId + 1, (await sim2.ExpectMsgAsync<WorkOffer>()).TrialId);
        // Nothing pending now: this request waits in the idle list, then is withdrawn (the worker took other work).
        var withdrawn = CreateTestProbe();
        withdrawn.Send(Controller, new RequestWork(WorkKind.Measure, "withdrawn", "simulated"));
        withdrawn.Send(Controller, new WithdrawWorkRequest(WorkKind.Measure, "withdrawn"));

        sim1.Send(Controller, new WorkDeclined("actor", first.TrialId, WorkKind.Measure, first.Attempt, "sim1", "busy"));
        sim2.Send(Controller, new RequestWork(WorkKind.Measure, "sim2", "simulated"));
        var again = await sim2.ExpectMsgAsync<WorkOffer>();
        Assert.Equal((first.TrialId, 2), (again.TrialId, again.Attempt));
        await phone.ExpectNoMsgAsync(TimeSpan.FromMilliseconds(300));
        await withdrawn.ExpectNoMsgAsync(TimeSpan.FromMilliseconds(10));
    }

    [Fact]
    public async Task A_busy_worker_declines_a_second_offer_and_reports_its_result_to_the_controller_that_offered_the_work()
    {
        var source = CreateTestProbe();
        var gate = new TaskCompletionSource();
        var backend = new GatedTrainer(gate.Task);
        var worker = Sys.ActorOf(TrainerWorker.Props(source.Ref, WorkerBackends<ITrainerBackend>.PerSearch(_ => backend, _ => { })), "gated");
        Assert.Equal("gated", (await source.ExpectMsgAsync<RequestWork>(TimeSpan.FromSeconds(5))).WorkerId);

        var searchA = CreateTestProbe();
        var searchB = CreateTestProbe();
        // No settings with the first offer of an unknown search: declined, not run.
        searchB.Send(worker, new WorkOffer("b", 3, WorkKind.Train, 1, A1Tokens, 5));
        Assert.Contains("settings of search b unknown", (await searchB.ExpectMsgAsync<WorkDeclined>()).Reason);
        searchA.Send(worker, new WorkOffer("a", 1, WorkKind.Train, 1, A1Tokens, 5, SettingsLoader.ToJson(Settings)));
        await source.ExpectMsgAsync<WithdrawWorkRequest>();
        searchB.Send(worker, new WorkOffer("b", 4, WorkKind.Train, 2, A1Tokens, 5, SettingsLoader.ToJson(Settings)));
        var declined = await searchB.ExpectMsgAsync<WorkDeclined>();
        Assert.Equal((4L, 2), (declined.TrialId, declined.Attempt));
        Assert.Contains("busy with trial 1", declined.Reason);

        gate.SetResult();
        var done = await searchA.ExpectMsgAsync<TrainingDone>(TimeSpan.FromSeconds(5));
        Assert.Equal(("a", 1L), (done.SearchId, done.TrialId));
        await source.ExpectMsgAsync<RequestWork>();
        await searchB.ExpectNoMsgAsync(TimeSpan.FromMilliseconds(100));
    }

    [Fact]
    public async Task A_worker_offered_work_by_its_own_source_sends_no_withdraw_and_keeps_watching_it_across_trials()
    {
        var source = CreateTestProbe();
        var backend = new BlockingSecondTrial();
        var worker = Sys.ActorOf(TrainerWorker.Props(source.Ref, WorkerBackends<ITrainerBackend>.PerSearch(_ => backend, _ => { })), "own-source");
        await source.ExpectMsgAsync<RequestWork>(TimeSpan.FromSeconds(5));

        // The source is the offering controller: it already took the request off its list, so nothing is withdrawn.
        source.Send(worker, new WorkOffer("a", 1, WorkKind.Train, 1, A1Tokens, 5, SettingsLoader.ToJson(Settings)));
        Assert.Equal(1L, (await source.ExpectMsgAsync<TrainingDone>(TimeSpan.FromSeconds(5))).TrialId);
        await source.ExpectMsgAsync<RequestWork>();
        source.Send(worker, new WorkOffer("a", 2, WorkKind.Train, 1, A1Tokens, 5));
        await source.ExpectNoMsgAsync(TimeSpan.FromMilliseconds(200));

        // Still watched on its second trial: the controller's death abandons the work.
        Sys.Stop(source.Ref);
        await backend.Abandoned.Task.WaitAsync(TimeSpan.FromSeconds(5));
    }

    private sealed class BlockingSecondTrial : ITrainerBackend
    {
        public TaskCompletionSource Abandoned { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public string Name => "blocking";

        public async Task<TrainingRecord> TrainAsync(WorkOffer work, CancellationToken cancellationToken)
        {
            if (work.TrialId == 2)
            {
                try
                {
                    await Task.Delay(Timeout.Infinite, cancellationToken);
                }
                catch (OperationCanceledException)
                {
                    Abandoned.SetResult();
                    throw;
                }
            }
            return Trained(0.5);
        }

        public void Dispose()
        {
        }
    }

    private static readonly IReadOnlyList<int> A1Tokens = new int[42];

    private sealed class GatedTrainer(Task gate) : ITrainerBackend
    {
        public string Name => "gated";

        public async Task<TrainingRecord> TrainAsync(WorkOffer work, CancellationToken cancellationToken)
        {
            await gate.WaitAsync(cancellationToken);
            return Trained(0.5);
        }

        public void Dispose()
        {
        }
    }

    private ulong SearchController_TrialSeed(long trialId) => Actors.SearchController.TrialSeed(Settings.Seed, trialId);
}
