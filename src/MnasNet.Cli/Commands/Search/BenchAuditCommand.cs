using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using MnasNet.Actors.Hosting;
using MnasNet.Actors.Logging;
using MnasNet.Actors.Settings;
using MnasNet.Audit;
using Serilog;

namespace MnasNet.Cli.Commands.Search;

/// <summary>
/// <c>mnasnet bench audit</c>: the time <c>replay --verify</c> takes on a simulated search of N trials — reading the
/// journal, recomputing every reward, re-running every batch and policy update, the chain — in wall and CPU seconds.
/// </summary>
public sealed class BenchAuditCommand : SearchCliCommand
{
    private readonly Option<int> _trials = new("--trials") { Description = "Trials of the audited search.", DefaultValueFactory = _ => 10_000 };
    private readonly Option<int> _batch = new("--batch-size") { Description = "Trials per batch (one policy update each).", DefaultValueFactory = _ => 16 };
    private readonly Option<string> _strategy = new("--strategy") { Description = "Search strategy of the audited search (ppo: the LSTM controller, whose updates the audit re-runs).", DefaultValueFactory = _ => "ppo" };
    private readonly Option<string> _engine = new("--engine") { Description = "Engine of strategy ppo: managed (default, exact arithmetic) or libtorch.", DefaultValueFactory = _ => MnasNet.Controller.ControllerEngines.Managed };
    private readonly Option<string?> _dir = new("--dir") { Description = "Scratch directory (default: a new temp directory, deleted after); a search 'audited' already there is reused." };

    public BenchAuditCommand() : base("audit", "Time of replay --verify (read, rewards, learning, chain) on a simulated search of N trials.")
    {
        Options.Add(_trials);
        Options.Add(_batch);
        Options.Add(_strategy);
        Options.Add(_dir);
        Options.Add(_engine);
    }

    protected override async Task<int> ExecuteAsync(ParseResult parseResult, TextWriter output, CancellationToken cancellationToken)
    {
        var (trials, batch, strategy) = (parseResult.GetValue(_trials), parseResult.GetValue(_batch), parseResult.GetValue(_strategy)!);
        var engine = parseResult.GetValue(_engine)!;
        if (!MnasNet.Controller.ControllerEngines.All.Contains(engine))
        {
            throw new CliInputException($"--engine must be one of {string.Join(", ", MnasNet.Controller.ControllerEngines.All)}, got '{engine}'");
        }
        if (batch < 1 || trials < batch)
        {
            throw new CliInputException("need --trials ≥ --batch-size ≥ 1");
        }
        using var scratchDirectory = BenchScratch.Open(parseResult.GetValue(_dir), "audit");
        var scratch = scratchDirectory.Path;
        var c = CultureInfo.InvariantCulture;
        try
        {
            var settings = SettingsValidation.Validate(new SearchSettings
            {
                Id = "audited",
                Seed = 7,
                Mode = SearchMode.Simulated,
                Strategy = strategy,
                Policy = new PolicySettings { Engine = engine },
                BatchSize = batch,
                Batches = trials / batch,
                Reward = new RewardSettings { Preset = RewardExponents.Soft, TargetMs = 80 },
                Latency = new LatencySettings { Backend = "simulated", Runs = 5 },
                Journal = new JournalSettings { Directory = scratch, SnapshotEvery = 100 },
                Workers = new WorkerSettings { Trainers = 4, Devices = 4, LeaseTimeoutSeconds = 60 },
                Logging = new LoggingSettings { Level = "Warning", Console = true },
            });
            Log.Logger = SearchLogging.Create(settings, console: true);
            if (Actors.Journal.JournalReader.FindSearch(scratch, settings.Id) is null)
            {
                await output.WriteLineAsync(string.Create(c, $"building: {settings.TrialBudget} simulated trials, batch {batch}, strategy {strategy}, in {scratch}"));
                var built = await SearchRunner.RunAsync(settings, resume: false);
                if (built.Status != "completed")
                {
                    throw new CliInputException($"the audited search ended '{built.Status}'", ExitCodes.Failure);
                }
            }
            var source = JournalSource.ForSearch(scratch, settings.Id);
            var process = Process.GetCurrentProcess();
            (long Ticks, TimeSpan Cpu) Now()
            {
                process.Refresh();
                return (Stopwatch.GetTimestamp(), process.TotalProcessorTime);
            }
            string Since((long Ticks, TimeSpan Cpu) start)
            {
                var now = Now();
                return string.Create(c, $"{Stopwatch.GetElapsedTime(start.Ticks, now.Ticks).TotalSeconds:F1} s wall, {(now.Cpu - start.Cpu).TotalSeconds:F1} s CPU");
            }
            var t = Now();
            var read = await JournalQuery.ReadAsync(source, settings.Id, withSnapshot: true, cancellationToken);
            await output.WriteLineAsync($"read: {read.Records.Count} events, {Since(t)}");
            t = Now();
            var rewards = Auditor.Audit(read, new AuditOptions(Learning: false));
            await output.WriteLineAsync($"rewards only: {(rewards.Verified ? "VERIFIED" : "NOT VERIFIED")}, {rewards.Totals.RewardsVerified} rewards, {Since(t)}");
            t = Now();
            var onePass = Auditor.Audit(read, new AuditOptions(Parallelism: 1));
            await output.WriteLineAsync($"--verify in one pass: {(onePass.Verified ? "VERIFIED" : "NOT VERIFIED")}, {onePass.Totals.BatchesSampleVerified}/{onePass.Totals.Batches} batches, {onePass.Totals.UpdatesVerified}/{onePass.Totals.Updates} updates, {Since(t)}");
            t = Now();
            var full = Auditor.Audit(read, new AuditOptions());
            await output.WriteLineAsync($"--verify, {full.LearningStretches} stretch{(full.LearningStretches == 1 ? "" : "es")} at once on {Environment.ProcessorCount} cores: {(full.Verified ? "VERIFIED" : "NOT VERIFIED")}, " +
                $"{full.Totals.BatchesSampleVerified}/{full.Totals.Batches} batches, {full.Totals.UpdatesVerified}/{full.Totals.Updates} updates, {Since(t)}");
            return full.Verified && onePass.Verified ? ExitCodes.Success : ExitCodes.VerificationFailed;
        }
        finally
        {
            await Log.CloseAndFlushAsync();
        }
    }
}
