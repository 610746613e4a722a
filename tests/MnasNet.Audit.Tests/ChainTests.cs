using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;
using MnasNet.Actors.Journal;
using MnasNet.Actors.Protocol;
using MnasNet.Actors.Serialization;
using MnasNet.Cli;

namespace MnasNet.Audit.Tests;

/// <summary>Two real simulated searches, one with an unkeyed SHA-256 chain, one with an HMAC chain; each test tampers with a copy.</summary>
public sealed class ChainedJournals : IAsyncLifetime
{
    public const string Unkeyed = "chained";
    public const string Keyed = "keyed";
    public const string Key = "a key only the auditors have";

    public TempDir Dir { get; } = new();

    public string UnkeyedDatabase { get; private set; } = "";

    public string KeyedDatabase { get; private set; } = "";

    public string KeyFile => Dir.File("journal.key");

    public async ValueTask InitializeAsync()
    {
        await File.WriteAllTextAsync(KeyFile, Key + "\n");
        UnkeyedDatabase = await Searches.RunAsync(Searches.Settings(Dir.Path, Unkeyed, batchSize: 4, batches: 3, snapshotEvery: 2));
        var keyed = Searches.Settings(Dir.Path, Keyed, batchSize: 4, batches: 3, snapshotEvery: 2);
        KeyedDatabase = await Searches.RunAsync(keyed with { Journal = keyed.Journal with { KeyFile = KeyFile } });
    }

    public ValueTask DisposeAsync()
    {
        Dir.Dispose();
        return ValueTask.CompletedTask;
    }
}

public sealed class ChainTests(ChainedJournals journals) : IClassFixture<ChainedJournals>, IDisposable
{
    private readonly TempDir _dir = new();

    public void Dispose() => _dir.Dispose();

    private Task<InProcessCli.Result> Replay(string id, params string[] extra) =>
        InProcessCli.RunAsync(["replay", id, "--journal-dir", _dir.Path, "--verify", "--rows", "0", .. extra]);

