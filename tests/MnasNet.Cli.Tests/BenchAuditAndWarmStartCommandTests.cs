using System.Text.Json;
using MnasNet.Cli;

namespace MnasNet.Cli.Tests;

public sealed class BenchAuditAndWarmStartCommandTests
{
    [Fact]
    public async Task Bench_audit_builds_a_search_and_verifies_it_in_both_modes()
    {
        using var dir = new TempDir();
        var r = await InProcessCli.RunAsync("bench", "audit", "--trials", "48", "--batch-size", "16", "--strategy", "ppo-tabular", "--dir", dir.Path);

        Assert.True(r.ExitCode == ExitCodes.Success, r.Output + r.Error);
        Assert.Matches(@"read: \d+ events, [\d.]+ s wall, [\d.]+ s CPU", r.Output);
        Assert.Contains("rewards only: VERIFIED, 48 rewards", r.Output, StringComparison.Ordinal);
        Assert.Contains("--verify in one pass: VERIFIED, 3/3 batches, 3/3 updates", r.Output, StringComparison.Ordinal);
        Assert.Matches(@"--verify, \d+ stretch(es)? at once on \d+ cores: VERIFIED, 3/3 batches, 3/3 updates", r.Output);
        // A second run audits the search already there instead of building another.
        var again = await InProcessCli.RunAsync("bench", "audit", "--trials", "48", "--batch-size", "16", "--strategy", "ppo-tabular", "--dir", dir.Path);
        Assert.Equal(ExitCodes.Success, again.ExitCode);
        Assert.DoesNotContain("building:", again.Output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Bench_controller_warm_start_mode_writes_cold_and_warm_cells()
    {
        using var dir = new TempDir();
        var r = await InProcessCli.RunAsync("bench", "controller", "--warm-start-from-ms", "75", "--target-ms", "55", "--strategies", "evolution",
            "--families", "additive", "--rewards", "soft", "--budgets", "32", "64", "--seeds", "2", "--source-budget", "128", "--out", dir.Path);

        Assert.True(r.ExitCode == ExitCodes.Success, r.Output + r.Error);
        Assert.Contains("| additive | soft | evolution | 64 |", r.Output, StringComparison.Ordinal);
        using var json = JsonDocument.Parse(await File.ReadAllTextAsync(Path.Combine(dir.Path, "controller-warm-start.json"), TestContext.Current.CancellationToken));
        var cells = json.RootElement.GetProperty("cells").EnumerateArray().ToList();
        Assert.Equal(2, cells.Count);
        Assert.All(cells, c => Assert.True(c.GetProperty("warmMean").GetDouble() > c.GetProperty("coldMean").GetDouble()));

        var random = await InProcessCli.RunAsync("bench", "controller", "--warm-start-from-ms", "75", "--strategies", "random", "--budgets", "32", "--out", dir.Path);
        Assert.Equal(ExitCodes.InvalidInput, random.ExitCode);
        Assert.Contains("strategy random has nothing to warm-start from", random.ErrorLine, StringComparison.Ordinal);
    }
}
