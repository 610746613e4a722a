using MnasNet.Actors.Protocol;
using MnasNet.Actors.Settings;
using MnasNet.Cli.Commands.Search;
using Serilog.Core;
using Serilog.Events;

namespace MnasNet.Cli.Tests;

public sealed class ProgressLogTests
{
    private sealed class Collect : ILogEventSink
    {
        public List<LogEvent> Events { get; } = [];

        public void Emit(LogEvent logEvent) => Events.Add(logEvent);
    }

    [Fact]
    public void The_progress_line_rounds_the_reward_once_per_batch_and_its_property_keeps_every_digit()
    {
        var sink = new Collect();
        using var logger = new Serilog.LoggerConfiguration().WriteTo.Sink(sink).CreateLogger();
        var settings = new SearchSettings { BatchSize = 4, Batches = 3 };
        var log = new ProgressLog(settings, logger);
        foreach (var done in new long[] { 0, 1, 2, 3, 4, 5, 8 })
        {
            log.Observe(new SearchProgress("s", "running", done, 12, (int)(done / 4), 0.7514569720127581, 3, 1, done));
        }
        // Once per batch of completed trials: at 4 and at 8.
        Assert.Equal(["progress 4/12", "progress 8/12"], sink.Events.Select(e => e.RenderMessage(System.Globalization.CultureInfo.InvariantCulture)[..13]));
        var line = sink.Events[^1].RenderMessage(System.Globalization.CultureInfo.InvariantCulture);
        Assert.StartsWith("progress 8/12 trials, best reward 0.7515 (trial 3), ETA ", line);
        Assert.Equal(0.7514569720127581, ((ScalarValue)sink.Events[^1].Properties["BestReward"]).Value);
    }
}
