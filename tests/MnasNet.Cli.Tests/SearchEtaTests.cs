using MnasNet.Cli.Commands.Search;

namespace MnasNet.Cli.Tests;

public sealed class SearchEtaTests
{
    private static ProgressSample At(double seconds, long done) => new(TimeSpan.FromSeconds(seconds), done);

    [Fact]
    public void Unknown_until_a_trial_completes_in_this_run_and_zero_when_done()
    {
        Assert.Null(SearchEta.Estimate([], 100, 8));
        Assert.Null(SearchEta.Estimate([At(0, 40)], 100, 8));
        Assert.Equal(TimeSpan.Zero, SearchEta.Estimate([At(0, 90), At(5, 100)], 100, 8));
        Assert.Equal("-", SearchEta.Show(null));
    }

    [Fact]
    public void Remaining_trials_at_the_measured_rate()
    {
        // 10 trials in 20 s → 2 s a trial; 90 left → 180 s.
        Assert.Equal(TimeSpan.FromSeconds(180), SearchEta.Estimate([At(0, 0), At(12, 6), At(20, 10)], 100, 50));
        // A resume: 40 trials were done before this run started, only the 10 of this run are timed.
        Assert.Equal(TimeSpan.FromSeconds(100), SearchEta.Estimate([At(0, 40), At(20, 50)], 100, 50));
        Assert.Equal("0:03:00", SearchEta.Show(TimeSpan.FromSeconds(180)));
        Assert.Equal("27:46:40", SearchEta.Show(TimeSpan.FromSeconds(100_000)));
    }

    [Fact]
    public void Follows_the_recent_pace_over_the_window()
    {
        // Slow start (10 trials in 100 s), then 10 trials in 10 s: a window of 10 trials sees only the fast ones.
        var samples = new[] { At(0, 0), At(100, 10), At(105, 15), At(110, 20) };
        Assert.Equal(TimeSpan.FromSeconds(80), SearchEta.Estimate(samples, 100, 10));
        Assert.Equal(TimeSpan.FromSeconds(440), SearchEta.Estimate(samples, 100, 100));
    }
}
