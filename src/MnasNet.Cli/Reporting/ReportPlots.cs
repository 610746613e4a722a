using MnasNet.Latency.Measurement;
using ScottPlot;

namespace MnasNet.Cli.Reporting;

/// <summary>One rendered plot: its file name, a caption for the HTML page, the PNG bytes.</summary>
public sealed record ReportImage(string FileName, string Caption, byte[] Png);

/// <summary>
/// The image size and the fixed margins around the data area. Fixed (not measured from the text) so that the
/// title, axis labels and tick labels always sit in the same bands: the text check of the tests relies on it.
/// </summary>
public sealed record PlotFrame(int Width, int Height, int Left, int Right, int Bottom, int Top)
{
    public static PlotFrame Standard { get; } = new(900, 560, Left: 90, Right: 40, Bottom: 70, Top: 50);

    /// <summary>With room for the colour bar on the right.</summary>
    public static PlotFrame WithColorBar { get; } = Standard with { Right = 130 };
}

/// <summary>The report's plots, each a pure function of <see cref="ReportData"/>.</summary>
public static class ReportPlots
{
    public const string RewardsFile = "rewards.png";
    public const string ParetoFile = "pareto.png";
    public const string LatencyPerTargetFile = "latency-per-target.png";
    public const string ProxyVsFinalFile = "proxy-vs-final.png";

    private static readonly Color Failed = Colors.Red;
    private static readonly Color Best = Colors.Black;
    private static readonly Color Front = Colors.OrangeRed;
    private static readonly Color Target = Colors.DimGray;

    /// <summary>Every plot that applies to the data: the two always, latency per target with several targets, proxy vs final with finalists.</summary>
    public static IReadOnlyList<ReportImage> RenderAll(ReportData data)
    {
        var images = new List<ReportImage>
        {
            new(RewardsFile, "Reward per trial and the best so far", Png(Rewards(data), PlotFrame.Standard)),
            new(ParetoFile, "Accuracy vs latency, coloured by batch, with the Pareto front and the latency target", Png(Pareto(data), PlotFrame.WithColorBar)),
        };
        if (LatencyPerTarget(data) is { } perTarget)
        {
            images.Add(new(LatencyPerTargetFile, "Latency of each trial on each target platform", Png(perTarget, PlotFrame.Standard)));
        }
        if (ProxyVsFinal(data) is { } fidelity)
        {
            images.Add(new(ProxyVsFinalFile, "Proxy accuracy (search) vs final accuracy (full training) of the finalists", Png(fidelity, PlotFrame.Standard)));
        }
        return images;
    }

    /// <summary>Renders with the report font and the fixed frame.</summary>
    public static byte[] Png(Plot plot, PlotFrame frame)
    {
        PlotFont.Ensure();
        return Png(plot, frame, PlotFont.Name);
    }

    /// <summary>Renders with the named font (tests render with one that does not exist, as the plots were before).</summary>
    internal static byte[] Png(Plot plot, PlotFrame frame, string fontName)
    {
        plot.Font.Set(fontName);
        plot.Legend.FontName = fontName;
        plot.Legend.SetBestFontOnEachRender = false;
        plot.Layout.Fixed(new PixelPadding(frame.Left, frame.Right, frame.Bottom, frame.Top));
        return plot.GetImageBytes(frame.Width, frame.Height, ImageFormat.Png);
    }

    public static Plot Rewards(ReportData data)
    {
        var plot = new Plot();
        var ok = data.Rewarded.Where(t => !t.Failed).ToList();
        var failed = data.Rewarded.Where(t => t.Failed).ToList();
        if (ok.Count > 0)
        {
            var points = plot.Add.ScatterPoints(ok.Select(t => (double)t.TrialId).ToArray(), ok.Select(t => t.Reward!.Value).ToArray(), Colors.SteelBlue);
            points.MarkerSize = 5;
            points.LegendText = "reward";
        }
        if (failed.Count > 0)
        {
            var f = plot.Add.Markers(failed.Select(t => (double)t.TrialId).ToArray(), failed.Select(t => t.Reward!.Value).ToArray(), MarkerShape.Eks, 6, Failed);
            f.LegendText = "failed (reward 0)";
        }
        var best = data.RunningBest();
        if (best.Count > 0)
        {
            var line = plot.Add.ScatterLine(best.Select(b => (double)b.TrialId).ToArray(), best.Select(b => b.Best).ToArray(), Best);
            line.LineWidth = 2;
            line.ConnectStyle = ConnectStyle.StepHorizontal;
            line.LegendText = "best so far";
            plot.ShowLegend(Alignment.LowerRight);
        }
        plot.Title($"search {data.SearchId}: reward per trial");
        plot.XLabel("trial");
        plot.YLabel("reward");
        return plot;
    }

