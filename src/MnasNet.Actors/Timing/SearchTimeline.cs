using MnasNet.Actors.Journal;
using MnasNet.Actors.Protocol;

namespace MnasNet.Actors.Timing;

/// <summary>
/// How long a search took: on its clock (<see cref="ElapsedSeconds"/>: virtual seconds under a virtual clock, wall
/// seconds otherwise) and in wall time (<see cref="WallSeconds"/>: first to last journal write, pauses included).
/// </summary>
public sealed record SearchTiming(string Clock, double? ElapsedSeconds, double? WallSeconds)
{
    public const string RealClock = "real";

    public static SearchTiming Of(IReadOnlyList<JournalEntry> entries)
    {
        var written = entries.Select(e => e.WrittenAt).OfType<DateTime>().ToList();
        double? wall = written.Count > 0 ? (written.Max() - written.Min()).TotalSeconds : null;
        if (entries.FirstOrDefault()?.Event is not SearchStarted started)
        {
            return new SearchTiming(RealClock, null, wall);
        }
        if (started.Clock is { } clock)
        {
            var last = VirtualTime.LastIn(entries.Select(e => e.Event));
            return new SearchTiming(clock, last is { } l ? (l - started.At).TotalSeconds : null, wall);
        }
        double? elapsed = written.Count > 0 ? (new DateTimeOffset(DateTime.SpecifyKind(written.Max(), DateTimeKind.Utc)) - started.At).TotalSeconds : null;
        return new SearchTiming(RealClock, elapsed, wall);
    }
}

/// <summary>
/// Where the time of a virtual-clock search went, from its journal's virtual timestamps: busy seconds of the trainers
/// and devices (dispatch to result or lease expiry), queue waits (ready — the batch sampled — to first dispatch), and
/// the work lost to lease expiries. Worker counts are node options, not journaled: the caller gives them.
/// </summary>
public sealed record SearchTimeline(
    double MakespanSeconds,
    long Trials,
    double TrainerBusySeconds,
    double DeviceBusySeconds,
    double MeanTrainQueueSeconds,
    double MeanMeasureQueueSeconds,
    int LeaseExpiries,
    double LostSeconds)
{
    public double TrialsPerHour => MakespanSeconds > 0 ? Trials * 3600 / MakespanSeconds : 0;

    public double MeanQueueSeconds => (MeanTrainQueueSeconds + MeanMeasureQueueSeconds) / 2;

    public double TrainerUtilisation(int trainers) => MakespanSeconds > 0 ? TrainerBusySeconds / (trainers * MakespanSeconds) : 0;

    public double DeviceUtilisation(int devices) => MakespanSeconds > 0 ? DeviceBusySeconds / (devices * MakespanSeconds) : 0;

    /// <summary>The busier pool, or "batch barrier" when neither is busy most of the time (trials wait for their batch's last one and the update).</summary>
    public string Bottleneck(int trainers, int devices)
    {
        var (t, d) = (TrainerUtilisation(trainers), DeviceUtilisation(devices));
        return Math.Max(t, d) < 0.6 ? "batch barrier" : t >= d ? "trainers" : "devices";
    }

    /// <exception cref="ArgumentException">The journal has no virtual timestamps (a real-time search).</exception>
    public static SearchTimeline Of(IReadOnlyList<ISearchEvent> events)
    {
        if (events.FirstOrDefault() is not SearchStarted { Clock: not null } started)
        {
            throw new ArgumentException("the journal is not of a virtual-clock search: it has no virtual timestamps", nameof(events));
        }
        var end = VirtualTime.LastIn(events) ?? started.At;
        var ready = new Dictionary<long, DateTimeOffset>();
        var open = new Dictionary<(long, WorkKind, int, int), DateTimeOffset>();
        var busy = new Dictionary<WorkKind, double> { [WorkKind.Train] = 0, [WorkKind.Measure] = 0 };
        var waits = new Dictionary<WorkKind, List<double>> { [WorkKind.Train] = [], [WorkKind.Measure] = [] };
        var (expiries, lost) = (0, 0.0);
        void Close(long trial, WorkKind kind, int target, int attempt, DateTimeOffset? at, bool expired)
        {
            if (at is { } a && open.Remove((trial, kind, target, attempt), out var from))
            {
                busy[kind] += (a - from).TotalSeconds;
                lost += expired ? (a - from).TotalSeconds : 0;
            }
        }
        foreach (var e in events)
        {
            switch (e)
            {
                case BatchSampled { At: { } at } b:
                    foreach (var t in b.Trials)
                    {
                        ready[t.TrialId] = at;
                    }
                    break;
                case TrialDispatched { At: { } at } d:
                    open[(d.TrialId, d.Kind, d.Target, d.Attempt)] = at;
                    if (d.Attempt == 1 && ready.TryGetValue(d.TrialId, out var r))
                    {
                        waits[d.Kind].Add((at - r).TotalSeconds);
                    }
                    break;
                case TrialTrained t: Close(t.TrialId, WorkKind.Train, 0, t.Attempt, t.At, false); break;
                case LatencyMeasured m: Close(m.TrialId, WorkKind.Measure, m.Target, m.Attempt, m.At, false); break;
                case TrialFailed f: Close(f.TrialId, f.Kind, f.Target, f.Attempt, f.At, false); break;
                case TrialLeaseExpired x:
                    expiries++;
                    Close(x.TrialId, x.Kind, x.Target, x.Attempt, x.At, true);
                    break;
            }
        }
        return new SearchTimeline((end - started.At).TotalSeconds, events.OfType<TrialTrained>().Count(), busy[WorkKind.Train], busy[WorkKind.Measure],
            waits[WorkKind.Train].DefaultIfEmpty(0).Average(), waits[WorkKind.Measure].DefaultIfEmpty(0).Average(), expiries, lost);
    }
}
