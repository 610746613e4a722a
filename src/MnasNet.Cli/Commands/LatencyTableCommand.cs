using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using MnasNet.Latency;
using MnasNet.Latency.Backends;
using MnasNet.Latency.Table;
using MnasNet.SearchSpace;

namespace MnasNet.Cli.Commands;

/// <summary><c>mnasnet latency-table build|calibrate|evaluate</c>.</summary>
public sealed class LatencyTableCommand : Command
{
    public LatencyTableCommand() : base("latency-table", "Per-layer latency lookup tables: build one on a device, evaluate its predictions.")
    {
        Subcommands.Add(new LatencyTableBuildCommand());
        Subcommands.Add(new LatencyTableCalibrateCommand());
        Subcommands.Add(new LatencyTableEvaluateCommand());
    }

    internal static string Rounds(int rounds) => rounds == 1 ? "1 round" : $"{rounds} interleaved rounds";

    /// <summary>The table's own backend and threads, or the simulated device for a simulated table.</summary>
    internal static string ReferenceSpec(LatencyTable table, string? backend) =>
        backend ?? (table.Platform.IsSimulated ? SimulatedBackend.Name : $"{table.Platform.Backend}:threads={table.Platform.Threads}");
}

public sealed class LatencyTableCalibrateCommand : CliCommand
{
    private readonly Option<string> _table = new("--table") { Description = "Table file (JSON) to correct.", Required = true };
    private readonly Option<string?> _out = new("--out") { Description = "Corrected table to write (default: overwrite --table)." };
    private readonly Option<int> _samples = new("--samples") { Description = "Random architectures to measure and fit on.", DefaultValueFactory = _ => 40 };
    private readonly Option<string?> _backend = new("--backend") { Description = "Device to measure on (default: the table's backend and threads)." };
    private readonly Option<int> _runs = LatencyOptions.Runs(20);
    private readonly Option<int> _warmup = LatencyOptions.Warmup(5);
    private readonly Option<ulong> _seed = new("--seed") { Description = "Seed of the fitted architectures; evaluate with another one.", DefaultValueFactory = _ => 1_000_004 };
    private readonly Option<double> _ridge = new("--ridge") { Description = "Weight pulling the fit toward the plain per-layer sum.", DefaultValueFactory = _ => LatencyTableCalibrator.DefaultRidge };
    private readonly Option<int> _rounds = LatencyOptions.Rounds();

    public LatencyTableCalibrateCommand() : base("calibrate", "Measure random whole networks and fit a network-level correction of the table's per-layer sum.")
    {
        Options.Add(_table);
        Options.Add(_out);
        Options.Add(_samples);
        Options.Add(_backend);
        Options.Add(_runs);
        Options.Add(_warmup);
        Options.Add(_seed);
        Options.Add(_ridge);
        Options.Add(_rounds);
    }

    protected override int? ExitCodeFor(Exception e) => LatencyOptions.ExitCodeFor(e) ?? base.ExitCodeFor(e);

    protected override async Task<int> ExecuteAsync(ParseResult parseResult, TextWriter output, CancellationToken cancellationToken)
    {
        var samples = parseResult.GetValue(_samples);
        if (samples < NetworkFeatures.Names.Count)
        {
            throw new CliInputException($"--samples must be at least {NetworkFeatures.Names.Count} (one per fitted coefficient), got {samples}");
        }
        var ridge = parseResult.GetValue(_ridge);
        if (!(ridge > 0 && double.IsFinite(ridge)))
        {
            throw new CliInputException($"--ridge must be a positive number, got {ridge.ToString(CultureInfo.InvariantCulture)}");
        }
        var rounds = LatencyOptions.RoundsOf(parseResult, _rounds);
        var protocol = LatencyOptions.Protocol(parseResult.GetValue(_warmup), parseResult.GetValue(_runs));
        var tablePath = parseResult.GetValue(_table)!;
        var table = LatencyTable.Load(tablePath);
        var seed = parseResult.GetValue(_seed);
        await using var device = LatencyBackends.Create(LatencyTableCommand.ReferenceSpec(table, parseResult.GetValue(_backend)), seed: (long)seed);
        await output.WriteLineAsync($"measuring {samples} random architectures at {table.Options.Resolution}x{table.Options.Resolution} on {device.DeviceId} ({protocol.Warmup} warm-up, {protocol.Runs} runs each, {LatencyTableCommand.Rounds(rounds)})");
        var clock = Stopwatch.StartNew();
        var (corrected, _) = await LatencyTableCalibrator.CalibrateAsync(table, device, samples, seed, protocol, ridge: ridge, cancellationToken: cancellationToken, rounds: rounds);
        var path = parseResult.GetValue(_out) ?? tablePath;
        corrected.Save(path);
        var c = corrected.Correction!;
        await output.WriteLineAsync(string.Create(CultureInfo.InvariantCulture,
            $"wrote {path}: per-layer sum MAPE {c.TableMapePercent:F2}% → corrected {c.FitMapePercent:F2}% on the {c.Samples} fitted networks ({clock.Elapsed.TotalSeconds:F1} s)"));
        await output.WriteLineAsync("  " + string.Join(", ", c.Features.Zip(c.Coefficients, (f, k) => string.Create(CultureInfo.InvariantCulture, $"{f} {k:G4}"))));
        await output.WriteLineAsync($"check it on held-out architectures: mnasnet latency-table evaluate --table {path} (another --seed than {seed})");
        return ExitCodes.Success;
    }
}

