using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using MnasNet.Actors.Hosting;
using MnasNet.Actors.Journal;
using MnasNet.Actors.Logging;
using MnasNet.Actors.Settings;
using MnasNet.Actors.State;
using MnasNet.Actors.Timing;
using MnasNet.Cli.Commands.Search;
using Serilog;

namespace MnasNet.Cli.Commands.Plan;

/// <summary>
/// <c>mnasnet plan --config FILE [--trainers 8,16,64] [--devices 1,2,4] [--trials N] [--json] [--out DIR]</c>: one
/// virtual-time search of the configured (simulated) search per trainer × device count, each through the real
/// controller, workers and journal, and where its time went.
/// </summary>
public sealed class PlanCommand : SearchCliCommand
{
    private readonly Option<string?> _config = new("--config") { Description = "The search to plan for: a simulated search (mode simulated, simulation.clock virtual), its cost model in simulation.cost." };
    private readonly Option<string?> _calibrateFrom = new("--calibrate-from") { Description = "Instead: fit the cost model to the durations journaled by this search and predict its own makespan with them." };
    private readonly Option<string> _journalDir = JournalDirectoryOption();
    private readonly Option<string[]> _set = new("--set") { Description = "Override a setting (key=value), repeatable.", AllowMultipleArgumentsPerToken = false };
    private readonly Option<string?> _trainers = new("--trainers") { Description = "Trainer counts to try, comma-separated (default: the config's workers.trainers)." };
    private readonly Option<string?> _devices = new("--devices") { Description = "Device counts to try, comma-separated (default: the config's workers.devices)." };
    private readonly Option<long?> _trials = new("--trials") { Description = "Trial budget of each run (rounded up to whole batches; default: the config's batchSize × batches)." };
    private readonly Option<bool> _json = new("--json") { Description = "Print the rows as a JSON array." };
    private readonly Option<string?> _out = new("--out") { Description = "Directory for plan.json and plan.png (makespan vs trainers, one line per device count)." };

    public PlanCommand() : base("plan", "Capacity planning: makespan, utilisation and bottleneck of a simulated search per trainer × device count, in virtual time.")
    {
        Options.Add(_config);
        Options.Add(_set);
        Options.Add(_trainers);
        Options.Add(_devices);
        Options.Add(_trials);
        Options.Add(_json);
        Options.Add(_out);
        Options.Add(_calibrateFrom);
        Options.Add(_journalDir);
    }

    protected override async Task<int> ExecuteAsync(ParseResult parseResult, TextWriter output, CancellationToken cancellationToken)
    {
        if (parseResult.GetValue(_calibrateFrom) is { } source)
        {
            return await CalibrateAsync(parseResult.GetValue(_journalDir)!, source, parseResult.GetValue(_json), output);
        }
        var config = parseResult.GetValue(_config) ?? throw new CliInputException("give --config FILE (the search to plan for) or --calibrate-from ID");
        if (!File.Exists(config))
        {
            throw new CliInputException($"config file '{config}' not found", ExitCodes.NotFound);
        }
        var settings = SettingsLoader.Load(config, parseResult.GetValue(_set) ?? []);
        if (!settings.Simulated || settings.Simulation.Clock != SimulationClock.Virtual)
        {
            throw new CliInputException($"config '{config}': plan runs simulated searches in virtual time; set mode to 'simulated' and simulation.clock to 'virtual' (it is mode '{settings.Mode.Word()}', clock '{settings.Simulation.Clock.Word()}')");
        }
        var trainers = Counts("--trainers", parseResult.GetValue(_trainers), settings.Workers.Trainers);
        var devices = Counts("--devices", parseResult.GetValue(_devices), settings.Workers.Devices);
        if (parseResult.GetValue(_trials) is { } trials)
        {
            if (trials < 1)
            {
                throw new CliInputException($"--trials must be at least 1, got {trials}");
            }
            settings = settings with { Batches = (int)Math.Ceiling(trials / (double)settings.BatchSize) };
        }
        var scratch = Path.Combine(Path.GetTempPath(), $"mnasnet-plan-{Environment.ProcessId}-{Guid.NewGuid():N}");
        Directory.CreateDirectory(scratch);
        var rows = new List<PlanRow>();
        try
        {
            foreach (var t in trainers)
            {
                foreach (var d in devices)
                {
                    cancellationToken.ThrowIfCancellationRequested();
                    rows.Add(await PlanRun.RunAsync(settings, t, d, scratch));
                    if (!parseResult.GetValue(_json))
                    {
                        await output.WriteLineAsync(rows[^1].Line());
                    }
                }
            }
        }
        finally
        {
            await Log.CloseAndFlushAsync();
            Directory.Delete(scratch, recursive: true);
        }
        var json = JsonSerializer.Serialize(rows, PlanRow.Json);
        if (parseResult.GetValue(_out) is { } outDir)
        {
            Directory.CreateDirectory(outDir);
            await File.WriteAllTextAsync(Path.Combine(outDir, "plan.json"), json, cancellationToken);
            await File.WriteAllBytesAsync(Path.Combine(outDir, "plan.png"), PlanPlot.Png(rows, settings.Id.Length > 0 ? settings.Id : Path.GetFileNameWithoutExtension(config)), cancellationToken);
        }
        if (parseResult.GetValue(_json))
        {
            await output.WriteLineAsync(json);
        }
        else if (parseResult.GetValue(_out) is { } written)
        {
            await output.WriteLineAsync($"wrote {Path.Combine(written, "plan.json")} and {Path.Combine(written, "plan.png")}");
        }
        return ExitCodes.Success;
    }

