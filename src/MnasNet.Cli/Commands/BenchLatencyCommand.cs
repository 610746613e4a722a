using System.CommandLine;
using System.Globalization;
using MnasNet.Bench;
using MnasNet.Latency;
using MnasNet.Latency.Table;
using MnasNet.Torch;

namespace MnasNet.Cli.Commands;

/// <summary>
/// <c>mnasnet bench latency</c>: reference models on each backend measured repeatedly (median, CV of the medians,
/// wall time of one measurement), then a search-space lookup table built and evaluated on random architectures.
/// </summary>
public sealed class BenchLatencyCommand : CliCommand
{
    private readonly Option<string[]> _archs = new("--arch") { Description = "Architectures (repeatable).", DefaultValueFactory = _ => [.. LatencyBenchmarkSettings.Default.Architectures], AllowMultipleArgumentsPerToken = true };
    private readonly Option<string[]> _backends = new("--backend") { Description = "Backends (repeatable).", DefaultValueFactory = _ => [.. LatencyBenchmarkSettings.Default.Backends], AllowMultipleArgumentsPerToken = true };
    private readonly Option<int> _resolution = new("--resolution") { Description = "Resolution of the reference measurements.", DefaultValueFactory = _ => 224 };
    private readonly Option<int> _threads = new("--threads") { Description = "Intra-op threads.", DefaultValueFactory = _ => 1 };
    private readonly Option<int> _repeats = new("--repeats") { Description = "Measurements per architecture and backend.", DefaultValueFactory = _ => 5 };
    private readonly Option<int> _runs = LatencyOptions.Runs(50);
    private readonly Option<int> _warmup = LatencyOptions.Warmup(10);
    private readonly Option<bool> _noReference = new("--no-reference") { Description = "Skip the reference architectures (table only)." };
    private readonly Option<bool> _noTable = new("--no-table") { Description = "Skip the lookup-table build and evaluation." };
    private readonly Option<int> _tableResolution = new("--table-resolution") { Description = "Resolution of the lookup table.", DefaultValueFactory = _ => 224 };
    private readonly Option<int> _tableSamples = new("--table-samples") { Description = "Random architectures to evaluate the table on.", DefaultValueFactory = _ => 50 };
    private readonly Option<int> _tableRuns = new("--table-runs") { Description = "Timed runs per table layer.", DefaultValueFactory = _ => 10 };
    private readonly Option<int> _tableCalibrate = new("--table-calibrate") { Description = "Random architectures (another seed than the evaluation's) to fit the table's network-level correction on; 0: no correction.", DefaultValueFactory = _ => 40 };
    private readonly Option<LatencyEstimator> _tableEstimator = new("--table-estimator") { Description = "Statistic the table predicts: median or min (steady on a shared host).", DefaultValueFactory = _ => LatencyEstimator.Median };
    private readonly Option<int> _tableRounds = new("--table-rounds") { Description = "Interleaved rounds in which each network of the calibration and the evaluation is measured (its figure: the estimator over its rounds).", DefaultValueFactory = _ => 3 };
    private readonly Option<string?> _tableOut = new("--table-out") { Description = "Also save the lookup table to this file." };
    private readonly Option<ulong> _seed = LatencyOptions.Seed();
    private readonly Option<bool> _json = LatencyOptions.Json();
    private readonly Option<bool> _busyTrainer = new("--busy-trainer") { Description = "Also measure with a proxy trainer busy in this process: unisolated, pinned to separate cores, and pinned with the quiet window." };
    private readonly Option<string> _trainerCores = new("--trainer-cores") { Description = "Cores of the busy trainer when pinned (default: all but the last).", DefaultValueFactory = _ => Environment.ProcessorCount > 1 ? $"0-{Environment.ProcessorCount - 2}" : "0" };
    private readonly Option<string> _deviceCores = new("--device-cores") { Description = "Cores of the measurement when pinned (default: the last).", DefaultValueFactory = _ => $"{Environment.ProcessorCount - 1}" };

    public BenchLatencyCommand() : base("latency", "Reference latencies, their repeatability, and the lookup table's MAPE and Kendall tau.")
    {
        foreach (var option in new Option[] { _archs, _backends, _resolution, _threads, _repeats, _runs, _warmup, _noReference, _noTable, _tableResolution, _tableSamples, _tableRuns, _tableCalibrate, _tableEstimator, _tableRounds, _tableOut, _seed, _json, _busyTrainer, _trainerCores, _deviceCores })
        {
            Options.Add(option);
        }
    }

    protected override int? ExitCodeFor(Exception e) => LatencyOptions.ExitCodeFor(e) ?? base.ExitCodeFor(e);