    public static Plot Pareto(ReportData data)
    {
        var plot = new Plot();
        var measured = data.Measured.ToList();
        if (measured.Count > 0)
        {
            var batches = new BatchColorAxis(measured.Min(t => t.Batch), measured.Max(t => t.Batch));
            foreach (var group in measured.GroupBy(t => t.Batch))
            {
                var m = plot.Add.Markers(group.Select(t => t.LatencyMs!.Value).ToArray(), group.Select(t => t.Accuracy!.Value).ToArray(), MarkerShape.FilledCircle, 6, batches.ColorOf(group.Key));
                m.LegendText = "";
            }
            var bar = plot.Add.ColorBar(batches);
            bar.Label = "batch";
            bar.Axis.TickGenerator = new ScottPlot.TickGenerators.NumericAutomatic { IntegerTicksOnly = true };
            var front = data.ParetoFront();
            var line = plot.Add.Scatter(front.Select(t => t.LatencyMs!.Value).ToArray(), front.Select(t => t.Accuracy!.Value).ToArray(), Front);
            line.LineWidth = 2;
            line.MarkerSize = 9;
            line.MarkerShape = MarkerShape.OpenCircle;
            line.ConnectStyle = ConnectStyle.StepHorizontal;
            line.LegendText = $"Pareto front ({front.Count} trials)";
        }
        if (data.Targets.Count > 0)
        {
            var target = data.Targets[0];
            var t = plot.Add.VerticalLine(target.TargetMs, 2, Target, LinePattern.Dashed);
            t.LegendText = $"latency target T = {Format.Ms(target.TargetMs)} ms" + (data.MultiTarget ? $" ({target.Platform})" : "");
        }
        if (measured.Count > 0 || data.Targets.Count > 0)
        {
            plot.ShowLegend(Alignment.LowerRight);
        }
        plot.Title($"search {data.SearchId}: accuracy vs latency" + (data.MultiTarget ? $" on {data.Targets[0].Platform}" : ""));
        plot.XLabel("latency (ms)");
        plot.YLabel("accuracy");
        return plot;
    }

    /// <summary>Each target's latency per trial with its T; null for a single-target search.</summary>
    public static Plot? LatencyPerTarget(ReportData data)
    {
        if (!data.MultiTarget)
        {
            return null;
        }
        var plot = new Plot();
        var palette = new ScottPlot.Palettes.Category10();
        for (var i = 0; i < data.Targets.Count; i++)
        {
            var index = i;
            var measured = data.Trials.Where(t => t.TargetLatenciesMs.Count > index && t.TargetLatenciesMs[index] is not null).ToList();
            var color = palette.GetColor(i);
            if (measured.Count > 0)
            {
                var points = plot.Add.ScatterPoints(measured.Select(t => (double)t.TrialId).ToArray(), measured.Select(t => t.TargetLatenciesMs[index]!.Value).ToArray(), color);
                points.MarkerSize = 5;
                points.LegendText = data.Targets[i].Platform;
            }
            var target = plot.Add.HorizontalLine(data.Targets[i].TargetMs, 2, color, LinePattern.Dashed);
            target.LegendText = $"T = {Format.Ms(data.Targets[i].TargetMs)} ms";
        }
        plot.ShowLegend(Alignment.UpperRight);
        plot.Title($"search {data.SearchId}: latency per target");
        plot.XLabel("trial");
        plot.YLabel("latency (ms)");
        return plot;
    }

    /// <summary>Proxy vs final accuracy of the finalists with the Kendall τ between them; null without finalists.</summary>
    public static Plot? ProxyVsFinal(ReportData data)
    {
        if (data.Finalists.Count == 0)
        {
            return null;
        }
        var plot = new Plot();
        var f = data.Finalists;
        var points = plot.Add.ScatterPoints(f.Select(x => x.ProxyAccuracy).ToArray(), f.Select(x => x.FinalAccuracy).ToArray(), Colors.SteelBlue);
        points.MarkerSize = 8;
        points.LegendText = "finalist";
        foreach (var x in f)
        {
            var label = plot.Add.Text($"#{x.TrialId}", x.ProxyAccuracy, x.FinalAccuracy);
            label.LabelFontSize = 11;
            label.OffsetX = 6;
        }
        plot.ShowLegend(Alignment.LowerRight);
        plot.Title($"search {data.SearchId}: proxy vs final accuracy" + (KendallTau(f) is { } tau ? $", Kendall tau {Format.Score(tau)}" : ""));
        plot.XLabel("proxy accuracy (search)");
        plot.YLabel("final accuracy (full training)");
        return plot;
    }

    /// <summary>Kendall's τ-b between proxy and final accuracy; null with fewer than two finalists or when undefined.</summary>
    public static double? KendallTau(IReadOnlyList<Finalist> finalists)
    {
        if (finalists.Count < 2)
        {
            return null;
        }
        var tau = Statistics.KendallTauB(finalists.Select(x => x.ProxyAccuracy).ToList(), finalists.Select(x => x.FinalAccuracy).ToList());
        return double.IsFinite(tau) ? tau : null;
    }

    /// <summary>Colours batches along Viridis; the colour bar reads its range.</summary>
    private sealed class BatchColorAxis(int first, int last) : IHasColorAxis
    {
        public IColormap Colormap { get; set; } = new ScottPlot.Colormaps.Viridis();

        public ScottPlot.Range GetRange() => new(first, Math.Max(last, first + 1));

        public Color ColorOf(int batch) => Colormap.GetColor(last == first ? 0.5 : (batch - first) / (double)(last - first));
    }
}
