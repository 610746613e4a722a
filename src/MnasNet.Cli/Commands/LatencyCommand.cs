using System.CommandLine;
using System.Globalization;
using MnasNet.Latency;
using MnasNet.SearchSpace;

namespace MnasNet.Cli.Commands;

/// <summary><c>mnasnet latency --arch … [--backend …]</c>: one measurement with its full record.</summary>
public sealed class LatencyCommand : CliCommand
{
    private readonly Option<string> _arch = LatencyOptions.Arch();
    private readonly Option<string> _backend = LatencyOptions.Backend();
    private readonly NetworkOptionsBinder _network = new();
    private readonly Option<int?> _threads = LatencyOptions.Threads();
    private readonly Option<int> _runs = LatencyOptions.Runs(50);
    private readonly Option<int> _warmup = LatencyOptions.Warmup(10);
    private readonly Option<double?> _cvTarget = new("--cv-target") { Description = "Repeat rounds of --runs until the CV is at most this (needs --time-budget)." };
    private readonly Option<double?> _budget = new("--time-budget") { Description = "Seconds of timed runs at most, with --cv-target." };
    private readonly Option<ulong> _seed = LatencyOptions.Seed();
    private readonly Option<bool> _json = LatencyOptions.Json();

    public LatencyCommand() : base("latency", "Measure an architecture's batch-1 latency on an inference engine (or simulate or predict it).")
    {
        Options.Add(_arch);
        Options.Add(_backend);
        _network.AddTo(this);
        Options.Add(_threads);
        Options.Add(_runs);
        Options.Add(_warmup);
        Options.Add(_cvTarget);
        Options.Add(_budget);
        Options.Add(_seed);
        Options.Add(_json);
    }

    protected override int? ExitCodeFor(Exception e) => LatencyOptions.ExitCodeFor(e) ?? base.ExitCodeFor(e);

    protected override async Task<int> ExecuteAsync(ParseResult parseResult, TextWriter output, CancellationToken cancellationToken)
    {
        var arch = ArchitectureResolver.Resolve(parseResult.GetValue(_arch)!);
        var network = _network.Bind(parseResult);
        var protocol = LatencyOptions.Protocol(parseResult.GetValue(_warmup), parseResult.GetValue(_runs), parseResult.GetValue(_cvTarget), parseResult.GetValue(_budget));
        await using var backend = LatencyBackends.Create(parseResult.GetValue(_backend)!, parseResult.GetValue(_threads), (long)parseResult.GetValue(_seed));
        var m = await backend.MeasureAsync(arch, network, protocol, cancellationToken);
        var name = ArchitectureResolver.NameOf(arch);
        var s = m.Statistics;
        if (parseResult.GetValue(_json))
        {
            await WriteJsonAsync(output, new
            {
                architecture = name ?? arch.Id,
                architectureId = arch.Id,
                resolution = network.Resolution,
                macs = CostModel.Compute(arch, network).Macs,
                medianMs = s.MedianMs,
                meanMs = s.MeanMs,
                p90Ms = s.P90Ms,
                minMs = s.MinMs,
                maxMs = s.MaxMs,
                stdMs = s.StdMs,
                cv = s.Cv,
                runs = m.Runs,
                warmup = m.Warmup,
                rounds = m.Rounds,
                threads = m.Threads,
                outliers = s.OutlierCount,
                stopReason = m.StopReason.ToString(),
                backend = m.Platform.Backend,
                source = m.Platform.Source.ToString().ToLowerInvariant(),
                deviceId = m.DeviceId,
                platform = m.Platform,
                wallSeconds = m.WallSeconds,
                hostLoadAverage = m.HostLoadAverage,
                samplesMs = m.SamplesMs,
            });
            return ExitCodes.Success;
        }
        await output.WriteLineAsync(string.Create(CultureInfo.InvariantCulture,
            $"{name ?? "architecture"} {arch.Id} at {network.Resolution}x{network.Resolution}: median {s.MedianMs:F3} ms, p90 {s.P90Ms:F3} ms, " +
            $"mean {s.MeanMs:F3} ms, min {s.MinMs:F3} ms, max {s.MaxMs:F3} ms, CV {s.Cv:P1}"));
        await output.WriteLineAsync(string.Create(CultureInfo.InvariantCulture,
            $"{m.Runs} runs after {m.Warmup} warm-up ({m.StopReason}), {s.OutlierCount} outliers outside [{s.LowerFenceMs:F3}, {s.UpperFenceMs:F3}] ms, {m.WallSeconds:F2} s"));
        await output.WriteLineAsync($"platform: {m.Platform.Summary}");
        return ExitCodes.Success;
    }
}
