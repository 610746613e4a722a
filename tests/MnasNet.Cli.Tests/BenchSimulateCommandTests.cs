using System.Text.RegularExpressions;
using MnasNet.Cli;

namespace MnasNet.Cli.Tests;

public sealed class BenchSimulateCommandTests
{
    [Fact]
    public async Task A_run_says_what_it_cost_the_process_and_which_types_allocated_most()
    {
        using var dir = new TempDir();
        var r = await InProcessCli.RunAsync("bench", "simulate", "--trials", "128", "--strategies", "ppo-tabular", "--batch-size", "32",
            "--baseline", "false", "--allocations", "3", "--dir", dir.Path);
        Assert.Equal(ExitCodes.Success, r.ExitCode);
        Assert.Matches(new Regex(@"ppo-tabular +128 trials: +[0-9.]+ s wall"), r.Output);
        var costs = Regex.Match(r.Output, @"process CPU ([0-9.]+) s; JIT ([0-9,]+) methods in [0-9.]+ s; GCs \d+/\d+/\d+ \(gen 0/1/2\) pausing [0-9.]+ s; ([0-9.]+) MB allocated a trial");
        Assert.True(costs.Success, r.Output);
        Assert.True(double.Parse(costs.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture) > 0);
        Assert.True(double.Parse(costs.Groups[3].Value, System.Globalization.CultureInfo.InvariantCulture) > 0);
        // Other tests' searches in this process may add to the counts: at least this run's 4 batches.
        var policy = Regex.Match(r.Output, @"policy: (\d+) updates in [0-9.]+ s, (\d+) samplings in [0-9.]+ s, saving the states for the journal [0-9.]+ s");
        Assert.True(policy.Success, r.Output);
        Assert.True(int.Parse(policy.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture) >= 4);
        Assert.True(int.Parse(policy.Groups[2].Value, System.Globalization.CultureInfo.InvariantCulture) >= 4);
        var types = Regex.Matches(r.Output, @"^ +[0-9.]+ MB (small|large)-object heap +\S", RegexOptions.Multiline);
        Assert.InRange(types.Count, 1, 3);
    }

    [Fact]
    public async Task A_negative_allocation_count_is_refused_before_anything_runs()
    {
        using var dir = new TempDir();
        var r = await InProcessCli.RunAsync("bench", "simulate", "--allocations", "-1", "--dir", dir.Path);
        Assert.Equal(ExitCodes.InvalidInput, r.ExitCode);
        Assert.Contains("--allocations must be ≥ 0", r.Error);
        Assert.Empty(Directory.EnumerateFileSystemEntries(dir.Path));
    }
}
