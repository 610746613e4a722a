using System.Text.Json;
using MnasNet.Actors.Journal;
using MnasNet.Actors.State;
using MnasNet.Cli;

namespace MnasNet.Actors.Tests;

/// <summary>The commands in-process on real SQLite files, simulated backends.</summary>
public sealed class CliEndToEndTests
{
    [Fact]
    public async Task Search_status_list_report_export_on_a_simulated_search()
    {
        using var dir = new TempDir();
        var config = Simulated.WriteConfig(dir, Simulated.Settings(dir.Path, "e2e", batchSize: 6, batches: 4) with { Simulation = new() { FailureRate = 0.2 } });
        var run = await Cli.RunAsync("search", "--config", config, "--plain");
        Assert.True(run.ExitCode == 0, run.Error + run.Output);
        Assert.Contains("search e2e completed: 24 trials", run.Output);

        var status = await Cli.RunAsync("status", "e2e", "--journal-dir", dir.Path, "--json");
        Assert.Equal(0, status.ExitCode);
        using var doc = JsonDocument.Parse(status.Output);
        Assert.Equal("completed", doc.RootElement.GetProperty("status").GetString());
        Assert.Equal(24, doc.RootElement.GetProperty("trialsDone").GetInt64());
        Assert.False(doc.RootElement.GetProperty("running").GetBoolean());
        var failed = doc.RootElement.GetProperty("failed").GetInt32();
        Assert.InRange(failed, 1, 12);

        var list = await Cli.RunAsync("list", "--journal-dir", dir.Path);
        Assert.Matches(@"e2e\s+completed\s+24/24", list.Output);

        var events = JournalReader.ReadEvents(dir.Path, "e2e").Select(e => e.Event).ToList();
        // Exactly one reward per trial, and a failed trial carries reward 0 with its reason journaled.
        Assert.Equal(24, events.OfType<Protocol.RewardComputed>().Select(r => r.TrialId).Distinct().Count());
        Assert.Equal(24, events.OfType<Protocol.RewardComputed>().Count());
        Assert.Equal(failed, events.OfType<Protocol.TrialFailed>().Count());
        Assert.All(events.OfType<Protocol.RewardComputed>().Where(r => r.Inputs.Failed), r => Assert.Equal(0, r.Inputs.Reward));

        var outDir = dir.File("report");
        var report = await Cli.RunAsync("report", "e2e", "--journal-dir", dir.Path, "--out", outDir, "--json", "--top", "3");
        Assert.Equal(0, report.ExitCode);
        using var r = JsonDocument.Parse(report.Output);
        var top = r.RootElement.GetProperty("top").EnumerateArray().Select(t => t.GetProperty("reward").GetDouble()).ToList();
        Assert.Equal(3, top.Count);
        Assert.Equal(top.OrderDescending(), top);
        var summary = SearchSummary.From("e2e", JournalReader.ReadEvents(dir.Path, "e2e"));
        Assert.Equal(summary.Rewarded.Where(t => !t.Failed).Max(t => t.Reward), top[0]);
        var pareto = r.RootElement.GetProperty("pareto").EnumerateArray().Select(t => (Lat: t.GetProperty("latencyMs").GetDouble(), Acc: t.GetProperty("accuracy").GetDouble())).ToList();
        Assert.NotEmpty(pareto);
        for (var i = 1; i < pareto.Count; i++)
        {
            Assert.True(pareto[i].Lat >= pareto[i - 1].Lat && pareto[i].Acc > pareto[i - 1].Acc);
        }
        Assert.Equal(4, r.RootElement.GetProperty("batches").GetArrayLength());
        foreach (var png in new[] { "pareto.png", "rewards.png" })
        {
            var bytes = await File.ReadAllBytesAsync(Path.Combine(outDir, png), TestContext.Current.CancellationToken);
            Assert.True(bytes.Length > 5000 && bytes[1] == 'P' && bytes[2] == 'N' && bytes[3] == 'G', png);
        }

        var best = summary.Rewarded.Where(t => !t.Failed).MaxBy(t => t.Reward)!;
        var export = await Cli.RunAsync("export-trial", "e2e", "--journal-dir", dir.Path, "--trial", best.TrialId.ToString(System.Globalization.CultureInfo.InvariantCulture), "--out", dir.File("export"), "--no-onnx");
        Assert.Equal(0, export.ExitCode);
        var arch = SearchSpace.ArchitectureJson.Load(dir.File($"export/trial-{best.TrialId}.json"));
        Assert.Equal(best.ArchitectureId, arch.Id);
        Assert.False(File.Exists(dir.File($"export/trial-{best.TrialId}.onnx")));
        var tflite = await File.ReadAllBytesAsync(dir.File($"export/trial-{best.TrialId}.tflite"), TestContext.Current.CancellationToken);
        Assert.Equal("TFL3", System.Text.Encoding.ASCII.GetString(tflite, 4, 4));
    }

    [Fact]
    public async Task Same_config_gives_the_same_journal_and_a_different_seed_does_not()
    {
        using var dir = new TempDir();
        var a = Simulated.Settings(dir.Path, "a", batchSize: 5, batches: 3);
        Assert.Equal(0, (await Cli.RunAsync("search", "--config", Simulated.WriteConfig(dir, a), "--plain")).ExitCode);
        Assert.Equal(0, (await Cli.RunAsync("search", "--config", Simulated.WriteConfig(dir, a with { Id = "b" }), "--plain", "--set", "workers.trainers=3")).ExitCode);
        Assert.Equal(0, (await Cli.RunAsync("search", "--config", Simulated.WriteConfig(dir, a with { Id = "c" }), "--plain", "--set", "seed=12")).ExitCode);
        Assert.Equal(Simulated.Fingerprint(dir.Path, "a"), Simulated.Fingerprint(dir.Path, "b"));
        Assert.NotEqual(Simulated.Fingerprint(dir.Path, "a").Trials, Simulated.Fingerprint(dir.Path, "c").Trials);
    }

    [Fact]
    public async Task Bench_search_prints_throughput_and_resume_figures()
    {
        using var dir = new TempDir();
        var r = await Cli.RunAsync("bench", "search", "--trials", "40", "--batch-size", "10", "--workers", "2", "--resume-trials", "30", "--dir", dir.Path);
        Assert.True(r.ExitCode == 0, r.Error + r.Output);
        Assert.Matches(@"40 trials, \d+ events in [\d.]+ s: \d+ trials/s end to end", r.Output);
        Assert.Matches(@"resume to first new dispatch: \d+ ms", r.Output);
        Assert.Equal("completed", SearchSummary.From("throughput", JournalReader.ReadEvents(dir.Path, "throughput")).Status);
    }
}
