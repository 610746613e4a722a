using MnasNet.Actors.Protocol;

namespace MnasNet.Actors.Timing;

/// <summary>The virtual timestamps a search on a virtual clock journals (see <see cref="Decisions.SearchDecider{TWorker}"/>).</summary>
public static class VirtualTime
{
    public static DateTimeOffset? At(ISearchEvent e) => e switch
    {
        SearchStarted x => x.Clock is null ? null : x.At,
        BatchSampled x => x.At,
        TrialDispatched x => x.At,
        TrialLeaseExpired x => x.At,
        TrialTrained x => x.At,
        LatencyMeasured x => x.At,
        TrialFailed x => x.At,
        PolicyUpdated x => x.At,
        SearchPaused x => x.At,
        SearchResumed x => x.At,
        SearchCompleted x => x.At,
        _ => null,
    };

    /// <summary>The latest virtual time in a journal of a virtual-clock search; null for a real-time one.</summary>
    public static DateTimeOffset? LastIn(IEnumerable<ISearchEvent> events)
    {
        var list = events.ToList();
        if (list.FirstOrDefault() is not SearchStarted { Clock: not null })
        {
            return null;
        }
        return list.Select(At).Where(a => a is not null).DefaultIfEmpty(null).Max();
    }
}
