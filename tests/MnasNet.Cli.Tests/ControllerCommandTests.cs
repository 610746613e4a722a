using System.Text.Json;
using MnasNet.Cli;
using MnasNet.SearchSpace;

namespace MnasNet.Cli.Tests;

public sealed class ControllerCommandTests
{
    [Fact]
    public async Task Simulate_json_reports_best_reward_curve_and_tokens()
    {
        var r = await InProcessCli.RunAsync("controller", "simulate", "--strategy", "evolution", "--budget", "50", "--batch", "20", "--seed", "3", "--reward", "hard", "--target-ms", "60", "--json");
        Assert.Equal(ExitCodes.Success, r.ExitCode);
        using var doc = JsonDocument.Parse(r.Output);
        var root = doc.RootElement;
        Assert.Equal(50, root.GetProperty("samples").GetInt32());
        Assert.Equal(3, root.GetProperty("curve").GetArrayLength());
        var best = root.GetProperty("bestReward").GetDouble();
        Assert.Equal(best, root.GetProperty("curve").EnumerateArray().Max(p => p.GetProperty("maxReward").GetDouble()));
        Assert.Equal(root.GetProperty("curve")[2].GetProperty("meanReward").GetDouble(), root.GetProperty("meanRewardLastBatch").GetDouble());
        var tokens = MnasNetSearchSpace.Default.ParseTokens(root.GetProperty("bestTokens").GetString()!);
        Assert.Equal(42, tokens.Length);
        Assert.Equal("mnasnet-reward/v1", root.GetProperty("formulaId").GetString());

        var again = await InProcessCli.RunAsync("controller", "simulate", "--strategy", "evolution", "--budget", "50", "--batch", "20", "--seed", "3", "--reward", "hard", "--target-ms", "60", "--json");
        Assert.Equal(r.Output, again.Output);
    }

    [Fact]
    public async Task Simulate_ppo_prints_the_curve_and_the_best_architecture()
    {
        var r = await InProcessCli.RunAsync("controller", "simulate", "--strategy", "ppo", "--budget", "32", "--batch", "16");
        Assert.Equal(ExitCodes.Success, r.ExitCode);
        Assert.Contains("best reward", r.Output);
        Assert.Contains("mean reward of the last batch", r.Output);
        Assert.Matches(@"(?m)^\s+1\s+16\s+0\.\d{4}", r.Output);
        Assert.Matches(@"(?m)^\s+2\s+32\s+0\.\d{4}", r.Output);
    }

    [Theory]
    [InlineData(ExitCodes.UsageError, "--strategy", "bayes", "--budget", "10")]
    [InlineData(ExitCodes.UsageError, "--strategy", "ppo")]
    [InlineData(ExitCodes.UsageError, "--strategy", "ppo", "--budget", "10", "--reward", "medium")]
    [InlineData(ExitCodes.InvalidInput, "--strategy", "random", "--budget", "10", "--batch", "0")]
    [InlineData(ExitCodes.InvalidInput, "--strategy", "random", "--budget", "10", "--target-ms", "-5")]
    public async Task Simulate_rejects_bad_input_with_an_exit_code_and_one_line(int expected, params string[] args)
    {
        var r = await InProcessCli.RunAsync(["controller", "simulate", .. args]);
        Assert.Equal(expected, r.ExitCode);
        Assert.StartsWith("error:", r.Error);
    }

    [Fact]
    public async Task Bench_controller_prints_throughput()
    {
        var r = await InProcessCli.RunAsync("bench", "controller", "--throughput", "--batch", "4", "--sample-batches", "1", "--updates", "1");
        Assert.Equal(ExitCodes.Success, r.ExitCode);
        Assert.Contains("architectures/s", r.Output);
        Assert.Contains("updates/s", r.Output);
        Assert.Contains("controller [managed]", r.Output);
        Assert.Contains("controller [libtorch]", r.Output);
        Assert.Contains("managed / libtorch speed-up", r.Output);
        var one = await InProcessCli.RunAsync("bench", "controller", "--throughput", "--engine", "managed", "--batch", "4", "--sample-batches", "1", "--updates", "1");
        Assert.Equal(ExitCodes.Success, one.ExitCode);
        Assert.DoesNotContain("libtorch", one.Output);
        var bad = await InProcessCli.RunAsync("bench", "controller", "--throughput", "--batch", "0");
        Assert.Equal(ExitCodes.InvalidInput, bad.ExitCode);
    }

