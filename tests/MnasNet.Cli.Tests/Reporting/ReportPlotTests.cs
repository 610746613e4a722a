using MnasNet.Cli.Reporting;
using ScottPlot;

namespace MnasNet.Cli.Tests.Reporting;

public sealed class ReportPlotTests
{
    private const int MinimumTextPixels = 30;

    /// <summary>The bands of a plot where only text is drawn: title above the frame, x label under the ticks, y label left of them.</summary>
    private static IReadOnlyList<string> BandsWithoutText(byte[] png, PlotFrame frame)
    {
        using var pixels = new PlotPixels(png);
        Assert.Equal((frame.Width, frame.Height), (pixels.Width, pixels.Height));
        var bands = new Dictionary<string, int>
        {
            ["title"] = pixels.Ink(frame.Left, 0, frame.Width - frame.Right, frame.Top - 6),
            ["x label"] = pixels.Ink(frame.Left, frame.Height - frame.Bottom + 26, frame.Width - frame.Right, frame.Height),
            ["y label"] = pixels.Ink(0, frame.Top, frame.Left - 46, frame.Height - frame.Bottom),
        };
        return bands.Where(b => b.Value < MinimumTextPixels).Select(b => b.Key).ToList();
    }

    private static IEnumerable<(string Name, Plot Plot, PlotFrame Frame)> EveryPlot()
    {
        var data = ReportSamples.MultiTargetWithFinalists();
        yield return ("rewards", ReportPlots.Rewards(data), PlotFrame.Standard);
        yield return ("pareto", ReportPlots.Pareto(data), PlotFrame.WithColorBar);
        yield return ("latency per target", ReportPlots.LatencyPerTarget(data)!, PlotFrame.Standard);
        yield return ("proxy vs final", ReportPlots.ProxyVsFinal(data)!, PlotFrame.Standard);
    }

    [Fact]
    public void Every_plot_has_text_where_its_title_and_axis_labels_are()
    {
        foreach (var (name, plot, frame) in EveryPlot())
        {
            var missing = BandsWithoutText(ReportPlots.Png(plot, frame), frame);
            Assert.True(missing.Count == 0, $"{name}: no text in {string.Join(", ", missing)}");
        }
    }

    [Fact]
    public void The_text_check_fails_on_the_same_plots_with_their_text_removed()
    {
        foreach (var (name, plot, frame) in EveryPlot())
        {
            plot.Title("");
            plot.XLabel("");
            plot.YLabel("");
            plot.Axes.Bottom.TickLabelStyle.IsVisible = false;
            plot.Axes.Left.TickLabelStyle.IsVisible = false;
            Assert.True(BandsWithoutText(ReportPlots.Png(plot, frame), frame).Count == 3, name);
        }
    }

    [Fact]
    public void The_text_check_fails_when_the_font_cannot_be_found_as_the_plots_were_before()
    {
        // What every report plot looked like before the font was loaded from a file: the native SkiaSharp build has
        // no fontconfig, a font name it cannot resolve gives an empty typeface, and no text is drawn at all.
        foreach (var (name, plot, frame) in EveryPlot())
        {
            Assert.True(BandsWithoutText(ReportPlots.Png(plot, frame, "No Such Font Family"), frame).Count == 3, name);
        }
    }

    [Fact]
    public void Pareto_plot_marks_the_latency_target_and_colours_the_first_and_last_batch_apart()
    {
        var data = ReportSamples.Search(batches: 4);
        var plot = ReportPlots.Pareto(data);
        var png = ReportPlots.Png(plot, PlotFrame.WithColorBar);
        using var pixels = new PlotPixels(png);
        var frame = PlotFrame.WithColorBar;
        var x = (int)Math.Round(plot.GetPixel(new Coordinates(data.Targets[0].TargetMs, 0)).X);
        Assert.InRange(x, frame.Left + 1, frame.Width - frame.Right - 1);
        static bool DimGray(SkiaSharp.SKColor c) => Math.Abs(c.Red - 105) < 20 && Math.Abs(c.Green - 105) < 20 && Math.Abs(c.Blue - 105) < 20;
        // A dashed line: a good part of the data area's height, in the column at T.
        Assert.True(pixels.Count(x - 1, frame.Top, x + 2, frame.Height - frame.Bottom, DimGray) > (frame.Height - frame.Bottom - frame.Top) / 3);
        // Markers of batch 0 (Viridis' dark purple) and of batch 3 (its yellow) inside the data area.
        var dataArea = (frame.Left, frame.Top, frame.Width - frame.Right, frame.Height - frame.Bottom);
        static Func<SkiaSharp.SKColor, bool> Near(Color target) => c => Math.Abs(c.Red - target.R) + Math.Abs(c.Green - target.G) + Math.Abs(c.Blue - target.B) < 40;
        var viridis = new ScottPlot.Colormaps.Viridis();
        Assert.True(pixels.Count(dataArea.Left, dataArea.Top, dataArea.Item3, dataArea.Item4, Near(viridis.GetColor(0))) > 20);
        Assert.True(pixels.Count(dataArea.Left, dataArea.Top, dataArea.Item3, dataArea.Item4, Near(viridis.GetColor(1))) > 20);
        Assert.True(pixels.Count(dataArea.Left, dataArea.Top, dataArea.Item3, dataArea.Item4, Near(Colors.OrangeRed)) > 20, "the Pareto front is drawn");
    }

    [Fact]
    public void Latency_per_target_and_proxy_vs_final_are_drawn_only_when_their_data_exists()
    {
        var single = ReportSamples.Search();
        Assert.Null(ReportPlots.LatencyPerTarget(single));
        Assert.Null(ReportPlots.ProxyVsFinal(single));
        Assert.Equal([ReportPlots.RewardsFile, ReportPlots.ParetoFile], ReportPlots.RenderAll(single).Select(i => i.FileName));

        var full = ReportSamples.MultiTargetWithFinalists();
        Assert.Equal([ReportPlots.RewardsFile, ReportPlots.ParetoFile, ReportPlots.LatencyPerTargetFile, ReportPlots.ProxyVsFinalFile],
            ReportPlots.RenderAll(full).Select(i => i.FileName));
    }

    [Fact]
    public void Proxy_vs_final_reports_the_kendall_tau_of_the_finalists()
    {
        // Proxy ranks 1,3,2,4 against final ranks 1,2,3,4: 5 concordant pairs, 1 discordant → τ = 4/6.
        var data = ReportSamples.MultiTargetWithFinalists();
        Assert.Equal(4.0 / 6.0, ReportPlots.KendallTau(data.Finalists)!.Value, 12);
        Assert.Contains("Kendall tau 0.6667", ReportPlots.ProxyVsFinal(data)!.Axes.Title.Label.Text);
        Assert.Null(ReportPlots.KendallTau([data.Finalists[0]]));
    }
}
