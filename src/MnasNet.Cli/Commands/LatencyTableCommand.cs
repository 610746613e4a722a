using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using MnasNet.Latency;
using MnasNet.Latency.Backends;
using MnasNet.Latency.Table;
using MnasNet.SearchSpace;

namespace MnasNet.Cli.Commands;

/// <summary><c>mnasnet latency-table build|evaluate</c>.</summary>
public sealed class LatencyTableCommand : Command
{
    public LatencyTableCommand() : base("latency-table", "Per-layer latency lookup tables: build one on a device, evaluate its predictions.")
    {
        Subcommands.Add(new LatencyTableBuildCommand());
        Subcommands.Add(new LatencyTableEvaluateCommand());
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
            }), cancellationToken);
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

    public LatencyTableEvaluateCommand() : base("evaluate", "Predict random architectures from the table and measure them: MAPE and Kendall's tau.")
    {
        Options.Add(_table);
        Options.Add(_samples);
        Options.Add(_backend);
        Options.Add(_runs);
        Options.Add(_warmup);
        Options.Add(_seed);
        Options.Add(_json);
    }

    protected override int? ExitCodeFor(Exception e) => LatencyOptions.ExitCodeFor(e) ?? base.ExitCodeFor(e);

    protected override async Task<int> ExecuteAsync(ParseResult parseResult, TextWriter output, CancellationToken cancellationToken)
    {
        var samples = parseResult.GetValue(_samples);
        if (samples < 2)
        {
            throw new CliInputException($"--samples must be at least 2 (Kendall's tau compares pairs), got {samples}");
        }
        var protocol = LatencyOptions.Protocol(parseResult.GetValue(_warmup), parseResult.GetValue(_runs));
        var table = LatencyTable.Load(parseResult.GetValue(_table)!);
        var spec = parseResult.GetValue(_backend) ?? $"{table.Platform.Backend}:threads={table.Platform.Threads}";
        if (table.Platform.IsSimulated && parseResult.GetValue(_backend) is null)
        {
            spec = SimulatedBackend.Name;
        }
        await using var device = LatencyBackends.Create(spec, seed: (long)parseResult.GetValue(_seed));
        var clock = Stopwatch.StartNew();
        var evaluation = await LatencyTableEvaluator.EvaluateAsync(table, device, samples, parseResult.GetValue(_seed), protocol, cancellationToken: cancellationToken);
        if (parseResult.GetValue(_json))
        {
            await WriteJsonAsync(output, new
            {
                samples = evaluation.Samples,
                mapePercent = evaluation.MapePercent,
                kendallTau = evaluation.KendallTau,
                resolution = table.Options.Resolution,
                device = evaluation.ReferenceDevice,
                tablePlatform = table.Platform,
                seconds = clock.Elapsed.TotalSeconds,
                points = evaluation.Points,
            });
            return ExitCodes.Success;
        }
        foreach (var p in evaluation.Points)
        {
            await output.WriteLineAsync(string.Create(CultureInfo.InvariantCulture, $"  {p.Tokens}  predicted {p.PredictedMs,9:F3} ms  measured {p.MeasuredMs,9:F3} ms"));
        }
        await output.WriteLineAsync(string.Create(CultureInfo.InvariantCulture,
            $"MAPE {evaluation.MapePercent:F2}%, Kendall tau {evaluation.KendallTau:F3} on {evaluation.Samples} random architectures at {table.Options.Resolution}x{table.Options.Resolution}, measured on {evaluation.ReferenceDevice} ({clock.Elapsed.TotalSeconds:F1} s)"));
        return ExitCodes.Success;
    }
}
