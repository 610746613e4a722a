using System.Text.Json.Nodes;
using MnasNet.Cli;

namespace MnasNet.Audit.Tests;

/// <summary>One real simulated PPO search (actors + SQLite), run once for the class; each test audits or tampers with a copy.</summary>
public sealed class CleanJournal : IAsyncLifetime
{
    public TempDir Dir { get; } = new();

    public string Database { get; private set; } = "";

    public const string Id = "audited";

    public async ValueTask InitializeAsync() =>
        Database = await Searches.RunAsync(Searches.Settings(Dir.Path, Id, batchSize: 4, batches: 3, snapshotEvery: 2));

    public ValueTask DisposeAsync()
    {
        Dir.Dispose();
        return ValueTask.CompletedTask;
    }
}

public sealed class ReplayTests(CleanJournal journal) : IClassFixture<CleanJournal>, IDisposable
{
    private readonly TempDir _dir = new();

    public void Dispose() => _dir.Dispose();

    private string CopyJournal(string id = CleanJournal.Id) => Searches.Copy(journal.Database, _dir, id);

    private Task<InProcessCli.Result> Replay(params string[] extra) =>
        InProcessCli.RunAsync(["replay", CleanJournal.Id, "--journal-dir", _dir.Path, .. extra]);

    [Fact]
    public async Task A_clean_journal_verifies_rewards_and_learning()
    {
        CopyJournal();
        var report = Auditor.Audit(await JournalQuery.ReadAsync(JournalSource.ForSearch(_dir.Path, CleanJournal.Id), CleanJournal.Id, cancellationToken: TestContext.Current.CancellationToken), new AuditOptions());

        Assert.True(report.Verified, string.Join("\n", report.Divergences));
        Assert.Equal(12, report.Rows.Count);
        Assert.All(report.Rows, r => Assert.True(r.Verified && r.LearningVerified == true, $"trial {r.TrialId}"));
        Assert.Equal(3, report.Totals.UpdatesVerified);
        Assert.Equal(3, report.Totals.BatchesSampleVerified);
        Assert.Contains(report.Rows, r => r.Failed);
        Assert.All(report.Rows.GroupBy(r => r.Batch), g => Assert.Equal([1, 2, 3, 4], g.Select(r => r.RankInBatch!.Value).Order()));
    }

    [Fact]
    public async Task The_cli_exits_0_on_a_clean_journal_and_writes_the_report()
    {
        CopyJournal();
        var reportFile = _dir.File("report.json");
        var r = await Replay("--verify", "--report", reportFile);

        Assert.True(r.ExitCode == ExitCodes.Success, r.Output + r.Error);
        Assert.Contains("VERIFIED: every reward and every policy update", r.Output, StringComparison.Ordinal);
        var report = JsonNode.Parse(await File.ReadAllTextAsync(reportFile, TestContext.Current.CancellationToken))!;
        Assert.Equal(12, report["audit"]!["rows"]!.AsArray().Count);
    }

    [Fact]
    public async Task A_changed_reward_is_named_by_trial_and_sequence_number()
    {
        var db = CopyJournal();
        var (seq, _, payload) = Sql.Rows(db).First(x => x.Manifest == "reward-computed.v1" && !(bool)x.Payload["inputs"]!["failed"]! && (long)x.Payload["trialId"]! >= 4);
        var trial = (long)payload["trialId"]!;
        Sql.RewritePayload(db, seq, p => p["inputs"]!["reward"] = (double)p["inputs"]!["reward"]! + 1e-12);

        var r = await Replay();

        Assert.Equal(ExitCodes.VerificationFailed, r.ExitCode);
        Assert.Contains($"first diverging event: sequence {seq} (reward-computed, trial {trial},", r.Output, StringComparison.Ordinal);
        var report = Auditor.Audit(await JournalQuery.ReadAsync(JournalSource.ForSqliteFile(db), CleanJournal.Id, cancellationToken: TestContext.Current.CancellationToken), new AuditOptions(Learning: false));
        Assert.Equal([trial], report.Rows.Where(x => !x.RewardVerified).Select(x => x.TrialId));
        Assert.Equal(seq, report.FirstDivergence!.SequenceNr);
    }

