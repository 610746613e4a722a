namespace MnasNet.Actors.State;

/// <summary>The accuracy–latency Pareto front over every target platform: the one definition status, report and plots use.</summary>
public static class ParetoFront
{
    /// <summary>
    /// Items not dominated in (higher accuracy, lower latency on every target platform), sorted by the first target's
    /// latency; of two items that tie on everything, the first in that order. Items missing a figure are left out.
    /// </summary>
    public static IReadOnlyList<T> Of<T>(IEnumerable<T> items, Func<T, double?> accuracy, Func<T, IReadOnlyList<double?>> latencies)
    {
        var candidates = items
            .Select(t => (Item: t, Accuracy: accuracy(t), Latencies: latencies(t)))
            .Where(c => c.Accuracy is not null && c.Latencies.Count > 0 && c.Latencies.All(l => l is not null))
            .OrderBy(c => c.Latencies[0]).ThenByDescending(c => c.Accuracy).ToList();
        static bool NoWorse((T, double? A, IReadOnlyList<double?> L) u, (T, double? A, IReadOnlyList<double?> L) t) =>
            u.A >= t.A && u.L.Zip(t.L, (a, b) => a <= b).All(x => x);
        static bool Better((T, double? A, IReadOnlyList<double?> L) u, (T, double? A, IReadOnlyList<double?> L) t) =>
            u.A > t.A || u.L.Zip(t.L, (a, b) => a < b).Any(x => x);
        return candidates
            .Where((t, i) => !candidates.Where((u, j) => j != i && NoWorse(u, t) && (j < i || Better(u, t))).Any())
            .Select(c => c.Item).ToList();
    }
}
