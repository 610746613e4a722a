using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using MnasNet.Actors.Decisions;
using MnasNet.Actors.Hosting;
using MnasNet.Actors.Journal;
using MnasNet.Actors.Logging;
using MnasNet.Actors.Settings;
using MnasNet.Actors.State;
using MnasNet.Actors.Timing;
using Serilog;

namespace MnasNet.Cli.Commands.Search;

/// <summary>
/// <c>mnasnet bench simulate</c>: wall time and virtual trials per wall second of whole virtual-time searches (the
/// paper's cost model: ~3,110 s per trial on 64 trainers, 4 devices) with the durable SQLite journal, per strategy
/// and trial count; beside each, the same search with zero-duration work (no clock advances; nothing waits for the
/// clock, so the controller's effects wait for their journal writes, as in real time): the pipeline paced by the
/// durable journal.
/// </summary>
public sealed class BenchSimulateCommand : SearchCliCommand
{
    private readonly Option<string> _trials = new("--trials") { Description = "Trial counts, comma-separated.", DefaultValueFactory = _ => "8000" };
    private readonly Option<string> _strategies = new("--strategies") { Description = "Strategies, comma-separated (ppo: the LSTM controller; ppo-tabular: plain C#).", DefaultValueFactory = _ => "ppo,ppo-tabular" };
    private readonly Option<int> _batch = new("--batch-size") { Description = "Trials per batch (one policy update each).", DefaultValueFactory = _ => 64 };
    private readonly Option<bool> _baseline = new("--baseline") { Description = "Also run each search with zero-duration work (same events, no virtual time, each effect after its write).", DefaultValueFactory = _ => true };
    private readonly Option<string> _engine = new("--engine") { Description = "Engine of strategy ppo: managed (default, exact arithmetic) or libtorch.", DefaultValueFactory = _ => MnasNet.Controller.ControllerEngines.Managed };
    private readonly Option<int> _allocations = new("--allocations") { Description = "Also list the N types that allocated most (sampled) and why the GC ran.", DefaultValueFactory = _ => 0 };
    private readonly Option<int> _threads = new("--threads") { Description = "Threads of the controller's policy (controller.threads; the managed engine gives the same bits for any count).", DefaultValueFactory = _ => Math.Min(2, Environment.ProcessorCount) };
    private readonly Option<string?> _dir = new("--dir") { Description = "Scratch directory (default: a new temp directory, deleted after)." };

    public BenchSimulateCommand() : base("simulate", "Wall time and virtual trials per wall second of virtual-time searches (paper cost model) with the durable journal.")
    {
        Options.Add(_trials);
        Options.Add(_strategies);
        Options.Add(_batch);
        Options.Add(_baseline);
        Options.Add(_dir);
        Options.Add(_engine);
        Options.Add(_allocations);
        Options.Add(_threads);
    }