public sealed class LatencyTableBuildCommand : CliCommand
{
    private readonly Option<string> _backend = LatencyOptions.Backend();
    private readonly Option<string> _out = new("--out") { Description = "Table file (JSON) to write.", Required = true };
    private readonly NetworkOptionsBinder _network = new();
    private readonly Option<int?> _threads = LatencyOptions.Threads();
    private readonly Option<int> _runs = LatencyOptions.Runs(10);
    private readonly Option<int> _warmup = LatencyOptions.Warmup(3);
    private readonly Option<int> _samples = new("--samples") { Description = "Cover only the layers of N random architectures (0: every layer of the search space).", DefaultValueFactory = _ => 0 };
    private readonly Option<ulong> _seed = LatencyOptions.Seed();
    private readonly Option<LatencyEstimator> _estimator = new("--estimator")
    {
        Description = "Statistic of each layer's and network's runs the table predicts: median, or min (the fastest run: steady on a host other processes share).",
        DefaultValueFactory = _ => LatencyEstimator.Median,
    };

    public LatencyTableBuildCommand() : base("build", "Measure every distinct layer of the search space once and write the table.")
    {
        Options.Add(_backend);
        Options.Add(_out);
        _network.AddTo(this);
        Options.Add(_threads);
        Options.Add(_runs);
        Options.Add(_warmup);
        Options.Add(_samples);
        Options.Add(_seed);
        Options.Add(_estimator);
    }

    protected override int? ExitCodeFor(Exception e) => LatencyOptions.ExitCodeFor(e) ?? base.ExitCodeFor(e);

    protected override async Task<int> ExecuteAsync(ParseResult parseResult, TextWriter output, CancellationToken cancellationToken)
    {
        var network = _network.Bind(parseResult);
        var protocol = LatencyOptions.Protocol(parseResult.GetValue(_warmup), parseResult.GetValue(_runs));
        var samples = parseResult.GetValue(_samples);
        if (samples < 0)
        {
            throw new CliInputException($"--samples must be 0 or more, got {samples}");
        }
        var seed = parseResult.GetValue(_seed);
        var space = MnasNetSearchSpace.Default;
        IReadOnlyList<Architecture> probe = [];
        if (samples > 0)
        {
            var random = new SeededRandom(seed);
            probe = Enumerable.Range(0, samples).Select(_ => space.Decode(space.Sample(random))).ToArray();
        }
        foreach (var arch in probe.Count > 0 ? probe : [space.Decode(space.Sample(new SeededRandom(seed)))])
        {
            ResolutionLimits.Default.Check(arch, network);
        }
        var layers = samples > 0 ? LatencyTableBuilder.DistinctLayers(probe, network) : LatencyTableBuilder.SearchSpaceLayers(space, network);
        await using var device = LatencyBackends.CreateLayerBackend(parseResult.GetValue(_backend)!, parseResult.GetValue(_threads), (long)seed);
        await output.WriteLineAsync($"measuring {layers.Count} distinct layers at {network.Resolution}x{network.Resolution} on {device.DeviceId} ({protocol.Warmup} warm-up, {protocol.Runs} runs each)");
        var clock = Stopwatch.StartNew();
        var every = Math.Max(1, layers.Count / 10);
        var table = await LatencyTableBuilder.BuildAsync(device, layers, network, protocol,
            new Progress<TableBuildProgress>(p =>
            {
                if (p.Done % every == 0)
                {
                    output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"  {p.Done}/{p.Total} layers, {clock.Elapsed.TotalSeconds:F0} s"));
                }
            }), cancellationToken, parseResult.GetValue(_estimator));
        var path = parseResult.GetValue(_out)!;
        table.Save(path);
        await output.WriteLineAsync(string.Create(CultureInfo.InvariantCulture,
            $"wrote {path}: {table.Entries.Count} layers, call overhead {table.CallOverheadMs:F4} ms, {clock.Elapsed.TotalSeconds:F1} s, platform: {table.Platform.Summary}"));
        return ExitCodes.Success;
    }

    // System.Progress posts to the thread pool; reporting in order on the caller's writer needs a synchronous one.
    private sealed class Progress<T>(Action<T> report) : IProgress<T>
    {
        public void Report(T value) => report(value);
    }
}

