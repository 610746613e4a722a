using MnasNet.Actors.Journal;
using MnasNet.Actors.Protocol;
using MnasNet.Actors.Settings;
using MnasNet.Actors.State;
using MnasNet.Cli;

namespace MnasNet.Audit.Tests;

/// <summary>Simulated searches whose devices meet infrastructure faults: retried away, or failing trials that are not learned from.</summary>
public sealed class InfrastructureFaultTests : IDisposable
{
    private readonly TempDir _dir = new();

    public void Dispose() => _dir.Dispose();

    private SearchSettings Faulty(string id, int faultAttempts) => Searches.Settings(_dir.Path, id, batchSize: 6, batches: 3, failureRate: 0) with
    {
        Simulation = new SimulationSettings { InfrastructureFaultRate = 0.4, InfrastructureFaultAttempts = faultAttempts },
        Workers = new WorkerSettings { Trainers = 2, Devices = 2, LeaseTimeoutSeconds = 30, MaxAttempts = 3, RetryDelaySeconds = 0.01 },
    };

    [Fact]
    public async Task Faults_fewer_than_the_attempts_are_retried_away_and_score_no_trial_zero()
    {
        var settings = Faulty("retried", faultAttempts: 2);
        await Searches.RunAsync(settings);
        var events = JournalReader.ReadEvents(_dir.Path, "retried");
        await Searches.RunAsync(settings with { Id = "clean", Simulation = settings.Simulation with { InfrastructureFaultRate = 0 } });

        var retries = events.Select(e => e.Event).OfType<TrialLeaseExpired>().Where(x => x.Reason.StartsWith("infrastructure fault", StringComparison.Ordinal)).ToList();
        Assert.NotEmpty(retries);
        Assert.DoesNotContain(events, e => e.Event is TrialFailed { Cause: FailureCause.Infrastructure });
        // The faults changed nothing the search learned: same trials, rewards and policy as without them.
        Assert.Equal(Simulated.Fingerprint(_dir.Path, "clean"), Simulated.Fingerprint(_dir.Path, "retried"));
        Assert.True(SearchSummary.From("retried", events).RetriedTrials >= retries.Select(r => r.TrialId).Distinct().Count());
    }

    [Fact]
    public async Task Trials_the_infrastructure_fails_on_every_attempt_are_left_out_of_the_update_and_the_journal_verifies()
    {
        await Searches.RunAsync(Faulty("excluded", faultAttempts: 3));
        var events = JournalReader.ReadEvents(_dir.Path, "excluded");

        var excluded = events.Select(e => e.Event).OfType<TrialFailed>().Where(f => f.Cause == FailureCause.Infrastructure).Select(f => f.TrialId).ToHashSet();
        Assert.NotEmpty(excluded);
        Assert.DoesNotContain(events, e => e.Event is RewardComputed r && excluded.Contains(r.TrialId));
        Assert.All(events.Select(e => e.Event).OfType<PolicyUpdated>(), u => Assert.DoesNotContain(u.TrialIds, excluded.Contains));
        Assert.Equal(excluded.Count, SearchSummary.From("excluded", events).InfrastructureFailures);
        Assert.Equal(SearchStatus.Completed.Word(), SearchSummary.From("excluded", events).Status);

        var replay = await InProcessCli.RunAsync("replay", "excluded", "--journal-dir", _dir.Path, "--verify");
        Assert.True(replay.ExitCode == ExitCodes.Success, replay.Output + replay.Error);
        Assert.Contains("VERIFIED", replay.Output, StringComparison.Ordinal);
        var status = await InProcessCli.RunAsync("status", "excluded", "--journal-dir", _dir.Path);
        Assert.Contains($"{excluded.Count} failed by the infrastructure", status.Output, StringComparison.Ordinal);
    }
}
