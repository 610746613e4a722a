using System.Data.Common;
using System.Diagnostics;
using System.Globalization;
using MnasNet.Actors.Hosting;
using MnasNet.Actors.Journal;
using MnasNet.Actors.Protocol;
using MnasNet.Actors.Settings;
using MnasNet.Cli.Reporting;
using Spectre.Console;

namespace MnasNet.Cli.Commands.Search;

/// <summary>How many trials were done at a moment of this run (time since the run started).</summary>
public readonly record struct ProgressSample(TimeSpan Elapsed, long TrialsDone);

/// <summary>The time left of a search, from the pace at which its trials were measured to finish in this run.</summary>
public static class SearchEta
{
    /// <summary>
    /// Remaining trials divided by the rate over the last <paramref name="windowTrials"/> completed trials (so a run
    /// that speeds up or slows down is followed). Null until a trial has completed in this run; zero when done.
    /// Trials done before the run (a resume) do not count: their time is not in the samples.
    /// </summary>
    public static TimeSpan? Estimate(IReadOnlyList<ProgressSample> samples, long trialBudget, int windowTrials)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(windowTrials, 1);
        if (samples.Count == 0)
        {
            return null;
        }
        var last = samples[^1];
        if (last.TrialsDone >= trialBudget)
        {
            return TimeSpan.Zero;
        }
        var first = samples[0];
        for (var i = samples.Count - 1; i >= 0 && last.TrialsDone - samples[i].TrialsDone <= windowTrials; i--)
        {
            first = samples[i];
        }
        var trials = last.TrialsDone - first.TrialsDone;
        var seconds = (last.Elapsed - first.Elapsed).TotalSeconds;
        if (trials <= 0 || seconds <= 0)
        {
            return null;
        }
        return TimeSpan.FromSeconds(Math.Round((trialBudget - last.TrialsDone) * seconds / trials));
    }

    /// <summary>h:mm:ss, or "-" when unknown.</summary>
    public static string Show(TimeSpan? eta) => eta is { } t ? $"{(int)t.TotalHours}:{t:mm\\:ss}" : "-";
}

/// <summary>Collects progress samples (one per change of the trial count) and answers the ETA.</summary>
internal sealed class ProgressTracker(long trialBudget, int windowTrials)
{
    private readonly Stopwatch _clock = Stopwatch.StartNew();
    private readonly List<ProgressSample> _samples = [];
    private readonly Lock _gate = new();

    public TimeSpan Elapsed => _clock.Elapsed;

    public void Observe(SearchProgress p)
    {
        lock (_gate)
        {
            if (_samples.Count == 0 || _samples[^1].TrialsDone != p.TrialsDone)
            {
                _samples.Add(new ProgressSample(_clock.Elapsed, p.TrialsDone));
            }
        }
    }

    public TimeSpan? Eta()
    {
        lock (_gate)
        {
            return SearchEta.Estimate(_samples, trialBudget, windowTrials);
        }
    }

    public static ProgressTracker For(SearchSettings settings) => new(settings.TrialBudget, Math.Max(8, 2 * settings.BatchSize));
}

/// <summary>The plain progress line, once per batch of completed trials (single-node and cluster searches alike).</summary>
internal sealed class ProgressLog(SearchSettings settings, Serilog.ILogger log)
{
    private readonly ProgressTracker _tracker = ProgressTracker.For(settings);
    private readonly long _step = Math.Max(1, settings.BatchSize);
    private long _lastPrinted = -1;

    public void Observe(SearchProgress p)
    {
        _tracker.Observe(p);
        if (p.TrialsDone / _step != _lastPrinted / _step)
        {
            _lastPrinted = p.TrialsDone;
            log.Information("progress {TrialsDone}/{TrialBudget} trials, best reward {BestReward:F4} (trial {BestTrial}), ETA {Eta}",
                p.TrialsDone, p.TrialBudget, p.BestReward, p.BestTrial, SearchEta.Show(_tracker.Eta()));
        }
    }
}

/// <summary>
/// The interactive view of a running search, single-node or on a cluster: the current Pareto front with a progress caption
/// (trials, batch, best, in flight, elapsed, ETA), read from the search's journal every second.
/// </summary>
internal static class LiveView
{
    /// <param name="run">Starts the search, reporting progress to the callback it is given.</param>
    /// <param name="readJournal">Reads the search's events (SQLite file or the cluster's PostgreSQL journal).</param>
    /// <param name="note">Extra caption text (e.g. the cluster members seen), or null.</param>
    public static async Task<SearchOutcome> RunAsync(SearchSettings settings, Func<Action<SearchProgress>, Task<SearchOutcome>> run,
        Func<IReadOnlyList<JournalEntry>> readJournal, Func<string?>? note = null)
    {
        SearchProgress? last = null;
        var tracker = ProgressTracker.For(settings);
        var table = new Table().Expand().Title($"search {settings.Id}: Pareto front (accuracy vs latency)").AddColumns("trial", "accuracy", "latency (ms)", "reward");
        return await AnsiConsole.Live(table).StartAsync(async ctx =>
        {
            var search = run(p =>
            {
                last = p;
                tracker.Observe(p);
            });
            while (!search.IsCompleted)
            {
                await Task.WhenAny(search, Task.Delay(1000, CancellationToken.None));
                Render(table, settings, readJournal, last, tracker, note?.Invoke());
                ctx.Refresh();
            }
            return await search;
        });
    }

    /// <summary>The caption under the Pareto table.</summary>
    public static string Caption(SearchSettings settings, SearchProgress? p, TimeSpan elapsed, TimeSpan? eta, string? note)
    {
        var c = CultureInfo.InvariantCulture;
        var best = p?.BestReward is { } b ? Format.Score(b) + (p.BestTrial is { } t ? $" (#{t.ToString(c)})" : "") : "-";
        return string.Create(c,
            $"{p?.TrialsDone ?? 0}/{settings.TrialBudget} trials · batch {(p?.Batch ?? -1) + 1}/{settings.Batches} · best {best} · in flight {p?.InFlight ?? 0} · {elapsed:hh\\:mm\\:ss} · ETA {SearchEta.Show(eta)}{(note is null ? "" : " · " + note)}");
    }

    private static void Render(Table table, SearchSettings settings, Func<IReadOnlyList<JournalEntry>> readJournal, SearchProgress? p, ProgressTracker tracker, string? note)
    {
        var c = CultureInfo.InvariantCulture;
        table.Rows.Clear();
        try
        {
            foreach (var trial in ReportDataAdapter.FromJournal(settings.Id, readJournal()).ParetoFront().Take(12))
            {
                table.AddRow(trial.TrialId.ToString(c), Format.Score(trial.Accuracy), Format.Ms(trial.LatencyMs), Format.Score(trial.Reward));
            }
        }
        catch (Exception e) when (e is IOException or DbException or JournalUnavailableException)
        {
            // The journal is being written; the next refresh reads it again.
        }
        table.Caption(Caption(settings, p, tracker.Elapsed, tracker.Eta(), note));
    }
}
