using System.CommandLine;
using System.Globalization;
using MnasNet.Bench;
using MnasNet.Controller;
using MnasNet.Torch;

namespace MnasNet.Cli.Commands;

/// <summary><c>mnasnet bench …</c>: throughput figures (speed goals live here, not in timed tests).</summary>
public sealed class BenchCommand : Command
{
    public BenchCommand() : base("bench", "Measure throughput and print the figures.")
    {
        Subcommands.Add(new BenchControllerCommand());
        Subcommands.Add(new Search.BenchClusterCommand());
    }
}

public sealed class BenchControllerCommand : CliCommand
{
    private readonly Option<int> _batch = new("--batch") { Description = "Architectures per sampling call and per PPO update.", DefaultValueFactory = _ => 32 };
    private readonly Option<int> _sampleBatches = new("--sample-batches") { Description = "Timed sampling calls.", DefaultValueFactory = _ => 20 };
    private readonly Option<int> _updates = new("--updates") { Description = "Timed PPO updates.", DefaultValueFactory = _ => 10 };
    private readonly Option<int> _threads = new("--threads") { Description = "libtorch intra-op threads.", DefaultValueFactory = _ => 1 };
    private readonly Option<bool> _json = new("--json") { Description = "Print JSON." };

    public BenchControllerCommand() : base("controller", "Controller throughput at the default sizes: architectures sampled per second and PPO updates per second.")
    {
        Options.Add(_batch);
        Options.Add(_sampleBatches);
        Options.Add(_updates);
        Options.Add(_threads);
        Options.Add(_json);
    }

    protected override int? ExitCodeFor(Exception e) => e switch
    {
        ControllerException => ExitCodes.InvalidInput,
        TorchLoadException => ExitCodes.Failure,
        _ => base.ExitCodeFor(e),
    };

    protected override async Task<int> ExecuteAsync(ParseResult parseResult, TextWriter output, CancellationToken cancellationToken)
    {
        var batch = parseResult.GetValue(_batch);
        if (batch is < 1 or > 100_000)
        {
            throw new CliInputException($"--batch must be between 1 and 100000, got {batch}");
        }
        var options = (ControllerOptions.Default with { Threads = parseResult.GetValue(_threads) }).Validate();
        var r = await Task.Run(() => ControllerBenchmark.Run(options, batch, parseResult.GetValue(_sampleBatches), parseResult.GetValue(_updates)), cancellationToken);
        if (parseResult.GetValue(_json))
        {
            await WriteJsonAsync(output, r);
            return ExitCodes.Success;
        }
        var o = r.Options;
        var inv = CultureInfo.InvariantCulture;
        await output.WriteLineAsync(string.Create(inv, $"controller: {o.LstmLayers}-layer LSTM, {o.HiddenSize} hidden, {o.EmbeddingSize} embedding, {r.ParameterCount:N0} parameters, {o.Threads} thread(s), libtorch {TorchRuntime.LibTorchVersion}"));
        await output.WriteLineAsync(string.Create(inv, $"sampling: {r.SamplesPerSecond:F0} architectures/s (batches of {r.Batch}, {r.SampleBatches} timed calls)"));
        await output.WriteLineAsync(string.Create(inv, $"ppo update: {r.UpdatesPerSecond:F2} updates/s, {r.MillisecondsPerUpdate:F1} ms each (batch {r.Batch}, {o.Epochs} epochs, {r.Updates} timed)"));
        return ExitCodes.Success;
    }
}
