using Microsoft.Data.Sqlite;
using MnasNet.Actors.Hosting;
using MnasNet.Actors.Journal;
using MnasNet.Actors.Policy;
using MnasNet.Cli;

namespace MnasNet.Audit.Tests;

/// <summary>A search warm-started from an evolution search's trials: its starting state is re-derived from its own journal.</summary>
public sealed class WarmStartAuditTests : IDisposable
{
    private readonly TempDir _dir = new();

    public void Dispose() => _dir.Dispose();

    private async Task<string> WarmStartedJournalAsync()
    {
        await Searches.RunAsync(Searches.Settings(_dir.Path, "source", strategy: "evolution", batchSize: 8, batches: 3));
        var warm = Searches.Settings(_dir.Path, "warm", strategy: "evolution", batchSize: 8, batches: 2) with { Seed = 3, Reward = new Actors.Settings.RewardSettings { TargetMs = 60 } };
        var plan = WarmStartPlanner.Plan(warm, "source", JournalReader.ReadEvents(_dir.Path, "source"));
        Assert.Equal("completed", (await SearchRunner.RunAsync(warm, resume: false, warmStart: plan)).Status);
        SqliteConnection.ClearAllPools();
        var database = JournalFiles.Database(_dir.Path, "warm");
        Sql.Execute(database, "PRAGMA wal_checkpoint(TRUNCATE);");
        // The source is not needed: the audit reads the warm-started journal alone.
        File.Delete(JournalFiles.Database(_dir.Path, "source"));
        return database;
    }

    private Task<InProcessCli.Result> Replay() => InProcessCli.RunAsync("replay", "warm", "--journal-dir", _dir.Path, "--verify", "--rows", "0");

    [Fact]
    public async Task A_warm_start_verifies_without_its_source_and_a_changed_taken_trial_is_named()
    {
        var database = await WarmStartedJournalAsync();
        var clean = await Replay();
        Assert.True(clean.ExitCode == ExitCodes.Success, clean.Output + clean.Error);
        Assert.Contains("warm-started from 24 trials of search source (re-derived from the journaled trials)", clean.Output, StringComparison.Ordinal);

        var trial = Sql.Rows(database)[0].Payload["warmStart"]!["trials"]![5]!;
        var id = (long)trial["sourceTrialId"]!;
        Sql.RewritePayload(database, 1, p => p["warmStart"]!["trials"]![5]!["reward"] = (double)trial["reward"]! + 1e-12);

        var changed = await Replay();
        Assert.Equal(ExitCodes.VerificationFailed, changed.ExitCode);
        Assert.Contains($"first diverging event: sequence 1 (search-started", changed.Output, StringComparison.Ordinal);
        Assert.Contains($"warm-start trial {id} of search source re-scored", changed.Output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_taken_trial_with_other_tokens_no_longer_gives_the_journaled_initial_state()
    {
        var database = await WarmStartedJournalAsync();
        Sql.RewritePayload(database, 1, p =>
        {
            var tokens = p["warmStart"]!["trials"]![0]!["tokens"]!.AsArray();
            tokens[0] = (int)tokens[0]! == 0 ? 1 : 0;
        });

        var changed = await Replay();

        Assert.Equal(ExitCodes.VerificationFailed, changed.ExitCode);
        Assert.Contains("(strategy evolution seeded with the 24 journaled warm-start trials)", changed.Output, StringComparison.Ordinal);
    }
}