    protected override async Task<int> ExecuteAsync(ParseResult parseResult, TextWriter output, CancellationToken cancellationToken)
    {
        var batch = parseResult.GetValue(_batch);
        var trialCounts = Plan.PlanCommand.Counts("--trials", parseResult.GetValue(_trials), 0, max: 10_000_000, what: "a trial count");
        var engine = parseResult.GetValue(_engine)!;
        var allocations = parseResult.GetValue(_allocations);
        var threads = parseResult.GetValue(_threads);
        if (threads < 1)
        {
            throw new CliInputException($"--threads must be ≥ 1, got {threads}");
        }
        if (allocations < 0)
        {
            throw new CliInputException($"--allocations must be ≥ 0 (0: off), got {allocations}");
        }
        if (!MnasNet.Controller.ControllerEngines.All.Contains(engine))
        {
            throw new CliInputException($"--engine must be one of {string.Join(", ", MnasNet.Controller.ControllerEngines.All)}, got '{engine}'");
        }
        var strategies = parseResult.GetValue(_strategies)!.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries);
        if (batch < 1 || strategies.Length == 0)
        {
            throw new CliInputException("need --batch-size ≥ 1 and at least one strategy");
        }
        SearchSettings Configured(SearchSettings s) => s with { Policy = new PolicySettings { Engine = engine }, Controller = new ControllerNodeSettings { Threads = threads } };
        using var scratchDirectory = BenchScratch.Open(parseResult.GetValue(_dir), "simulate");
        var scratch = scratchDirectory.Path;
        var c = CultureInfo.InvariantCulture;
        try
        {
            await output.WriteLineAsync($"virtual-time searches: 64 trainers, 4 devices, batch {batch}, controller threads {threads}, paper cost model (~3,110 s a trial, 60 s a policy update), SQLite journal in {scratch}");
            foreach (var strategy in strategies)
            {
                foreach (var trials in trialCounts)
                {
                    var batches = (int)Math.Ceiling(trials / (double)batch);
                    using var sampler = allocations > 0 ? new AllocationSampler() : null;
                    var costs = ProcessCosts.Now();
                    var policyCosts = PolicyCosts.Now();
                    var timed = await Run(Configured(Settings($"{strategy}-{trials}", scratch, strategy, batch, batches, costModel: true)));
                    var spent = ProcessCosts.Now() - costs;
                    var policySpent = PolicyCosts.Now() - policyCosts;
                    await output.WriteLineAsync(string.Create(c, $"  {strategy,-12} {batch * batches,7} trials: {timed.Wall.TotalSeconds,7:F1} s wall ({timed.Startup.TotalSeconds:F1} s to the first dispatch), {batch * batches / timed.Wall.TotalSeconds,6:F0} virtual trials/s, makespan {Plan.PlanRow.Duration(timed.Virtual.TotalSeconds)}, {timed.Events} events, {timed.QuietPoints} quiet points"));
                    await output.WriteLineAsync(string.Create(c, $"  {"",-12} {"",7}   process CPU {spent.Cpu.TotalSeconds:F1} s; JIT {spent.JitMethods:N0} methods in {spent.Jit.TotalSeconds:F1} s; GCs {spent.Gen0}/{spent.Gen1}/{spent.Gen2} (gen 0/1/2) pausing {spent.GcPause.TotalSeconds:F1} s; {spent.Allocated / 1e6 / (batch * batches):F2} MB allocated a trial"));
                    await output.WriteLineAsync(string.Create(c, $"  {"",-12} {"",7}   policy: {policySpent.Updates} updates in {policySpent.Updating.TotalSeconds:F1} s, {policySpent.Samplings} samplings in {policySpent.Sampling.TotalSeconds:F1} s, saving the states for the journal {policySpent.SavingStates.TotalSeconds:F1} s (wall)"));
                    if (sampler is not null)
                    {
                        await sampler.PrintAsync(output, allocations);
                    }
                    if (parseResult.GetValue(_baseline))
                    {
                        var zero = await Run(Configured(Settings($"{strategy}-{trials}-zero", scratch, strategy, batch, batches, costModel: false)));
                        await output.WriteLineAsync(string.Create(c, $"  {"",-12} {"",7}   zero-duration work (no virtual time, so each effect waits for its write): {zero.Wall.TotalSeconds,7:F1} s wall, {batch * batches / zero.Wall.TotalSeconds,6:F0} trials/s"));
                    }
                }
            }
            return ExitCodes.Success;
        }
        finally
        {
            await Log.CloseAndFlushAsync();
        }
    }

    private sealed record Timed(TimeSpan Wall, TimeSpan Startup, TimeSpan Virtual, long Events, long QuietPoints);

    private static async Task<Timed> Run(SearchSettings settings)
    {
        Log.Logger = SearchLogging.Create(settings, console: true);
        var clock = (VirtualSearchClock)SearchClock.For(settings);
        var wall = Stopwatch.StartNew();
        var outcome = await SearchRunner.RunAsync(settings, resume: false, clock: clock);
        if (outcome.Status != SearchStatus.Completed.Word())
        {
            throw new CliInputException($"the benchmark's search {settings.Id} ended '{outcome.Status}': {outcome.Reason}", ExitCodes.Failure);
        }
        return new Timed(wall.Elapsed, outcome.FirstDispatchAfter ?? TimeSpan.Zero, outcome.VirtualElapsed ?? TimeSpan.Zero,
            JournalReader.CountEvents(JournalFiles.Database(settings.Journal.Directory, settings.Id)), clock.Advances);
    }

    /// <summary>config/paper-sim.json's search (see its comments), with this strategy and budget.</summary>
    public static SearchSettings Settings(string id, string dir, string strategy, int batch, int batches, bool costModel) => SettingsValidation.Validate(new SearchSettings
    {
        Id = id,
        Seed = 1,
        Mode = SearchMode.Simulated,
        Strategy = strategy,
        BatchSize = batch,
        Batches = batches,
        Reward = new RewardSettings { Preset = RewardExponents.Soft, TargetMs = 75 },
        Training = new TrainingSettings { Epochs = 5 },
        Latency = new LatencySettings { Backend = "simulated", Warmup = 10, Runs = 50 },
        Simulation = new SimulationSettings
        {
            Clock = SimulationClock.Virtual,
            Cost = new CostModelSettings
            {
                Enabled = costModel,
                ImagesPerEpoch = 50_000,
                TrainerMacsPerSecond = 2.62e10,
                TrialOverheadSeconds = 60,
                MeasureSetupSeconds = 30,
                UpdateSeconds = 60,
                Noise = 0.05,
            },
        },
        Journal = new JournalSettings { Directory = dir, SnapshotEvery = 10 },
        Workers = new WorkerSettings { Trainers = 64, Devices = 4, LeaseTimeoutSeconds = 20_000 },
        Logging = new LoggingSettings { Level = "Warning", Console = true },
    });
}

/// <summary>What the process has spent so far: CPU, JIT compilations and their time, garbage collections.</summary>
internal readonly record struct ProcessCosts(TimeSpan Cpu, long JitMethods, TimeSpan Jit, int Gen0, int Gen1, int Gen2, TimeSpan GcPause, long Allocated)
{
    public static ProcessCosts Now() => new(
        Process.GetCurrentProcess().TotalProcessorTime,
        System.Runtime.JitInfo.GetCompiledMethodCount(),
        System.Runtime.JitInfo.GetCompilationTime(),
        GC.CollectionCount(0), GC.CollectionCount(1), GC.CollectionCount(2), GC.GetTotalPauseDuration(), GC.GetTotalAllocatedBytes());

    public static ProcessCosts operator -(ProcessCosts a, ProcessCosts b) =>
        new(a.Cpu - b.Cpu, a.JitMethods - b.JitMethods, a.Jit - b.Jit, a.Gen0 - b.Gen0, a.Gen1 - b.Gen1, a.Gen2 - b.Gen2, a.GcPause - b.GcPause, a.Allocated - b.Allocated);
}
