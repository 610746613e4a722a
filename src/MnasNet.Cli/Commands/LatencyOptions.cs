using System.CommandLine;
using MnasNet.Latency;
using MnasNet.Latency.Measurement;

using MnasNet.Latency.Table;

namespace MnasNet.Cli.Commands;

/// <summary>Options shared by the latency commands, and the exit codes of the latency errors.</summary>
internal static class LatencyOptions
{
    public static Option<string> Arch() => new("--arch")
    {
        Description = "A reference name (mnasnet-a1, mnasnet-b1, mobilenet-v2), a token string or an architecture .json file.",
        Required = true,
    };

    public static Option<string> Backend(string? fallback = LatencyBackends.Default) => new("--backend")
    {
        Description = "onnxruntime[:threads=N], tflite[:threads=N,xnnpack=on|off], torchsharp[:threads=N], simulated[:seed=S,noise=CV], table:FILE or a phone adb[:serial=S,threads=1,cores=auto|MASK,binary=PATH,xnnpack=on|off].",
        DefaultValueFactory = fallback is null ? null! : _ => fallback,
    };

    public static Option<int?> Threads() => new("--threads") { Description = "Intra-op threads (default 1, the paper's single core)." };

    public static Option<int> Runs(int fallback) => new("--runs") { Description = "Timed runs.", DefaultValueFactory = _ => fallback };

    public static Option<int> Rounds() => new("--rounds")
    {
        Description = "Interleaved rounds: every architecture is measured once per round, and its figure is the table's estimator over its rounds (steadier on a shared host).",
        DefaultValueFactory = _ => 3,
    };

    public static int RoundsOf(ParseResult parseResult, Option<int> option)
    {
        var rounds = parseResult.GetValue(option);
        return rounds is >= 1 and <= LatencyTableEvaluator.MaxRounds
            ? rounds
            : throw new CliInputException($"{option.Name} must be between 1 and {LatencyTableEvaluator.MaxRounds}, got {rounds}");
    }

    public static Option<int> Warmup(int fallback) => new("--warmup") { Description = "Untimed warm-up runs.", DefaultValueFactory = _ => fallback };

    public static Option<ulong> Seed() => new("--seed") { Description = "Seed for weights, inputs and sampled architectures.", DefaultValueFactory = _ => 1UL };

    public static Option<bool> Json() => new("--json") { Description = "Print JSON." };

    public static MeasurementProtocol Protocol(int warmup, int runs, double? cvTarget = null, double? budgetSeconds = null)
    {
        try
        {
            return new MeasurementProtocol(warmup, runs, cvTarget, budgetSeconds is { } s ? TimeSpan.FromSeconds(s) : null).Validate();
        }
        catch (ArgumentException e)
        {
            throw new CliInputException(e.Message);
        }
    }

    public static int? ExitCodeFor(Exception e) => e switch
    {
        UnknownBackendException or ArchitectureTooLargeException => ExitCodes.InvalidInput,
        LatencyTableException t when t.InnerException is FileNotFoundException or DirectoryNotFoundException => ExitCodes.NotFound,
        LatencyTableException => ExitCodes.InvalidInput,
        ArgumentException => ExitCodes.InvalidInput,
        MnasNet.Latency.Tflite.TfliteLibraryNotFoundException => ExitCodes.NotFound,
        LatencyException => ExitCodes.Failure,
        _ => null,
    };
}