    [Fact]
    public async Task A_changed_accuracy_is_named_by_trial()
    {
        var db = CopyJournal();
        var (seq, _, payload) = Sql.Rows(db).Last(x => x.Manifest == "trial-trained.v1");
        var trial = (long)payload["trialId"]!;
        Sql.RewritePayload(db, seq, p => p["record"]!["accuracy"] = 0.99);

        var r = await Replay();

        Assert.Equal(ExitCodes.VerificationFailed, r.ExitCode);
        Assert.Contains($"(reward-computed, trial {trial},", r.Output, StringComparison.Ordinal);
        Assert.Contains($"ACC 0.99 (trial-trained at sequence {seq})", r.Output, StringComparison.Ordinal);
        Assert.Contains("1 divergence(s)", r.Output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_deleted_event_is_reported_as_a_gap()
    {
        var db = CopyJournal();
        var seq = Sql.Rows(db).First(x => x.Manifest == "trial-dispatched.v1" && x.Seq > 20).Seq;
        Sql.Execute(db, "DELETE FROM journal WHERE sequence_number = $s", ("$s", seq));

        var r = await Replay();

        Assert.Equal(ExitCodes.VerificationFailed, r.ExitCode);
        Assert.Contains("1 gap(s)", r.Output, StringComparison.Ordinal);
        Assert.Contains($"first diverging event: sequence {seq} (gap): expected event {seq}, found 1 event(s) missing: the journal goes from {seq - 1} to {seq + 1}", r.Output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task An_event_of_an_unknown_newer_version_is_a_clear_error()
    {
        var db = CopyJournal();
        var seq = Sql.Rows(db).First(x => x.Manifest == "reward-computed.v1").Seq;
        Sql.Execute(db, "UPDATE journal SET manifest = 'reward-computed.v2' WHERE sequence_number = $s", ("$s", seq));

        var r = await Replay("--verify");

        Assert.Equal(ExitCodes.InvalidInput, r.ExitCode);
        Assert.Contains("'reward-computed.v2'", r.Error, StringComparison.Ordinal);
        Assert.Contains($"(sequence number {seq})", r.Error, StringComparison.Ordinal);
        Assert.Contains("newer", r.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_changed_log_probability_is_caught_by_learning_verification_only()
    {
        var db = CopyJournal();
        var (seq, _, payload) = Sql.Rows(db).Where(x => x.Manifest == "batch-sampled.v1").ElementAt(1);
        var trial = (long)payload["trials"]![2]!["trialId"]!;
        Sql.RewritePayload(db, seq, p => p["trials"]![2]!["logProb"] = (double)p["trials"]![2]!["logProb"]! - 1e-9);

        var rewardsOnly = await Replay();
        var full = await Replay("--verify");

        Assert.Equal(ExitCodes.Success, rewardsOnly.ExitCode);
        Assert.Equal(ExitCodes.VerificationFailed, full.ExitCode);
        Assert.Contains($"first diverging event: sequence {seq} (batch-sampled, trial {trial}, batch 1): expected log-probability", full.Output, StringComparison.Ordinal);
        Assert.Contains("1/3 batches re-sampled, 1/3 updates reproduced", full.Output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Learning_can_start_from_the_latest_snapshot()
    {
        CopyJournal();
        var read = await JournalQuery.ReadAsync(JournalSource.ForSearch(_dir.Path, CleanJournal.Id), CleanJournal.Id, withSnapshot: true, TestContext.Current.CancellationToken);
        var report = Auditor.Audit(read, new AuditOptions(Learning: true, FromSnapshot: true));

        Assert.NotNull(read.Snapshot);
        Assert.True(report.Verified, string.Join("\n", report.Divergences));
        Assert.StartsWith($"snapshot at sequence {read.Snapshot.SequenceNr}", report.LearningStart, StringComparison.Ordinal);
        Assert.Equal(1, report.Totals.UpdatesVerified);
        Assert.Equal(2, report.Totals.UpdatesNotChecked);
        Assert.All(report.Rows.Where(r => r.Batch < 2), r => Assert.Null(r.LearningVerified));
        Assert.All(report.Rows.Where(r => r.Batch == 2), r => Assert.True(r.LearningVerified));
    }

    [Fact]
    public async Task Export_writes_every_event_as_one_json_line()
    {
        var db = CopyJournal();
        var rows = Sql.Rows(db);
        var file = _dir.File("out/events.ndjson");

        var r = await InProcessCli.RunAsync("journal", "export", CleanJournal.Id, "--journal-dir", _dir.Path, "--out", file);

        Assert.True(r.ExitCode == ExitCodes.Success, r.Error);
        var lines = await File.ReadAllLinesAsync(file, TestContext.Current.CancellationToken);
        Assert.Equal(rows.Count, lines.Length);
        for (var i = 0; i < lines.Length; i++)
        {
            var line = JsonNode.Parse(lines[i])!;
            Assert.Equal(rows[i].Seq, (long)line["sequenceNr"]!);
            Assert.Equal(rows[i].Manifest, (string)line["manifest"]!);
            Assert.True(DateTime.TryParse((string)line["timestamp"]!, System.Globalization.CultureInfo.InvariantCulture, out _));
            Assert.True(JsonNode.DeepEquals(rows[i].Payload, line["event"]), $"line {i + 1}");
        }
    }

    [Fact]
    public async Task What_if_with_the_journaled_settings_changes_nothing_and_hard_reorders()
    {
        CopyJournal();
        var read = await JournalQuery.ReadAsync(JournalSource.ForSearch(_dir.Path, CleanJournal.Id), CleanJournal.Id, cancellationToken: TestContext.Current.CancellationToken);

        var same = WhatIf.Run(read, WhatIfSettings.Parse(["reward=soft", "target-ms=80"]));
        Assert.Equal(1.0, same.KendallTau);
        Assert.Empty(same.AdvantageSignChanges);
        Assert.All(same.All, t => Assert.Equal(BitConverter.DoubleToInt64Bits(t.OldReward), BitConverter.DoubleToInt64Bits(t.NewReward)));
        Assert.All(same.All.Where(t => t.OldAdvantage is not null), t => Assert.Equal(t.OldAdvantage!.Value, t.NewAdvantage!.Value, 12));

        var hard = WhatIf.Run(read, WhatIfSettings.Parse(["reward=hard", "target-ms=60"]), top: 3);
        Assert.Equal(3, hard.NewTop.Count);
        Assert.InRange(hard.KendallTau, -1, 1);
        Assert.All(hard.All.Where(t => !t.Failed && t.LatencyMs <= 60), t => Assert.Equal(t.Accuracy!.Value, t.NewReward));
        Assert.All(hard.All.Where(t => t.Failed), t => Assert.Equal(0, t.NewReward));
        Assert.All(hard.AdvantageSignChanges, t => Assert.NotEqual(Math.Sign(t.OldAdvantage!.Value), Math.Sign(t.NewAdvantage!.Value)));
    }

    [Fact]
    public async Task What_if_in_the_cli_prints_tau_and_sign_changes_and_rejects_bad_keys()
    {
        CopyJournal();
        var r = await Replay("--what-if", "reward=hard", "target-ms=60", "--top", "3");
        var bad = await Replay("--what-if", "gamma=2");
        var device = await Replay("--what-if", "device=phone");

        Assert.True(r.ExitCode == ExitCodes.Success, r.Error);
        Assert.Contains("Kendall τ between the old and new rankings:", r.Output, StringComparison.Ordinal);
        Assert.Contains("advantage changes sign for", r.Output, StringComparison.Ordinal);
        Assert.Equal(ExitCodes.InvalidInput, bad.ExitCode);
        Assert.Contains("what-if key 'gamma'", bad.Error, StringComparison.Ordinal);
        Assert.Equal(ExitCodes.InvalidInput, device.ExitCode);
        Assert.Contains("no latency record from that device", device.Error, StringComparison.Ordinal);
        Assert.Contains("simulated:0", device.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Bad_journal_arguments_are_clear_errors()
    {
        var r = await InProcessCli.RunAsync("replay", "nope", "--journal-dir", _dir.Path);
        var snapshotWithoutVerify = await InProcessCli.RunAsync("replay", "nope", "--journal-dir", _dir.Path, "--from-snapshot");
        var badProvider = await InProcessCli.RunAsync("replay", "nope", "--provider", "oracle");

        Assert.Equal(ExitCodes.NotFound, r.ExitCode);
        Assert.Contains("no search 'nope'", r.Error, StringComparison.Ordinal);
        Assert.Equal(ExitCodes.InvalidInput, snapshotWithoutVerify.ExitCode);
        Assert.Contains("use it with --verify", snapshotWithoutVerify.Error, StringComparison.Ordinal);
        Assert.Equal(ExitCodes.InvalidInput, badProvider.ExitCode);
        Assert.Contains("journal provider 'oracle'", badProvider.Error, StringComparison.Ordinal);
    }
}
