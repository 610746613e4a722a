using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using MnasNet.Actors.Hosting;
using MnasNet.Actors.Journal;
using MnasNet.Actors.Logging;
using MnasNet.Actors.Settings;
using MnasNet.Actors.State;
using Serilog;

namespace MnasNet.Cli.Commands.Search;

/// <summary>
/// <c>mnasnet bench search</c>: simulated trials per second through the whole actor pipeline (controller, workers,
/// reward actor) with every event durable in SQLite, zero-duration simulated trials; and the time to resume a search
/// of ≥ 10,000 trials until its first new dispatch.
/// </summary>
public sealed class BenchSearchCommand : SearchCliCommand
{
    private readonly Option<int> _trials = new("--trials") { Description = "Trials of the throughput run.", DefaultValueFactory = _ => 5000 };
    private readonly Option<int> _batch = new("--batch-size") { Description = "Trials per batch (one policy update each).", DefaultValueFactory = _ => 100 };
    private readonly Option<int> _workers = new("--workers") { Description = "Trainer and device workers (each); zero-duration work, so more workers put more events in each journal write.", DefaultValueFactory = _ => 32 };
    private readonly Option<int> _resumeTrials = new("--resume-trials") { Description = "Trials done before the resume measurement (0: skip).", DefaultValueFactory = _ => 10_000 };
    private readonly Option<string> _strategy = new("--strategy") { Description = "Search strategy (ppo-tabular: the controller costs ~nothing, so the figure is the pipeline's; ppo: the LSTM controller).", DefaultValueFactory = _ => "ppo-tabular" };
    private readonly Option<string> _engine = new("--engine") { Description = "Engine of strategy ppo: managed (default, exact arithmetic) or libtorch.", DefaultValueFactory = _ => MnasNet.Controller.ControllerEngines.Managed };
    private readonly Option<string?> _dir = new("--dir") { Description = "Scratch directory (default: a new temp directory, deleted after)." };

    public BenchSearchCommand() : base("search", "Trials/s through the actor pipeline with a durable SQLite journal, and resume time of a 10,000-trial search.")
    {
        Options.Add(_trials);
        Options.Add(_batch);
        Options.Add(_workers);
        Options.Add(_resumeTrials);
        Options.Add(_strategy);
        Options.Add(_dir);
        Options.Add(_engine);
    }

    protected override async Task<int> ExecuteAsync(ParseResult parseResult, TextWriter output, CancellationToken cancellationToken)
    {
        var trials = parseResult.GetValue(_trials);
        var batch = parseResult.GetValue(_batch);
        var workers = parseResult.GetValue(_workers);
        var resumeTrials = parseResult.GetValue(_resumeTrials);
        var strategy = parseResult.GetValue(_strategy)!;
        var engine = parseResult.GetValue(_engine)!;
        if (!MnasNet.Controller.ControllerEngines.All.Contains(engine))
        {
            throw new CliInputException($"--engine must be one of {string.Join(", ", MnasNet.Controller.ControllerEngines.All)}, got '{engine}'");
        }
        if (trials < batch || batch < 1 || workers < 1 || resumeTrials < 0)
        {
            throw new CliInputException("need --trials ≥ --batch-size ≥ 1, --workers ≥ 1 and --resume-trials ≥ 0");
        }
        using var scratchDirectory = BenchScratch.Open(parseResult.GetValue(_dir), "search");
        var scratch = scratchDirectory.Path;
        var c = CultureInfo.InvariantCulture;
        try
        {
            var settings = Settings("throughput", scratch, batch, trials / batch, workers, strategy) with { Policy = new PolicySettings { Engine = engine } };
            Log.Logger = SearchLogging.Create(settings with { Logging = settings.Logging with { Level = "Warning" } }, console: true);
            await output.WriteLineAsync(string.Create(c, $"throughput: {settings.TrialBudget} simulated trials (zero duration), batch size {batch}, {workers} trainer + {workers} device workers, strategy {strategy}, SQLite journal in {scratch}"));
            var clock = Stopwatch.StartNew();
            var run = await SearchRunner.RunAsync(settings, resume: false);
            var total = clock.Elapsed;
            var steady = total - (run.FirstDispatchAfter ?? TimeSpan.Zero);
            var events = JournalReader.CountEvents(JournalFiles.Database(scratch, settings.Id));
            await output.WriteLineAsync(string.Create(c, $"  {run.LastProgress?.TrialsDone} trials, {events} events in {total.TotalSeconds:F2} s: {settings.TrialBudget / total.TotalSeconds:F0} trials/s end to end, {settings.TrialBudget / steady.TotalSeconds:F0} trials/s after the first dispatch ({events / steady.TotalSeconds:F0} events/s)"));

            if (resumeTrials > 0)
            {
                var big = Settings("resume", scratch, batch, (resumeTrials / batch) + 50, workers, strategy) with { Policy = new PolicySettings { Engine = engine } };
                await output.WriteLineAsync(string.Create(c, $"resume: building a search of {resumeTrials}+ trials (snapshot every {big.Journal.SnapshotEvery} updates)..."));
                using (var pauseAt = new CancellationTokenSource())
                {
                    var built = await SearchRunner.RunAsync(big, resume: false, p =>
                    {
                        if (p.TrialsDone >= resumeTrials)
                        {
                            pauseAt.Cancel();
                        }
                    }, pauseToken: pauseAt.Token);
                    if (built.Status != SearchStatus.Paused.Word())
                    {
                        throw new CliInputException($"the resume benchmark's search ended '{built.Status}' instead of pausing", ExitCodes.Failure);
                    }
                    await output.WriteLineAsync(string.Create(c, $"  paused after {built.LastProgress?.TrialsDone} trials, {JournalReader.CountEvents(JournalFiles.Database(scratch, big.Id))} events"));
                }
                using var stopAfterFirst = new CancellationTokenSource();
                var resumeClock = Stopwatch.StartNew();
                var resumed = await SearchRunner.RunAsync(SearchRunner.SettingsOf(scratch, big.Id), resume: true, p => stopAfterFirst.Cancel(), pauseToken: stopAfterFirst.Token);
                await output.WriteLineAsync(string.Create(c, $"  resume to first new dispatch: {resumed.FirstDispatchAfter?.TotalMilliseconds:F0} ms (actor system start, lock, snapshot load + replay since it, journal write of the dispatch); whole resume call incl. reading settings: {resumeClock.Elapsed.TotalMilliseconds:F0} ms until paused again"));
            }
            return ExitCodes.Success;
        }
        finally
        {
            await Log.CloseAndFlushAsync();
        }
    }

    private static SearchSettings Settings(string id, string dir, int batch, int batches, int workers, string strategy) => SettingsValidation.Validate(new SearchSettings
    {
        Id = id,
        Seed = 7,
        Mode = SearchMode.Simulated,
        Strategy = strategy,
        BatchSize = batch,
        Batches = batches,
        Reward = new RewardSettings { Preset = RewardExponents.Soft, TargetMs = 80 },
        Latency = new LatencySettings { Backend = "simulated", Runs = 5 },
        Journal = new JournalSettings { Directory = dir, SnapshotEvery = 10 },
        Workers = new WorkerSettings { Trainers = workers, Devices = workers, LeaseTimeoutSeconds = 60 },
        Logging = new LoggingSettings { Level = "Warning", Console = true },
    });
}
