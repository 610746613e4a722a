using System.Globalization;
using MnasNet.Cli;

namespace MnasNet.Cli.Tests;

public sealed class BenchClusterCommandTests
{
    [Theory]
    [InlineData("--trainer-processes 0", "'0' is not a count of trainer processes")]
    [InlineData("--trainer-processes 1,two", "'two' is not a count of trainer processes")]
    [InlineData("--trainer-processes 2,2", "2 is given twice")]
    [InlineData("--trainer-processes 17", "from 1 to 16")]
    [InlineData("--trials 10", "multiple of the batch size 8")]
    [InlineData("--trainer-processes 1 --trials 0", "multiple of the batch size 2")]
    [InlineData("--trial-seconds 0", "--trial-seconds must be more than 0")]
    [InlineData("--trial-seconds 12", "workers.leaseTimeoutSeconds (10) must exceed")]
    [InlineData("--set cluster.nope=1", "cluster.nope")]
    public async Task Bad_input_is_refused_before_anything_starts(string args, string message)
    {
        var r = await InProcessCli.RunAsync(["bench", "cluster", .. args.Split(' ')]);

        Assert.Equal(ExitCodes.InvalidInput, r.ExitCode);
        Assert.Contains(message, r.Error);
        Assert.StartsWith("error: ", r.Error);
        Assert.Equal("", r.Output);
    }

    [Fact]
    public async Task A_tiny_run_prints_its_row_and_leaves_no_process_behind()
    {
        var r = await InProcessCli.RunAsync("bench", "cluster", "--trainer-processes", "1", "--trial-seconds", "0.1", "--trials", "2");

        Assert.True(r.ExitCode == ExitCodes.Success, r.Error);
        Assert.Contains("processes  trials  wall s  trials/min  speed-up  efficiency  ideal trials/min", r.Output);
        var row = r.Output.Split('\n').Single(l => l.StartsWith("        1       2  ", StringComparison.Ordinal)).Split(' ', StringSplitOptions.RemoveEmptyEntries);
        Assert.True(double.Parse(row[3], CultureInfo.InvariantCulture) > 0);
        Assert.Equal("1.00", row[4]);
        Assert.Equal("100%", row[5]);
        Assert.Equal("600.0", row[6]);
        Assert.Empty(ChildMnasNetProcesses());
    }

    /// <summary>Processes whose parent is this test process and whose command line runs mnasnet.</summary>
    private static List<string> ChildMnasNetProcesses()
    {
        var children = new List<string>();
        foreach (var dir in Directory.GetDirectories("/proc").Where(d => int.TryParse(Path.GetFileName(d), out _)))
        {
            try
            {
                var stat = File.ReadAllText(Path.Combine(dir, "stat"));
                var parent = int.Parse(stat[(stat.LastIndexOf(')') + 2)..].Split(' ')[1], CultureInfo.InvariantCulture);
                var command = File.ReadAllText(Path.Combine(dir, "cmdline")).Replace('\0', ' ');
                if (parent == Environment.ProcessId && command.Contains("mnasnet", StringComparison.Ordinal))
                {
                    children.Add(command);
                }
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                // The process ended while being read.
            }
        }
        return children;
    }
}
