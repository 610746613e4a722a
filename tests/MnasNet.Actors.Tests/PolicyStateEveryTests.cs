using MnasNet.Actors.Hosting;
using MnasNet.Actors.Journal;
using MnasNet.Actors.Protocol;
using MnasNet.Actors.Settings;
using MnasNet.Cli;
using MnasNet.Controller;

namespace MnasNet.Actors.Tests;

/// <summary>
/// journal.policyStateEvery: a policy of exact arithmetic journals its state with every K-th update, the last one and
/// each one a snapshot is taken at; recovery and the audit re-run the updates between from the state before them.
/// </summary>
public sealed class PolicyStateEveryTests
{
    private static SearchSettings Sparse(string dir, string id, string engine = ControllerEngines.Managed) =>
        Simulated.Settings(dir, id, batchSize: 4, batches: 8) with
        {
            Strategy = "ppo",
            Policy = new PolicySettings { Engine = engine },
            Journal = new JournalSettings { Directory = dir, SnapshotEvery = 4, PolicyStateEvery = 3 },
        };

    private static async Task Run(SearchSettings settings, bool resume = false)
    {
        var outcome = await SearchRunner.RunAsync(settings, resume).WaitAsync(TimeSpan.FromMinutes(3), TestContext.Current.CancellationToken);
        Assert.Equal("completed", outcome.Status);
    }

    private static List<long> StateSteps(string dir, string id) =>
        [.. JournalReader.ReadEvents(dir, id).Select(e => e.Event).OfType<PolicyUpdated>().Where(p => p.Policy is not null).Select(p => p.Step)];

    [Fact]
    public async Task Only_every_third_update_snapshot_updates_and_the_last_journal_the_state_and_a_cut_journal_re_runs_the_rest_to_the_same_search()
    {
        using var dir = new TempDir();
        var settings = Sparse(dir.Path, "sparse");
        await Run(settings);
        Assert.Equal([3, 4, 6, 8], StateSteps(dir.Path, "sparse"));
        var straight = Simulated.Fingerprint(dir.Path, "sparse");

        // Cut after the 30th reward: updates 1-7 done, states journaled at 3, 4 and 6, the snapshots gone. Resuming
        // decodes the chain up to 6 and re-runs update 7 from it before sampling on.
        var events = JournalReader.ReadEvents(dir.Path, "sparse");
        using var cut = new TempDir();
        JournalCut.CopyUpTo(dir.Path, cut.Path, "sparse", events.Where(e => e.Event is RewardComputed).ElementAt(29).SequenceNr);
        Assert.Equal([3, 4, 6], StateSteps(cut.Path, "sparse"));
        Assert.Equal(7, JournalReader.ReadEvents(cut.Path, "sparse").Select(e => e.Event).OfType<PolicyUpdated>().Count());
        await Run(SearchRunner.SettingsOf(cut.Path, "sparse", settings.Node), resume: true);
        Assert.Equal(straight, Simulated.Fingerprint(cut.Path, "sparse"));

        var replay = await InProcessCli.RunAsync("replay", "sparse", "--journal-dir", dir.Path, "--verify", "--rows", "0");
        Assert.True(replay.ExitCode == ExitCodes.Success, replay.Output + replay.Error);
        Assert.Contains("8/8 updates reproduced", replay.Output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_libtorch_engine_journals_its_state_with_every_update()
    {
        using var dir = new TempDir();
        await Run(Sparse(dir.Path, "libtorch", ControllerEngines.Libtorch));
        Assert.Equal([1, 2, 3, 4, 5, 6, 7, 8], StateSteps(dir.Path, "libtorch"));
    }
}
