using MnasNet.Cli.Reporting;
using ScottPlot;

namespace MnasNet.Cli.Commands.Plan;

/// <summary>Makespan (hours) against trainer count, one line per device count, with the report's font and frame.</summary>
public static class PlanPlot
{
    public static Plot Plot(IReadOnlyList<PlanRow> rows, string title)
    {
        var plot = new Plot();
        var palette = new ScottPlot.Palettes.Category10();
        var i = 0;
        foreach (var group in rows.GroupBy(r => r.Devices).OrderBy(g => g.Key))
        {
            var points = group.OrderBy(r => r.Trainers).ToList();
            var line = plot.Add.Scatter(points.Select(r => (double)r.Trainers).ToArray(), points.Select(r => r.MakespanSeconds / 3600).ToArray(), palette.GetColor(i++));
            line.LegendText = $"{group.Key} device{(group.Key == 1 ? "" : "s")}";
            line.MarkerSize = 7;
        }
        plot.ShowLegend(Alignment.UpperRight);
        plot.Title($"{title}: makespan vs trainers (virtual time)");
        plot.XLabel("trainers");
        plot.YLabel("makespan (hours)");
        return plot;
    }

    public static byte[] Png(IReadOnlyList<PlanRow> rows, string title) => ReportPlots.Png(Plot(rows, title), PlotFrame.Standard);
}
