using System.Globalization;
using System.Text.Json.Nodes;
using MnasNet.Actors.Journal;
using MnasNet.Actors.Protocol;
using MnasNet.Actors.Settings;
using MnasNet.Actors.State;
using MnasNet.Cli;

namespace MnasNet.Cluster.Tests;

/// <summary>
/// The read-side commands (status, list, report, export-trial, replay, journal export) on searches journaled in a real
/// PostgreSQL server, selected with --provider postgresql (+ --connection-string-file or MNASNET_PG_CONNECTION) or
/// --config; every figure they print is checked against the journal rows themselves.
/// </summary>
public sealed class PostgresReadCommandsTests(PostgresSearches journal) : IClassFixture<PostgresSearches>, IDisposable
{
    private const string Audited = PostgresSearches.Audited;
    private readonly TempDir _dir = new();

    public void Dispose() => _dir.Dispose();

    private string[] Pg => ["--provider", "postgresql", "--connection-string-file", journal.ConnectionFile];

    private string Where => $"127.0.0.1:{journal.Server.Port.ToString(CultureInfo.InvariantCulture)}/{journal.Server.Database}";

    private IReadOnlyList<JournalEntry> Events(string id) => PostgresJournal.ReadEvents(journal.Server.ConnectionString, id);

    private TrialSummary BestOf(string id) => SearchSummary.From(id, Events(id)).Rewarded.Where(t => !t.Failed).MaxBy(t => t.Reward)!;