    [Fact]
    public async Task An_untouched_journal_verifies_its_whole_chain_and_sealed_head()
    {
        Searches.Copy(journals.UnkeyedDatabase, _dir, ChainedJournals.Unkeyed);
        var events = Sql.Rows(JournalFiles.Database(_dir.Path, ChainedJournals.Unkeyed)).Count;

        var r = await Replay(ChainedJournals.Unkeyed);

        Assert.True(r.ExitCode == ExitCodes.Success, r.Output + r.Error);
        Assert.Contains($"chain     {events} links verified (sha256); head sealed at sequence {events}", r.Output, StringComparison.Ordinal);
        Assert.Contains("  platform  bit for bit", r.Output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_consistent_rewrite_of_a_reward_and_what_follows_from_it_breaks_the_chain_at_the_first_changed_event()
    {
        var db = Searches.Copy(journals.UnkeyedDatabase, _dir, ChainedJournals.Unkeyed);
        // Raise one trial's accuracy and rewrite its reward from the real formula, so every reward still recomputes.
        var rows = Sql.Rows(db);
        var trained = rows.First(x => x.Manifest == "trial-trained.v1" && (long)x.Payload["trialId"]! >= 8);
        var trial = (long)trained.Payload["trialId"]!;
        var reward = rows.Single(x => x.Manifest == "reward-computed.v1" && (long)x.Payload["trialId"]! == trial);
        Sql.RewritePayload(db, trained.Seq, p => p["record"]!["accuracy"] = 0.97);
        Sql.RewritePayload(db, reward.Seq, p =>
        {
            var inputs = p["inputs"]!;
            var recomputed = Actors.Backends.MnasNetReward.Compute(0.97, (double)inputs["latencyMs"]!, (double)inputs["targetMs"]!, (double)inputs["alpha"]!, (double)inputs["beta"]!, (bool)inputs["failed"]!);
            inputs["accuracy"] = 0.97;
            inputs["reward"] = recomputed.Reward;
        });

        var rewardsOnly = await InProcessCli.RunAsync("replay", ChainedJournals.Unkeyed, "--journal-dir", _dir.Path);
        var full = await Replay(ChainedJournals.Unkeyed);

        Assert.Equal(ExitCodes.Success, rewardsOnly.ExitCode);
        Assert.Equal(ExitCodes.VerificationFailed, full.ExitCode);
        Assert.Contains($"broken at sequence {trained.Seq} (trial-trained.v1)", full.Output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Reordered_events_break_the_chain_where_the_order_changes()
    {
        var db = Searches.Copy(journals.UnkeyedDatabase, _dir, ChainedJournals.Unkeyed);
        var dispatched = Sql.Rows(db).Where(x => x.Manifest == "trial-dispatched.v1").Take(2).ToList();
        var (first, second) = (Math.Min(dispatched[0].Seq, dispatched[1].Seq), Math.Max(dispatched[0].Seq, dispatched[1].Seq));
        Sql.Execute(db, "UPDATE journal SET sequence_number = -1 WHERE sequence_number = $a", ("$a", first));
        Sql.Execute(db, "UPDATE journal SET sequence_number = $a WHERE sequence_number = $b", ("$a", first), ("$b", second));
        Sql.Execute(db, "UPDATE journal SET sequence_number = $b WHERE sequence_number = -1", ("$b", second));

        var r = await Replay(ChainedJournals.Unkeyed);

        Assert.Equal(ExitCodes.VerificationFailed, r.ExitCode);
        Assert.Contains($"broken at sequence {first} (trial-dispatched.v1)", r.Output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_deleted_last_event_is_found_by_the_sealed_head()
    {
        var db = Searches.Copy(journals.UnkeyedDatabase, _dir, ChainedJournals.Unkeyed);
        var last = Sql.Rows(db)[^1];
        Assert.Equal("search-completed.v1", last.Manifest);
        Sql.Execute(db, "DELETE FROM journal WHERE sequence_number = $s", ("$s", last.Seq));

        var r = await Replay(ChainedJournals.Unkeyed);

        Assert.Equal(ExitCodes.VerificationFailed, r.ExitCode);
        Assert.Contains($"broken at sequence {last.Seq} (journal-head): expected event {last.Seq} (the journal's head when the search last stopped), found the journal ends at sequence {last.Seq - 1}: cut short", r.Output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_keyed_journal_verifies_only_with_its_key()
    {
        Searches.Copy(journals.KeyedDatabase, _dir, ChainedJournals.Keyed);
        var wrongKey = _dir.File("wrong.key");
        await File.WriteAllTextAsync(wrongKey, "another key", TestContext.Current.CancellationToken);

        var right = await Replay(ChainedJournals.Keyed, "--key-file", journals.KeyFile);
        var wrong = await Replay(ChainedJournals.Keyed, "--key-file", wrongKey);
        var none = await Replay(ChainedJournals.Keyed);
        var missing = await Replay(ChainedJournals.Keyed, "--key-file", _dir.File("nope.key"));

        Assert.True(right.ExitCode == ExitCodes.Success, right.Output + right.Error);
        Assert.Contains("links verified (hmac-sha256)", right.Output, StringComparison.Ordinal);
        Assert.Equal(ExitCodes.VerificationFailed, wrong.ExitCode);
        Assert.Contains("broken at sequence 1 (search-started.v1)", wrong.Output, StringComparison.Ordinal);
        Assert.Equal(ExitCodes.VerificationFailed, none.ExitCode);
        Assert.Contains($"no key: set {JournalChain.KeyVariable} or pass --key-file", none.Output, StringComparison.Ordinal);
        Assert.Equal(ExitCodes.InvalidInput, missing.ExitCode);
        Assert.Contains("nope.key' does not exist", missing.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_rewrite_that_recomputes_every_link_without_the_key_is_detected_in_a_keyed_journal()
    {
        var db = Searches.Copy(journals.KeyedDatabase, _dir, ChainedJournals.Keyed);
        // A forger who rewrote the journal knows the format, not the key: every link recomputed as an unkeyed chain.
        string? previous = null;
        foreach (var row in Sql.Rows(db))
        {
            var e = (ISearchEvent)SearchJson.FromBinary(Encoding.UTF8.GetBytes(row.Payload.ToJsonString()), row.Manifest);
            var link = JournalChain.Link(previous, row.Seq, e, key: null);
            Sql.RewritePayload(db, row.Seq, p => p["link"] = link);
            previous = link;
        }

        var r = await Replay(ChainedJournals.Keyed, "--key-file", journals.KeyFile);

        Assert.Equal(ExitCodes.VerificationFailed, r.ExitCode);
        Assert.Contains("broken at sequence 1 (search-started.v1)", r.Output, StringComparison.Ordinal);
    }

    [Fact]
    public void The_link_covers_the_sequence_number_the_content_and_the_previous_link()
    {
        var e = new SearchPaused("test", 0, DateTimeOffset.UnixEpoch);
        var key = Encoding.UTF8.GetBytes("k");
        var link = JournalChain.Link("prev", 7, e, null);

        Assert.NotEqual(link, JournalChain.Link("prev", 8, e, null));
        Assert.NotEqual(link, JournalChain.Link("other", 7, e, null));
        Assert.NotEqual(link, JournalChain.Link("prev", 7, e with { Reason = "tset" }, null));
        Assert.NotEqual(link, JournalChain.Link("prev", 7, e, key));
        Assert.Equal(link, JournalChain.Link("prev", 7, e with { Link = "anything" }, null));
        Assert.Equal(Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes("prev\n7\nsearch-paused.v1\n").Concat(JournalChain.Canonical(e)).ToArray())), link);
        Assert.DoesNotContain("link", JsonNode.Parse(JournalChain.Canonical(e with { Link = "x" }))!.AsObject().Select(p => p.Key));
    }
}