    private static async Task<int> CalibrateAsync(string directory, string id, bool json, TextWriter output)
    {
        var entries = JournalReader.ReadEvents(directory, id);
        if (entries.FirstOrDefault()?.Event is not Actors.Protocol.SearchStarted started)
        {
            throw new SearchNotFoundException($"search '{id}' in '{directory}' has no search-started event: nothing to calibrate from");
        }
        var definition = SettingsLoader.DefinitionFromJson(started.SettingsJson);
        var fit = CostFit.Of(entries, definition);
        var actual = SearchTiming.Of(entries);
        var longest = entries.Select(e => e.Event switch
        {
            Actors.Protocol.TrialTrained t => t.Record.Seconds,
            Actors.Protocol.LatencyMeasured m => m.Record.WallSeconds,
            _ => 0,
        }).Max();
        var scratch = Path.Combine(Path.GetTempPath(), $"mnasnet-calibrate-{Environment.ProcessId}-{Guid.NewGuid():N}");
        Directory.CreateDirectory(scratch);
        PlanRow predicted;
        PlanRow? noiseFree = null;
        try
        {
            predicted = await PlanRun.RunAsync(fit.Predicting(definition with { Id = id }, new NodeOptions(), longest), fit.Trainers, fit.Devices, scratch);
            // One run draws one set of noisy durations; without the noise the prediction shows what is systematic.
            if (fit.Cost.Noise > 0)
            {
                var without = Directory.CreateDirectory(Path.Combine(scratch, "no-noise")).FullName;
                noiseFree = await PlanRun.RunAsync((fit with { Cost = fit.Cost with { Noise = 0 } }).Predicting(definition with { Id = id }, new NodeOptions(), longest), fit.Trainers, fit.Devices, without);
            }
        }
        finally
        {
            await Log.CloseAndFlushAsync();
            Directory.Delete(scratch, recursive: true);
        }
        var calibration = new Calibration(id, actual.Clock, fit.Cost, fit.TrainSamples, fit.MeasureSamples, fit.UpdateSamples, fit.TrainR2, fit.Trainers, fit.Devices,
            actual.ElapsedSeconds, predicted.MakespanSeconds, Relative(predicted.MakespanSeconds), noiseFree?.MakespanSeconds, noiseFree is null ? null : Relative(noiseFree.MakespanSeconds));
        double? Relative(double seconds) => actual.ElapsedSeconds is { } a && a > 0 ? (seconds - a) / a : null;
        if (json)
        {
            await output.WriteLineAsync(JsonSerializer.Serialize(calibration, PlanRow.Json));
            return ExitCodes.Success;
        }
        var c = CultureInfo.InvariantCulture;
        var cost = fit.Cost;
        await output.WriteLineAsync(string.Create(c, $"search {id} ({actual.Clock} clock): {fit.TrainSamples} trainings (R² {fit.TrainR2:F3}), {fit.MeasureSamples} measurements, {fit.UpdateSamples} updates, {fit.Trainers} trainers, {fit.Devices} devices"));
        await output.WriteLineAsync(string.Create(c, $"  simulation.cost: trainerMacsPerSecond {(cost.TrainerMacsPerSecond == double.MaxValue ? "unbounded (training time does not grow with MACs here)" : cost.TrainerMacsPerSecond.ToString("G4", c))} (imagesPerEpoch {cost.ImagesPerEpoch}), trialOverheadSeconds {cost.TrialOverheadSeconds:F2}, measureSetupSeconds {cost.MeasureSetupSeconds:F2}, updateSeconds {cost.UpdateSeconds:F2}, noise {cost.Noise:F3}"));
        await output.WriteLineAsync(string.Create(c, $"  makespan: journaled {(actual.ElapsedSeconds is { } e ? PlanRow.Duration(e) : "-")}, predicted {PlanRow.Duration(predicted.MakespanSeconds)}{(calibration.Error is { } err ? $" ({err:+0.0%;-0.0%})" : "")}{(noiseFree is null ? "" : $", without the noise {PlanRow.Duration(noiseFree.MakespanSeconds)}{(calibration.NoiseFreeError is { } nerr ? $" ({nerr:+0.0%;-0.0%})" : "")}")}"));
        return ExitCodes.Success;
    }

