using System.Text.Json;
using MnasNet.Cli;
using MnasNet.SearchSpace;

namespace MnasNet.Cli.Tests;

public sealed class ControllerCommandTests
{
    [Fact]
    public async Task Simulate_json_reports_best_reward_curve_and_tokens()
    {
        var r = await CliRunner.RunAsync("controller", "simulate", "--strategy", "evolution", "--budget", "50", "--batch", "20", "--seed", "3", "--reward", "hard", "--target-ms", "60", "--json");
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

        var again = await CliRunner.RunAsync("controller", "simulate", "--strategy", "evolution", "--budget", "50", "--batch", "20", "--seed", "3", "--reward", "hard", "--target-ms", "60", "--json");
        Assert.Equal(r.Output, again.Output);
    }

    [Fact]
    public async Task Simulate_ppo_prints_the_curve_and_the_best_architecture()
    {
        var r = await CliRunner.RunAsync("controller", "simulate", "--strategy", "ppo", "--budget", "32", "--batch", "16");
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
        var r = await CliRunner.RunAsync(["controller", "simulate", .. args]);
        Assert.Equal(expected, r.ExitCode);
        Assert.StartsWith("error:", r.Error);
    }

    [Fact]
    public async Task Bench_controller_prints_throughput()
    {
        var r = await CliRunner.RunAsync("bench", "controller", "--throughput", "--batch", "4", "--sample-batches", "1", "--updates", "1");
        Assert.Equal(ExitCodes.Success, r.ExitCode);
        Assert.Contains("architectures/s", r.Output);
        Assert.Contains("updates/s", r.Output);
        var bad = await CliRunner.RunAsync("bench", "controller", "--throughput", "--batch", "0");
        Assert.Equal(ExitCodes.InvalidInput, bad.ExitCode);
    }
}
