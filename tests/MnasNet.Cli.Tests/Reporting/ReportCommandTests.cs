using System.Text.Json;
using MnasNet.Cli.Reporting;

namespace MnasNet.Cli.Tests.Reporting;

/// <summary><c>mnasnet report --html</c> on a real (simulated) search journaled in SQLite.</summary>
public sealed class ReportCommandTests
{
    [Fact]
    public async Task Report_writes_the_plots_and_one_html_page_that_inlines_them()
    {
        var dir = Directory.CreateTempSubdirectory("mnasnet-report-cmd-");
        try
        {
            var config = Path.Combine(dir.FullName, "search.json");
            await File.WriteAllTextAsync(config, JsonSerializer.Serialize(new
            {
                seed = 7,
                mode = "simulated",
                batchSize = 6,
                batches = 3,
                reward = new { preset = "soft", targetMs = 80 },
                latency = new { backend = "simulated", runs = 5 },
                simulation = new { trainSeconds = 0, measureSeconds = 0, failureRate = 0.1 },
                journal = new { directory = dir.FullName },
            }), TestContext.Current.CancellationToken);
            var search = await InProcessCli.RunAsync("search", "--config", config, "--id", "r1", "--plain");
            Assert.True(search.ExitCode == ExitCodes.Success, search.Error + search.Output);

            var outDir = Path.Combine(dir.FullName, "out");
            var report = await InProcessCli.RunAsync("report", "r1", "--journal-dir", dir.FullName, "--out", outDir, "--html", "--top", "4");
            Assert.True(report.ExitCode == ExitCodes.Success, report.Error);
            Assert.Contains("report.json, rewards.png, pareto.png, report.html", report.Output);
            Assert.False(File.Exists(Path.Combine(outDir, ReportPlots.LatencyPerTargetFile)), "one target: no latency-per-target plot");

            var html = await File.ReadAllTextAsync(Path.Combine(outDir, ReportHtml.FileName), TestContext.Current.CancellationToken);
            foreach (var png in new[] { ReportPlots.RewardsFile, ReportPlots.ParetoFile })
            {
                var bytes = await File.ReadAllBytesAsync(Path.Combine(outDir, png), TestContext.Current.CancellationToken);
                Assert.Contains("data:image/png;base64," + Convert.ToBase64String(bytes), html);
                using var pixels = new PlotPixels(bytes);
                Assert.True(pixels.Ink(0, 0, pixels.Width, PlotFrame.Standard.Top - 6) > 30, $"{png} has a title");
            }
            using var json = JsonDocument.Parse(await File.ReadAllTextAsync(Path.Combine(outDir, "report.json"), TestContext.Current.CancellationToken));
            var best = json.RootElement.GetProperty("top")[0];
            Assert.Contains($"<td>{best.GetProperty("trialId").GetInt64()}</td><td>{best.GetProperty("batch").GetInt32()}</td><td>{best.GetProperty("reward").GetDouble():0.0000}</td>", html);
            Assert.Equal(18, json.RootElement.GetProperty("trialsRewarded").GetInt32());
        }
        finally
        {
            dir.Delete(recursive: true);
        }
    }
}