    /// <summary>"8,16,64" → [8, 16, 64]; absent → the config's count. Each from 1 to <paramref name="max"/> (default: the most virtual workers).</summary>
    public static IReadOnlyList<int> Counts(string option, string? text, int fallback, int max = SettingsValidation.MaxVirtualWorkers, string what = "a node count")
    {
        if (text is null)
        {
            return [fallback];
        }
        var parts = text.Split(',', StringSplitOptions.TrimEntries);
        if (parts.All(p => p.Length == 0))
        {
            throw new CliInputException($"{option}: the list is empty; give counts such as 8,16,64");
        }
        var counts = new List<int>();
        foreach (var p in parts)
        {
            if (!int.TryParse(p, NumberStyles.None, CultureInfo.InvariantCulture, out var n) || n < 1 || n > max)
            {
                throw new CliInputException($"{option}: '{p}' is not {what} from 1 to {max} (in '{text}')");
            }
            counts.Add(n);
        }
        return [.. counts.Distinct()];
    }
}

/// <summary>
/// A cost model fitted to a search's journal and how well it predicts that search's makespan (<see cref="Error"/>: relative); the
/// noise-free figures are the same prediction with every duration on the fitted line, no noise (set when the fit has noise).
/// </summary>
public sealed record Calibration(
    string SearchId, string Clock, CostModelSettings Cost, int TrainSamples, int MeasureSamples, int UpdateSamples, double TrainR2,
    int Trainers, int Devices, double? ActualMakespanSeconds, double PredictedMakespanSeconds, double? Error,
    double? NoiseFreeMakespanSeconds = null, double? NoiseFreeError = null);

/// <summary>One row of a plan: one virtual search with this many trainers and devices.</summary>
public sealed record PlanRow(
    int Trainers,
    int Devices,
    long Trials,
    double MakespanSeconds,
    double TrialsPerHour,
    double TrainerUtilisation,
    double DeviceUtilisation,
    double MeanQueueSeconds,
    double MeanTrainQueueSeconds,
    double MeanMeasureQueueSeconds,
    string Bottleneck,
    int LeaseExpiries,
    double LostSeconds,
    double WallSeconds,
    double DeviceBusySeconds = 0,
    int Measurements = 0)
{
    public static readonly JsonSerializerOptions Json = new() { PropertyNamingPolicy = JsonNamingPolicy.CamelCase, WriteIndented = true };

    public string Line() => string.Create(CultureInfo.InvariantCulture,
        $"trainers {Trainers,4}  devices {Devices,4}  makespan {Duration(MakespanSeconds),12}  {TrialsPerHour,9:F1} trials/h  trainers {TrainerUtilisation,6:P1}  devices {DeviceUtilisation,6:P1}  queue {MeanQueueSeconds,9:F1} s  bottleneck {Bottleneck,-13}  lease expiries {LeaseExpiries} ({LostSeconds:F0} s lost)  device time {Duration(DeviceBusySeconds)} ({Measurements} measurements)  wall {WallSeconds:F2} s");

    /// <summary>"4d 12:00:00" / "1:02:03".</summary>
    public static string Duration(double seconds)
    {
        var t = TimeSpan.FromSeconds(Math.Round(seconds));
        return t.Days > 0 ? string.Create(CultureInfo.InvariantCulture, $"{t.Days}d {t:hh\\:mm\\:ss}") : t.ToString(@"h\:mm\:ss", CultureInfo.InvariantCulture);
    }
}

/// <summary>One virtual search of a plan, through <see cref="SearchRunner"/> with a scratch journal.</summary>
public static class PlanRun
{
    public static async Task<PlanRow> RunAsync(SearchSettings search, int trainers, int devices, string scratch)
    {
        var settings = SettingsValidation.Validate(search with
        {
            Id = $"plan-{trainers}t-{devices}d",
            Journal = search.Journal with { Directory = scratch, Provider = "sqlite" },
            Workers = search.Workers with { Trainers = trainers, Devices = devices },
            Logging = search.Logging with { Level = "Warning", Console = false, File = Path.Combine(scratch, "plan.clef"), SeqUrl = "" },
        });
        Log.Logger = SearchLogging.Create(settings, console: false);
        var outcome = await SearchRunner.RunAsync(settings, resume: false);
        if (outcome.Status != SearchStatus.Completed.Word())
        {
            throw new CliInputException($"the planned search with {trainers} trainers and {devices} devices ended '{outcome.Status}': {outcome.Reason}", ExitCodes.Failure);
        }
        var events = JournalReader.ReadEvents(scratch, settings.Id).Select(e => e.Event).ToList();
        var timeline = SearchTimeline.Of(events);
        return new PlanRow(trainers, devices, timeline.Trials, timeline.MakespanSeconds, timeline.TrialsPerHour, timeline.TrainerUtilisation(trainers),
            timeline.DeviceUtilisation(devices), timeline.MeanQueueSeconds, timeline.MeanTrainQueueSeconds, timeline.MeanMeasureQueueSeconds,
            timeline.Bottleneck(trainers, devices), timeline.LeaseExpiries, timeline.LostSeconds, outcome.Elapsed.TotalSeconds,
            timeline.DeviceBusySeconds, events.Count(e => e is Actors.Protocol.LatencyMeasured));
    }
}