    [Fact]
    public async Task Simulate_runs_tpe_on_another_objective_family()
    {
        var r = await InProcessCli.RunAsync("controller", "simulate", "--strategy", "tpe", "--family", "rugged", "--budget", "60", "--batch", "10", "--optimum", "--json");
        Assert.Equal(ExitCodes.Success, r.ExitCode);
        using var doc = JsonDocument.Parse(r.Output);
        Assert.Equal("rugged", doc.RootElement.GetProperty("family").GetString());
        Assert.True(doc.RootElement.GetProperty("bestReward").GetDouble() <= doc.RootElement.GetProperty("optimum").GetProperty("reward").GetDouble());
    }

    [Fact]
    public async Task Bench_controller_quick_prints_the_table_and_writes_json_and_a_plot()
    {
        var dir = Directory.CreateTempSubdirectory("bench-controller-");
        try
        {
            var r = await InProcessCli.RunAsync("bench", "controller", "--quick", "--out", dir.FullName);
            Assert.Equal(ExitCodes.Success, r.ExitCode);
            Assert.Contains("| family | reward | optimum | budget | ppo best (regret) | random best (regret) | evolution best (regret) | tpe best (regret) |", r.Output);
            Assert.Matches(@"(?m)^\| additive \| soft \| 0\.\d{4} \| 96 \|", r.Output);
            Assert.Matches(@"(?m)^\| fitted \| hard \| \d\.\d{4} \| 48 \|", r.Output);
            using var doc = JsonDocument.Parse(await File.ReadAllTextAsync(Path.Combine(dir.FullName, "controller-bench.json"), TestContext.Current.CancellationToken));
            var cells = doc.RootElement.GetProperty("cells");
            Assert.Equal(2 * 2 * 4 * 2, cells.GetArrayLength());
            Assert.All(cells.EnumerateArray(), c => Assert.True(c.GetProperty("meanRegret").GetDouble() >= 0));
            var png = await File.ReadAllBytesAsync(Path.Combine(dir.FullName, "controller-bench.png"), TestContext.Current.CancellationToken);
            Assert.Equal([0x89, (byte)'P', (byte)'N', (byte)'G'], png[..4]);
            Assert.True(png.Length > 20_000, $"{png.Length} bytes");
        }
        finally
        {
            dir.Delete(recursive: true);
        }
    }

    [Theory]
    [InlineData(ExitCodes.InvalidInput, "unknown option", "--quick", "--ppo", "Bogus=1")]
    [InlineData(ExitCodes.InvalidInput, "not a number", "--quick", "--ppo", "LearningRate=fast")]
    [InlineData(ExitCodes.InvalidInput, "LearningRate", "--quick", "--ppo", "LearningRate=5")]
    [InlineData(ExitCodes.InvalidInput, "budgets", "--quick", "--budgets", "0")]
    [InlineData(ExitCodes.InvalidInput, "families", "--quick", "--families", "flat")]
    [InlineData(ExitCodes.InvalidInput, "batch", "--quick", "--batch", "500")]
    [InlineData(ExitCodes.UsageError, "medium", "--quick", "--rewards", "medium")]
    [InlineData(ExitCodes.InvalidInput, "--engine must be one of managed, libtorch, got 'gpu'", "--quick", "--engine", "gpu")]
    [InlineData(ExitCodes.InvalidInput, "Engine must be one of managed, libtorch", "--quick", "--ppo", "Engine=gpu")]
    public async Task Bench_controller_rejects_bad_input_naming_it(int expected, string named, params string[] args)
    {
        var r = await InProcessCli.RunAsync(["bench", "controller", .. args]);
        Assert.Equal(expected, r.ExitCode);
        Assert.StartsWith("error:", r.Error);
        Assert.Contains(named, r.Error);
    }

    [Fact]
    public async Task Fit_landscape_reports_a_missing_search()
    {
        var dir = Directory.CreateTempSubdirectory("fit-landscape-");
        try
        {
            var r = await InProcessCli.RunAsync("controller", "fit-landscape", "nothing-here", "--journal-dir", dir.FullName, "--out", Path.Combine(dir.FullName, "fit.json"));
            Assert.NotEqual(ExitCodes.Success, r.ExitCode);
            Assert.StartsWith("error:", r.Error);
            Assert.Contains("nothing-here", r.Error);
            Assert.False(File.Exists(Path.Combine(dir.FullName, "fit.json")));
        }
        finally
        {
            dir.Delete(recursive: true);
        }
    }
}
