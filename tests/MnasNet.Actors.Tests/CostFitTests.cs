using MnasNet.Actors.Journal;
using MnasNet.Actors.Protocol;
using MnasNet.Actors.Settings;
using MnasNet.Actors.Timing;
using MnasNet.SearchSpace;

namespace MnasNet.Actors.Tests;

/// <summary>
/// <see cref="CostFit"/> on journals shaped like a real search's: each trial's record carries the MACs of the proxy
/// it trained (small width and resolution), while the cost model charges the architecture at 224×224.
/// </summary>
public sealed class CostFitTests
{
    private static readonly MnasNetSearchSpace Space = MnasNetSearchSpace.Default;

    private static long ImageNetMacs(IReadOnlyList<int> tokens) => CostModel.Compute(Space.Decode(tokens), NetworkOptions.ImageNet).Macs;

    /// <summary>A real-mode journal: one batch of <paramref name="count"/> random architectures, each trained for the seconds given.</summary>
    private static List<JournalEntry> Journal(int count, Func<IReadOnlyList<int>, double> seconds)
    {
        var random = new SeededRandom(11);
        var trials = Enumerable.Range(0, count).Select(i =>
        {
            var tokens = Space.Sample(random);
            return new SampledTrial(i, tokens, -1, Space.Decode(tokens).Id, (ulong)i);
        }).ToList();
        var entries = new List<JournalEntry> { new(1, "batch-sampled.v1", new BatchSampled(0, "v0", trials)) };
        foreach (var t in trials)
        {
            // The proxy's MACs: unrelated to the architecture's cost at 224×224 (here: reversed in order).
            var proxyMacs = 5_000_000 - ImageNetMacs(t.Tokens) / 100;
            entries.Add(new(entries.Count + 1, "trial-trained.v1", new TrialTrained(t.TrialId, 1, "trainer-0",
                new TrainingRecord("torchsharp", 0.5, null, [], 2, seconds(t.Tokens), 0, 0, proxyMacs, null, t.Seed))));
        }
        return entries;
    }

    private static SearchDefinition RealDefinition => new SearchSettings { Dataset = new DatasetSettings { TrainSize = 1000 } }.Definition;

    [Fact]
    public void Training_seconds_are_fitted_against_the_architectures_macs_at_224_not_the_proxys()
    {
        const double rate = 4e12;
        const double overhead = 9;
        // 2 epochs of 1,000 images at `rate` MAC/s plus the overhead, charged on the 224×224 MACs.
        var fit = CostFit.Of(Journal(12, tokens => (ImageNetMacs(tokens) * 1000.0 * 2 / rate) + overhead), RealDefinition);

        Assert.Equal(rate, fit.Cost.TrainerMacsPerSecond, rate * 1e-9);
        Assert.Equal(overhead, fit.Cost.TrialOverheadSeconds, 1e-9);
        Assert.Equal(1, fit.TrainR2, 1e-9);
        Assert.Equal(1000, fit.ImagesPerEpoch);
    }

    [Fact]
    public void Training_time_that_does_not_grow_with_macs_is_all_overhead()
    {
        // Slower for cheaper architectures: a line would have a negative slope (MACs that save time).
        var entries = Journal(10, tokens => 30 - (ImageNetMacs(tokens) / 1e8));
        var fit = CostFit.Of(entries, RealDefinition);

        Assert.Equal(double.MaxValue, fit.Cost.TrainerMacsPerSecond);
        var mean = entries.Select(e => e.Event).OfType<TrialTrained>().Average(t => t.Record.Seconds);
        Assert.Equal(mean, fit.Cost.TrialOverheadSeconds, 1e-9);
        Assert.Equal(0, fit.TrainR2);
        Assert.True(fit.Cost.Noise > 0);
    }
}