public sealed class LatencyTableEvaluateCommand : CliCommand
{
    private readonly Option<string> _table = new("--table") { Description = "Table file (JSON).", Required = true };
    private readonly Option<int> _samples = new("--samples") { Description = "Random architectures to measure.", DefaultValueFactory = _ => 50 };
    private readonly Option<string?> _backend = new("--backend") { Description = "Device to measure on (default: the table's backend and threads)." };
    private readonly Option<int> _runs = LatencyOptions.Runs(20);
    private readonly Option<int> _warmup = LatencyOptions.Warmup(5);
    private readonly Option<ulong> _seed = LatencyOptions.Seed();
    private readonly Option<bool> _json = LatencyOptions.Json();
    private readonly Option<int> _rounds = LatencyOptions.Rounds();

    public LatencyTableEvaluateCommand() : base("evaluate", "Predict random architectures from the table and measure them: MAPE and Kendall's tau.")
    {
        Options.Add(_table);
        Options.Add(_samples);
        Options.Add(_backend);
        Options.Add(_runs);
        Options.Add(_warmup);
        Options.Add(_seed);
        Options.Add(_json);
        Options.Add(_rounds);
    }

    protected override int? ExitCodeFor(Exception e) => LatencyOptions.ExitCodeFor(e) ?? base.ExitCodeFor(e);

    protected override async Task<int> ExecuteAsync(ParseResult parseResult, TextWriter output, CancellationToken cancellationToken)
    {
        var samples = parseResult.GetValue(_samples);
        if (samples < 2)
        {
            throw new CliInputException($"--samples must be at least 2 (Kendall's tau compares pairs), got {samples}");
        }
        var rounds = LatencyOptions.RoundsOf(parseResult, _rounds);
        var protocol = LatencyOptions.Protocol(parseResult.GetValue(_warmup), parseResult.GetValue(_runs));
        var table = LatencyTable.Load(parseResult.GetValue(_table)!);
        await using var device = LatencyBackends.Create(LatencyTableCommand.ReferenceSpec(table, parseResult.GetValue(_backend)), seed: (long)parseResult.GetValue(_seed));
        var clock = Stopwatch.StartNew();
        var evaluation = await LatencyTableEvaluator.EvaluateAsync(table, device, samples, parseResult.GetValue(_seed), protocol, cancellationToken: cancellationToken, rounds: rounds);
        if (parseResult.GetValue(_json))
        {
            await WriteJsonAsync(output, new
            {
                samples = evaluation.Samples,
                heldOut = evaluation.HeldOut,
                corrected = evaluation.Corrected,
                mapePercent = evaluation.MapePercent,
                kendallTau = evaluation.KendallTau,
                tableSumMapePercent = evaluation.TableSumMapePercent,
                tableSumKendallTau = evaluation.TableSumKendallTau,
                speedFactor = evaluation.SpeedFactor,
                scaledMapePercent = evaluation.ScaledMapePercent,
                resolution = table.Options.Resolution,
                device = evaluation.ReferenceDevice,
                rounds = evaluation.Rounds,
                tablePlatform = table.Platform,
                seconds = clock.Elapsed.TotalSeconds,
                points = evaluation.Points,
            });
            return ExitCodes.Success;
        }
        foreach (var p in evaluation.Points)
        {
            await output.WriteLineAsync(string.Create(CultureInfo.InvariantCulture,
                $"  {p.Tokens}  predicted {p.PredictedMs,9:F3} ms  measured {p.MeasuredMs,9:F3} ms{(p.HeldOut ? "" : "  (fitted)")}"));
        }
        var scope = evaluation.Corrected ? $"{evaluation.HeldOut} held-out" : $"{evaluation.Samples}";
        await output.WriteLineAsync(string.Create(CultureInfo.InvariantCulture,
            $"MAPE {evaluation.MapePercent:F2}%, Kendall tau {evaluation.KendallTau:F3} on {scope} random architectures at {table.Options.Resolution}x{table.Options.Resolution}, measured on {evaluation.ReferenceDevice} in {LatencyTableCommand.Rounds(evaluation.Rounds)} ({clock.Elapsed.TotalSeconds:F1} s)"));
        await output.WriteLineAsync(string.Create(CultureInfo.InvariantCulture,
            $"  with the device's speed factored out (measured ≈ {evaluation.SpeedFactor:F3} × predicted, the median ratio): MAPE {evaluation.ScaledMapePercent:F2}%"));
        if (evaluation.Corrected)
        {
            await output.WriteLineAsync(string.Create(CultureInfo.InvariantCulture,
                $"  the per-layer sum without the table's correction: MAPE {evaluation.TableSumMapePercent:F2}%, Kendall tau {evaluation.TableSumKendallTau:F3}"));
        }
        return ExitCodes.Success;
    }
}
