using System.Diagnostics;
using System.Text.RegularExpressions;
using MnasNet.Cli.Reporting;

namespace MnasNet.Cli.Tests.Reporting;

public sealed partial class ReportHtmlTests
{
    [Fact]
    public void The_page_is_self_contained_with_every_table_and_every_plot_inlined()
    {
        var data = ReportSamples.MultiTargetWithFinalists();
        var images = ReportPlots.RenderAll(data);
        var html = ReportHtml.Render(data, images, top: 5);

        Assert.StartsWith("<!DOCTYPE html>", html);
        Assert.DoesNotContain("<script", html, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain("<link", html, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain("http:", html, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain("https:", html, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain("url(", html, StringComparison.OrdinalIgnoreCase);
        // Every src is a data URI holding exactly the PNG the report writes beside the page.
        var sources = SourceAttribute().Matches(html).Select(m => m.Groups[1].Value).ToList();
        Assert.Equal(images.Count, sources.Count);
        for (var i = 0; i < images.Count; i++)
        {
            Assert.StartsWith("data:image/png;base64,", sources[i]);
            Assert.Equal(images[i].Png, Convert.FromBase64String(sources[i]["data:image/png;base64,".Length..]));
        }
        foreach (var section in new[] { "summary", "plots", "top", "pareto", "targets", "finalists", "batches" })
        {
            Assert.Contains($"<h2 id=\"{section}\">", html);
        }
        Assert.Equal(5, RowsOf(html, "top"));
        Assert.Equal(data.ParetoFront().Count, RowsOf(html, "pareto"));
        Assert.Equal(2, RowsOf(html, "targets"));
        Assert.Equal(4, RowsOf(html, "finalists"));
        Assert.Equal(data.Batches.Count, RowsOf(html, "batches"));
        Assert.Contains("<th>onnxruntime:threads=4 (ms)</th>", html);
        Assert.Contains("Kendall tau 0.6667", html);
    }

    [Fact]
    public void A_page_without_finalists_has_no_finalist_section_and_rounds_its_numbers()
    {
        var data = ReportSamples.Search();
        var html = ReportHtml.Render(data, ReportPlots.RenderAll(data), top: 3);
        Assert.DoesNotContain("id=\"finalists\"", html);
        var best = data.Top(1)[0];
        Assert.Contains($"<td>{best.Reward!.Value:0.0000}</td>", html);
        Assert.DoesNotContain(best.Reward.Value.ToString("R", System.Globalization.CultureInfo.InvariantCulture), html);
    }

    [Fact]
    public async Task Chromium_shows_the_page_with_its_plots_and_not_without_them()
    {
        var data = ReportSamples.MultiTargetWithFinalists();
        var html = ReportHtml.Render(data, ReportPlots.RenderAll(data), top: 5);
        var dir = Directory.CreateTempSubdirectory("mnasnet-report-html-");
        try
        {
            using var page = new PlotPixels(await ScreenshotAsync(dir.FullName, "report", html));
            var ink = page.Ink(0, 0, page.Width, page.Height);
            var colourful = page.Colourful(0, 0, page.Width, page.Height);
            Assert.True(ink > page.Width * page.Height / 100, $"the screenshot is blank: {ink} non-white pixels");
            Assert.True(colourful > 2000, $"no plot on the screenshot: {colourful} coloured pixels");

            // The same page with its images taken out: the pixel check must fail (tables alone are not colourful).
            var withoutImages = DataUri().Replace(html, "src=\"\"");
            using var bare = new PlotPixels(await ScreenshotAsync(dir.FullName, "bare", withoutImages));
            Assert.True(bare.Ink(0, 0, bare.Width, bare.Height) > bare.Width * bare.Height / 1000, "the bare page still shows its tables");
            Assert.True(bare.Colourful(0, 0, bare.Width, bare.Height) < 200, "the check could not tell a page without plots");
        }
        finally
        {
            dir.Delete(recursive: true);
        }
    }

    private static int RowsOf(string html, string section)
    {
        var start = html.IndexOf($"<h2 id=\"{section}\">", StringComparison.Ordinal);
        var end = html.IndexOf("</table>", start, StringComparison.Ordinal);
        return TableRow().Matches(html[start..end]).Count;
    }

    private static async Task<byte[]> ScreenshotAsync(string dir, string name, string html)
    {
        const string chromium = "/usr/bin/chromium";
        Assert.True(File.Exists(chromium), $"{chromium} not found: the HTML report test needs Debian's chromium package (deploy/setup.sh --tests installs it)");
        var page = Path.Combine(dir, name + ".html");
        var shot = Path.Combine(dir, name + ".png");
        await File.WriteAllTextAsync(page, html, TestContext.Current.CancellationToken);
        var start = new ProcessStartInfo(chromium)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        foreach (var arg in new[]
        {
            "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
            "--disable-component-update", "--disable-sync", $"--user-data-dir={Path.Combine(dir, name + "-profile")}",
            $"--screenshot={shot}", "--window-size=1000,2400", new Uri(page).AbsoluteUri,
        })
        {
            start.ArgumentList.Add(arg);
        }
        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync(TestContext.Current.CancellationToken);
        var stderr = process.StandardError.ReadToEndAsync(TestContext.Current.CancellationToken);
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(TestContext.Current.CancellationToken);
        timeout.CancelAfter(TimeSpan.FromSeconds(120));
        try
        {
            await process.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw;
        }
        Assert.True(File.Exists(shot), $"chromium wrote no screenshot (exit {process.ExitCode}): {await stdout} {await stderr}");
        return await File.ReadAllBytesAsync(shot, TestContext.Current.CancellationToken);
    }

    [GeneratedRegex("src=\"([^\"]*)\"")]
    private static partial Regex SourceAttribute();

    [GeneratedRegex("src=\"data:[^\"]*\"")]
    private static partial Regex DataUri();

    [GeneratedRegex("<tr><td>")]
    private static partial Regex TableRow();
}