    protected override async Task<int> ExecuteAsync(ParseResult parseResult, TextWriter output, CancellationToken cancellationToken)
    {
        var repeats = parseResult.GetValue(_repeats);
        if (repeats < 1)
        {
            throw new CliInputException($"--repeats must be at least 1, got {repeats}");
        }
        var settings = new LatencyBenchmarkSettings(
            parseResult.GetValue(_noReference) ? [] : parseResult.GetValue(_archs)!, parseResult.GetValue(_backends)!, parseResult.GetValue(_resolution), parseResult.GetValue(_threads), repeats,
            LatencyOptions.Protocol(parseResult.GetValue(_warmup), parseResult.GetValue(_runs)),
            !parseResult.GetValue(_noTable), parseResult.GetValue(_tableResolution), parseResult.GetValue(_tableSamples),
            LatencyOptions.Protocol(3, parseResult.GetValue(_tableRuns)), parseResult.GetValue(_seed), parseResult.GetValue(_tableOut), parseResult.GetValue(_tableCalibrate), parseResult.GetValue(_tableEstimator),
            LatencyOptions.RoundsOf(parseResult, _tableRounds));
        if (settings.TableCalibrationSamples < 0)
        {
            throw new CliInputException($"--table-calibrate must be 0 or more, got {settings.TableCalibrationSamples}");
        }
        var json = parseResult.GetValue(_json);
        var (trainerCores, deviceCores) = (Cores(parseResult.GetValue(_trainerCores)!, "--trainer-cores"), Cores(parseResult.GetValue(_deviceCores)!, "--device-cores"));
        // With --json, progress goes to stderr so that stdout stays one JSON document.
        var progress = new LineProgress(json ? parseResult.InvocationConfiguration.Error : output);
        var report = await LatencyBenchmark.RunAsync(settings, progress, cancellationToken);
        var isolation = parseResult.GetValue(_busyTrainer) && settings.Architectures.Count > 0
            ? await LatencyIsolationBenchmark.RunAsync(settings, trainerCores, deviceCores, progress, cancellationToken)
            : null;
        if (json)
        {
            await WriteJsonAsync(output, new { report.Measurements, report.Table, report.LoadBefore, report.LoadAfter, Isolation = isolation });
            return ExitCodes.Success;
        }
        await output.WriteLineAsync();
        await output.WriteLineAsync(string.Create(CultureInfo.InvariantCulture,
            $"batch 1, {settings.Threads} thread(s), {settings.Resolution}x{settings.Resolution}, {settings.Repeats} measurements of {settings.Protocol!.Warmup} warm-up + {settings.Protocol.Runs} runs each"));
        await output.WriteLineAsync("  architecture   backend       median ms   CV(medians)  mean CV(runs)  s/measurement  (timing)");
        foreach (var r in report.Measurements)
        {
            await output.WriteLineAsync(string.Create(CultureInfo.InvariantCulture,
                $"  {r.Architecture,-13}  {r.Backend,-12}  {r.MedianOfMediansMs,9:F2}   {r.CvOfMedians,10:P1}  {r.MeanWithinRunCv,12:P1}  {r.SecondsPerMeasurement,13:F2}  {r.TimingSecondsPerMeasurement,8:F2}"));
        }
        await output.WriteLineAsync(string.Create(CultureInfo.InvariantCulture, $"load average (1 min): {report.LoadBefore?.ToString("F1", CultureInfo.InvariantCulture) ?? "?"} before, {report.LoadAfter?.ToString("F1", CultureInfo.InvariantCulture) ?? "?"} after, on {Environment.ProcessorCount} cores"));
        if (isolation is not null)
        {
            await output.WriteLineAsync(string.Create(CultureInfo.InvariantCulture, $"with a proxy trainer in this process (pinned: trainer on cores {CpuAffinity.Format(trainerCores)}, measurement on {CpuAffinity.Format(deviceCores)}):"));
            await output.WriteLineAsync("  condition              architecture   backend       median ms   CV(medians)  mean CV(runs)  trainer paused s");
            foreach (var r in isolation)
            {
                await output.WriteLineAsync(string.Create(CultureInfo.InvariantCulture,
                    $"  {r.Condition,-21}  {r.Architecture,-13}  {r.Backend,-12}  {r.MedianOfMediansMs,9:F2}   {r.CvOfMedians,10:P1}  {r.MeanWithinRunCv,12:P1}  {r.TrainerWaitSeconds,16:F1}"));
            }
        }
        if (report.Table is { } t)
        {
            var inv = CultureInfo.InvariantCulture;
            var correction = t.Correction is { } c
                ? string.Create(inv, $", corrected on {c.Samples} networks in {t.CalibrateSeconds:F0} s (fit MAPE {c.FitMapePercent:F1}%)")
                : "";
            await output.WriteLineAsync(string.Create(inv, $"lookup table at {t.Resolution}x{t.Resolution}: {t.Layers} layers built in {t.BuildSeconds:F0} s") + correction +
                string.Create(inv, $"; on {t.Evaluation.HeldOut} held-out random architectures MAPE {t.Evaluation.MapePercent:F1}%, Kendall tau {t.Evaluation.KendallTau:F3}") +
                string.Create(inv, $", {t.Evaluation.ScaledMapePercent:F1}% with the device's speed factored out (measured ≈ {t.Evaluation.SpeedFactor:F3} × predicted)") +
                string.Create(inv, $" (per-layer sum alone: MAPE {t.Evaluation.TableSumMapePercent:F1}%, tau {t.Evaluation.TableSumKendallTau:F3}; evaluation {t.EvaluateSeconds:F0} s)"));
        }
        return ExitCodes.Success;
    }

    private static IReadOnlyList<int> Cores(string spec, string option)
    {
        try
        {
            return CpuAffinity.Parse(spec, option);
        }
        catch (ArgumentException e)
        {
            throw new CliInputException(e.Message);
        }
    }

    private sealed class LineProgress(TextWriter output) : IProgress<string>
    {
        public void Report(string value) => output.WriteLine(value);
    }
}