    [Fact]
    public async Task Status_shows_the_journaled_state_and_says_running_is_unknown()
    {
        var summary = SearchSummary.From(Audited, Events(Audited));
        var best = BestOf(Audited);

        var json = await InProcessCli.RunAsync(["status", Audited, .. Pg, "--json"]);
        var text = await InProcessCli.RunAsync(["status", Audited, .. Pg]);

        Assert.True(json.ExitCode == ExitCodes.Success, json.Error);
        var s = JsonNode.Parse(json.Output)!;
        Assert.Equal("completed", (string?)s["status"]);
        Assert.Equal(18, (long)s["trialsDone"]!);
        Assert.Equal(18, (long)s["trialBudget"]!);
        Assert.Equal(3, (int)s["batchesDone"]!);
        Assert.Equal(summary.Trials.Count(t => t.Failed), (int)s["failed"]!);
        Assert.InRange((int)s["failed"]!, 1, 17);
        Assert.Equal(best.TrialId, (long)s["bestTrial"]!);
        Assert.Equal(best.Reward, (double)s["bestReward"]!);
        Assert.Equal(summary.FinalPolicyHash, (string?)s["policyHash"]);
        Assert.Equal(Events(Audited).Count, (long)s["events"]!);
        Assert.Null(s["running"]);
        Assert.Equal("postgresql", (string?)s["provider"]);
        Assert.Equal($"postgresql {Where}, persistence id search-{Audited}", (string?)s["journal"]);
        Assert.InRange(DateTime.Parse((string)s["lastEventAt"]!, CultureInfo.InvariantCulture, DateTimeStyles.AdjustToUniversal), journal.StartedAt, DateTime.UtcNow);

        Assert.True(text.ExitCode == ExitCodes.Success, text.Error);
        Assert.StartsWith($"search {Audited}: completed\n", text.Output, StringComparison.Ordinal);
        Assert.Contains("  trials      18/18 done", text.Output, StringComparison.Ordinal);
        Assert.Contains(string.Create(CultureInfo.InvariantCulture, $"  best        reward {best.Reward:F4} trial {best.TrialId} "), text.Output, StringComparison.Ordinal);
        Assert.Contains($"  database    postgresql {Where}", text.Output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task List_names_every_search_in_the_database_via_options_and_via_config_with_the_environment()
    {
        var config = _dir.File("cluster.json");
        await File.WriteAllTextAsync(config, SettingsLoader.ToJson(Simulated.Settings(_dir.Path, "any") with { Journal = new JournalSettings { Directory = _dir.Path, Provider = "postgresql" } }),
            TestContext.Current.CancellationToken);

        var json = await InProcessCli.RunAsync(["list", .. Pg, "--json"]);
        using var child = MnasNetProcess.Start(_dir.Path, new Dictionary<string, string> { [PostgresJournal.ConnectionEnvironmentVariable] = journal.Server.ConnectionString }, "list", "--config", config);
        var code = await child.WaitAsync(TimeSpan.FromSeconds(60));

        Assert.True(json.ExitCode == ExitCodes.Success, json.Error);
        var views = JsonNode.Parse(json.Output)!.AsArray();
        Assert.Equal([Audited, PostgresSearches.Tampered], views.Select(v => (string)v!["id"]!));
        Assert.Equal([18L, 8L], views.Select(v => (long)v!["trialsDone"]!));
        Assert.All(views, v => Assert.Equal("completed", (string?)v!["status"]));
        Assert.Equal(0, code);
        Assert.Matches(string.Create(CultureInfo.InvariantCulture, $@"{Audited}\s+completed\s+18/18\s+{BestOf(Audited).Reward:F4}\s+\d{{4}}-\d\d-\d\d \d\d:\d\d:\d\dZ"), child.Output);
        Assert.Matches($@"{PostgresSearches.Tampered}\s+completed\s+8/8\s", child.Output);
    }

    [Fact]
    public async Task Report_and_export_trial_agree_with_the_journal()
    {
        var best = BestOf(Audited);
        var updates = Events(Audited).Select(e => e.Event).OfType<PolicyUpdated>().ToList();
        var outDir = _dir.File("report");

        var report = await InProcessCli.RunAsync(["report", Audited, .. Pg, "--json", "--top", "3", "--out", outDir]);
        var export = await InProcessCli.RunAsync(["export-trial", Audited, .. Pg, "--trial", best.TrialId.ToString(CultureInfo.InvariantCulture), "--out", _dir.File("export"), "--no-onnx", "--no-tflite"]);

        Assert.True(report.ExitCode == ExitCodes.Success, report.Error);
        var r = JsonNode.Parse(report.Output)!;
        Assert.Equal(18, (int)r["trialsRewarded"]!);
        Assert.Equal(best.TrialId, (long)r["top"]![0]!["trialId"]!);
        Assert.Equal(best.Reward, (double)r["top"]![0]!["reward"]!);
        Assert.Equal(updates.Select(u => u.ParameterHash), r["batches"]!.AsArray().Select(b => (string)b!["parameterHash"]!));
        Assert.True(new FileInfo(Path.Combine(outDir, "pareto.png")).Length > 5000);
        Assert.True(export.ExitCode == ExitCodes.Success, export.Error);
        Assert.Equal(best.ArchitectureId, SearchSpace.ArchitectureJson.Load(_dir.File($"export/trial-{best.TrialId}.json")).Id);
    }

    [Fact]
    public async Task Replay_verify_reproduces_every_reward_and_update_from_postgresql_also_from_the_snapshot()
    {
        var reportFile = _dir.File("replay.json");

        var full = await InProcessCli.RunAsync(["replay", Audited, .. Pg, "--verify", "--report", reportFile]);
        var fromSnapshot = await InProcessCli.RunAsync(["replay", Audited, .. Pg, "--verify", "--from-snapshot"]);

        Assert.True(full.ExitCode == ExitCodes.Success, full.Output + full.Error);
        Assert.Contains("3/3 batches re-sampled, 3/3 updates reproduced", full.Output, StringComparison.Ordinal);
        Assert.Contains("VERIFIED: every reward and every policy update reproduces from the journal", full.Output, StringComparison.Ordinal);
        var audit = JsonNode.Parse(await File.ReadAllTextAsync(reportFile, TestContext.Current.CancellationToken))!["audit"]!;
        Assert.Equal(Events(Audited).Count, (long)audit["totals"]!["events"]!);
        Assert.Equal(18, audit["rows"]!.AsArray().Count);
        Assert.All(audit["rows"]!.AsArray(), row => Assert.True((bool)row!["learningVerified"]!));
        // Snapshot every 2 updates: the one after update 2 is read from PostgreSQL's snapshot table; learning starts there.
        var snapshot = Assert.Single(PostgresRows.Snapshots(journal.Server.ConnectionString, Audited));
        Assert.True(fromSnapshot.ExitCode == ExitCodes.Success, fromSnapshot.Output + fromSnapshot.Error);
        Assert.Contains($"1/3 updates reproduced; start: snapshot at sequence {snapshot} ", fromSnapshot.Output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Journal_export_writes_every_postgresql_event_in_order()
    {
        var file = _dir.File("events.ndjson");
        var events = Events(Audited);

        var r = await InProcessCli.RunAsync(["journal", "export", Audited, .. Pg, "--out", file]);

        Assert.True(r.ExitCode == ExitCodes.Success, r.Error);
        Assert.Contains($"search {Audited}: {events.Count} events written", r.Output, StringComparison.Ordinal);
        var lines = (await File.ReadAllLinesAsync(file, TestContext.Current.CancellationToken)).Select(l => JsonNode.Parse(l)!).ToList();
        Assert.Equal(events.Select(e => e.SequenceNr), lines.Select(l => (long)l["sequenceNr"]!));
        Assert.Equal(events.Select(e => e.Manifest), lines.Select(l => (string)l["manifest"]!));
        Assert.All(lines, l => Assert.InRange(DateTime.Parse((string)l["timestamp"]!, CultureInfo.InvariantCulture, DateTimeStyles.AdjustToUniversal), journal.StartedAt, DateTime.UtcNow));
    }

    [Fact]
    public async Task A_reward_changed_in_postgresql_is_named_by_replay_verify()
    {
        var id = PostgresSearches.Tampered;
        var (seq, _, payload) = PostgresRows.Of(journal.Server.ConnectionString, id)
            .First(x => x.Manifest == "reward-computed.v1" && !(bool)x.Payload["inputs"]!["failed"]! && (long)x.Payload["trialId"]! >= 2);
        var trial = (long)payload["trialId"]!;
        PostgresRows.RewritePayload(journal.Server.ConnectionString, id, seq, p => p["inputs"]!["reward"] = (double)p["inputs"]!["reward"]! + 1e-12);
        var reportFile = _dir.File("tampered.json");

        var r = await InProcessCli.RunAsync(["replay", id, .. Pg, "--verify", "--report", reportFile]);

        Assert.True(r.ExitCode == ExitCodes.VerificationFailed, r.Output + r.Error);
        Assert.Contains($"first diverging event: sequence {seq} (reward-computed, trial {trial},", r.Output, StringComparison.Ordinal);
        var rows = JsonNode.Parse(await File.ReadAllTextAsync(reportFile, TestContext.Current.CancellationToken))!["audit"]!["rows"]!.AsArray();
        Assert.Equal([trial], rows.Where(x => !(bool)x!["rewardVerified"]!).Select(x => (long)x!["trialId"]!));
    }

    [Fact]
    public async Task Unknown_search_ids_are_not_found_in_every_command()
    {
        foreach (var args in new[]
        {
            ["status", "ghost"], ["report", "ghost"], ["export-trial", "ghost", "--trial", "0", "--out", _dir.File("x")],
            ["replay", "ghost", "--verify"], new[] { "journal", "export", "ghost", "--out", _dir.File("x.ndjson") },
        })
        {
            var r = await InProcessCli.RunAsync([.. args, .. Pg]);
            Assert.True(r.ExitCode == ExitCodes.NotFound, $"{string.Join(' ', args)}: {r.ExitCode} {r.Output}{r.Error}");
            Assert.StartsWith($"error: no search 'ghost' in the PostgreSQL journal {Where}", r.ErrorLine, StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task An_unreachable_server_or_a_missing_database_is_one_clear_error()
    {
        var closed = _dir.File("closed.conn");
        var port = PostgresServer.FreePort().ToString(CultureInfo.InvariantCulture);
        await File.WriteAllTextAsync(closed, $"Host=127.0.0.1;Port={port};Username=postgres;Database=mnasnet;Timeout=5", TestContext.Current.CancellationToken);
        var missing = _dir.File("missing.conn");
        await File.WriteAllTextAsync(missing, $"Host=127.0.0.1;Port={journal.Server.Port.ToString(CultureInfo.InvariantCulture)};Username=postgres;Database=nope", TestContext.Current.CancellationToken);

        foreach (var command in new[] { new[] { "status", Audited }, ["list"], ["replay", Audited] })
        {
            var r = await InProcessCli.RunAsync([.. command, "--provider", "postgresql", "--connection-string-file", closed]);
            Assert.True(r.ExitCode == ExitCodes.Failure, $"{command[0]}: {r.ExitCode} {r.Error}");
            Assert.StartsWith($"error: PostgreSQL server of the journal 127.0.0.1:{port}/mnasnet is unreachable", r.ErrorLine, StringComparison.Ordinal);
        }
        var noDatabase = await InProcessCli.RunAsync(["status", Audited, "--provider", "postgresql", "--connection-string-file", missing]);
        Assert.Equal(ExitCodes.InvalidInput, noDatabase.ExitCode);
        Assert.Contains("database \"nope\" does not exist", noDatabase.ErrorLine, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Missing_or_contradictory_connection_settings_are_clear_errors()
    {
        using var noConnection = MnasNetProcess.Start(_dir.Path, new Dictionary<string, string> { [PostgresJournal.ConnectionEnvironmentVariable] = "" }, "status", Audited, "--provider", "postgresql");
        var cases = new (string[] Args, int ExitCode, string Message)[]
        {
            (["status", Audited, "--provider", "postgresql", "--connection-string-file", _dir.File("absent.conn")], ExitCodes.NotFound, "absent.conn' not found"),
            (["status", Audited, "--connection-string-file", journal.ConnectionFile], ExitCodes.InvalidInput, "--connection-string-file is for --provider postgresql"),
            (["replay", Audited, "--journal", _dir.File("x.db"), .. Pg], ExitCodes.InvalidInput, "is a SQLite file"),
            (["list", "--provider", "oracle"], ExitCodes.InvalidInput, "journal provider 'oracle'"),
        };
        foreach (var (args, exitCode, message) in cases)
        {
            var r = await InProcessCli.RunAsync(args);
            Assert.True(r.ExitCode == exitCode, $"{string.Join(' ', args)}: {r.ExitCode} {r.Error}");
            Assert.Contains(message, r.ErrorLine, StringComparison.Ordinal);
        }
        // The old --connection option is gone: a connection string (with its password) never goes on the command line.
        var passwordOnTheCommandLine = await InProcessCli.RunAsync(["replay", Audited, "--connection", journal.Server.ConnectionString]);

        Assert.Equal(ExitCodes.InvalidInput, await noConnection.WaitAsync(TimeSpan.FromSeconds(60)));
        Assert.Contains($"error: no PostgreSQL connection string: set {PostgresJournal.ConnectionEnvironmentVariable} or pass --connection-string-file FILE", noConnection.Output, StringComparison.Ordinal);
        Assert.Equal(ExitCodes.UsageError, passwordOnTheCommandLine.ExitCode);
    }
}
