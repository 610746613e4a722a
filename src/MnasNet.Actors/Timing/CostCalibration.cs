using MnasNet.Actors.Journal;
using MnasNet.Actors.Protocol;
using MnasNet.Actors.Settings;
using MnasNet.SearchSpace;

namespace MnasNet.Actors.Timing;

/// <summary>
/// The cost model's constants fitted to a journal's durations: training seconds against MACs × images × epochs
/// (least squares: the slope gives trainerMacsPerSecond, the intercept trialOverheadSeconds, the relative residual
/// spread the noise), measurement seconds less the runs' own time (measureSetupSeconds), and the gap from a batch's
/// last result to the next batch's first dispatch (updateSeconds); with the worker counts the journal shows.
/// </summary>
/// <remarks>
/// MACs are the cost model's own: each trial's architecture at 224×224 and full width (what simulated training is
/// charged for), not the record's MACs, which for a real search are those of the proxy it trained (its width and
/// resolution, ~100× fewer). When training time does not grow with the MACs (slope ≤ 0: per-op overheads dominate,
/// or the load on the machine), MACs cost nothing (trainerMacsPerSecond = double.MaxValue) and the overhead is the
/// mean duration.
/// </remarks>
public sealed record CostFit(
    CostModelSettings Cost,
    long ImagesPerEpoch,
    int TrainSamples,
    int MeasureSamples,
    int UpdateSamples,
    double TrainR2,
    int Trainers,
    int Devices)
{
    /// <exception cref="SettingsException">The journal has no training with a duration to fit.</exception>
    public static CostFit Of(IReadOnlyList<JournalEntry> entries, SearchDefinition definition)
    {
        var images = definition.Simulated && definition.Simulation.Cost.Enabled ? definition.Simulation.Cost.ImagesPerEpoch : definition.Dataset.TrainSize ?? 50_000;
        var trained = entries.Select(e => e.Event).OfType<TrialTrained>().Where(t => t.Record.Seconds > 0 && t.Record.Macs > 0).ToList();
        if (trained.Count == 0)
        {
            throw new SettingsException("the journal has no trained trial with a duration and MACs: nothing to calibrate from");
        }
        var tokens = entries.Select(e => e.Event).OfType<BatchSampled>().SelectMany(b => b.Trials).GroupBy(t => t.TrialId).ToDictionary(g => g.Key, g => g.Last().Tokens);
        var space = MnasNetSearchSpace.Default;
        var x = trained.Select(t => (double)(tokens.TryGetValue(t.TrialId, out var tk) ? CostModel.Compute(space.Decode(tk), NetworkOptions.ImageNet).Macs : t.Record.Macs)
            * images * t.Record.Epochs).ToArray();
        var y = trained.Select(t => t.Record.Seconds).ToArray();
        var (slope, intercept, r2) = Line(x, y);
        if (slope <= 0)
        {
            (slope, intercept, r2) = (0, y.Average(), 0);
        }
        var predicted = x.Select(v => (slope * v) + intercept).ToArray();
        var relative = y.Select((v, i) => predicted[i] > 0 ? (v - predicted[i]) / predicted[i] : 0).ToArray();
        var noise = Math.Sqrt(relative.Select(r => r * r).Average());

        var measured = entries.Select(e => e.Event).OfType<LatencyMeasured>().Where(m => m.Record.WallSeconds > 0).ToList();
        var setup = measured.Count == 0 ? 0 : Math.Max(0, measured.Average(m => m.Record.WallSeconds - ((m.Record.Warmup + m.Record.Runs) * m.Record.MedianMs / 1000)));

        var gaps = UpdateGaps(entries);
        var dispatched = entries.Select(e => e.Event).OfType<TrialDispatched>().ToList();
        return new CostFit(new CostModelSettings
        {
            Enabled = true,
            ImagesPerEpoch = images,
            TrainerMacsPerSecond = slope > 0 ? 1 / slope : double.MaxValue,
            TrialOverheadSeconds = Math.Max(0, intercept),
            MeasureSetupSeconds = setup,
            UpdateSeconds = gaps.Count > 0 ? Math.Max(0, gaps.Average()) : 0,
            Noise = Math.Min(0.99, noise),
        }, images, trained.Count, measured.Count, gaps.Count, r2,
            Math.Max(1, dispatched.Where(d => d.Kind == WorkKind.Train).Select(d => d.Worker).Distinct().Count()),
            Math.Max(1, dispatched.Where(d => d.Kind == WorkKind.Measure).Select(d => d.Worker).Distinct().Count()));
    }

    /// <summary>Least squares y = a·x + b and R²; with one distinct x, the line through the origin and the mean.</summary>
    public static (double Slope, double Intercept, double R2) Line(IReadOnlyList<double> x, IReadOnlyList<double> y)
    {
        var (mx, my) = (x.Average(), y.Average());
        var sxx = x.Sum(v => (v - mx) * (v - mx));
        if (sxx <= 0 || x.Count < 2)
        {
            return (my / mx, 0, 0);
        }
        var sxy = x.Select((v, i) => (v - mx) * (y[i] - my)).Sum();
        var slope = sxy / sxx;
        var intercept = my - (slope * mx);
        var syy = y.Sum(v => (v - my) * (v - my));
        var residual = x.Select((v, i) => y[i] - ((slope * v) + intercept)).Sum(r => r * r);
        return (slope, intercept, syy > 0 ? 1 - (residual / syy) : 1);
    }

    /// <summary>Per policy update: its last result before it to the first dispatch after it (virtual time where journaled, else write time).</summary>
    private static List<double> UpdateGaps(IReadOnlyList<JournalEntry> entries)
    {
        var virtualClock = entries.FirstOrDefault()?.Event is SearchStarted { Clock: not null };
        DateTimeOffset? TimeOf(JournalEntry e) => virtualClock ? VirtualTime.At(e.Event)
            : e.WrittenAt is { } w ? new DateTimeOffset(DateTime.SpecifyKind(w, DateTimeKind.Utc)) : null;
        var gaps = new List<double>();
        DateTimeOffset? lastResult = null;
        var waiting = false;
        foreach (var e in entries)
        {
            switch (e.Event)
            {
                case TrialTrained or LatencyMeasured or TrialFailed or RewardComputed when !waiting:
                    lastResult = TimeOf(e) ?? lastResult;
                    break;
                case PolicyUpdated:
                    waiting = lastResult is not null;
                    break;
                case TrialDispatched when waiting && TimeOf(e) is { } at:
                    gaps.Add((at - lastResult!.Value).TotalSeconds);
                    waiting = false;
                    break;
                case SearchPaused or SearchResumed:
                    waiting = false;
                    lastResult = null;
                    break;
            }
        }
        return gaps;
    }

    /// <summary>
    /// The journaled search as a virtual one with these constants: simulated backends and latency, the same strategy,
    /// budget and seed, this many workers (the journal's by default) and leases long enough for its slowest work.
    /// </summary>
    public SearchSettings Predicting(SearchDefinition definition, NodeOptions node, double longestSeconds) => SettingsValidation.Validate(SearchSettings.Of(definition with
    {
        Mode = SearchMode.Simulated,
        Latency = definition.Latency with { Backend = "simulated", Target = "" },
        Simulation = definition.Simulation with { Clock = SimulationClock.Virtual, TrainSeconds = 0, MeasureSeconds = 0, Cost = Cost },
    }, node with
    {
        Workers = node.Workers with { Trainers = Trainers, Devices = Devices, LeaseTimeoutSeconds = Math.Max(node.Workers.LeaseTimeoutSeconds, (10 * longestSeconds) + 60) },
    }));
}
