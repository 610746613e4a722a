using System.CommandLine;
using MnasNet.Latency;
using MnasNet.Latency.Onnx;
using MnasNet.SearchSpace;

namespace MnasNet.Cli.Commands;

/// <summary><c>mnasnet export --arch … --format onnx --out FILE</c>: the architecture (seeded random weights) as ONNX.</summary>
public sealed class ExportCommand : CliCommand
{
    private readonly Option<string> _arch = LatencyOptions.Arch();
    private readonly Option<string> _format = new("--format") { Description = "Output format (onnx).", DefaultValueFactory = _ => "onnx" };
    private readonly Option<string> _out = new("--out") { Description = "Output file.", Required = true };
    private readonly NetworkOptionsBinder _network = new();
    private readonly Option<int> _batch = new("--batch") { Description = "Batch size of the graph's input (0: dynamic).", DefaultValueFactory = _ => 1 };
    private readonly Option<ulong> _seed = LatencyOptions.Seed();

    public ExportCommand() : base("export", "Export an architecture to ONNX (opset 17, BatchNorm folded, eval mode).")
    {
        Options.Add(_arch);
        Options.Add(_format);
        Options.Add(_out);
        _network.AddTo(this);
        Options.Add(_batch);
        Options.Add(_seed);
    }

    protected override int? ExitCodeFor(Exception e) => e switch
    {
        UnauthorizedAccessException or IOException and not FileNotFoundException and not DirectoryNotFoundException => ExitCodes.Failure,
        _ => LatencyOptions.ExitCodeFor(e) ?? base.ExitCodeFor(e),
    };

    protected override async Task<int> ExecuteAsync(ParseResult parseResult, TextWriter output, CancellationToken cancellationToken)
    {
        var format = parseResult.GetValue(_format)!;
        if (!format.Equals("onnx", StringComparison.OrdinalIgnoreCase))
        {
            throw new CliInputException($"unknown format '{format}' (known: onnx)");
        }
        var batch = parseResult.GetValue(_batch);
        if (batch < 0)
        {
            throw new CliInputException($"--batch must be 0 (dynamic) or more, got {batch}");
        }
        var arch = ArchitectureResolver.Resolve(parseResult.GetValue(_arch)!);
        var network = _network.Bind(parseResult);
        ResolutionLimits.Default.Check(arch, network);
        var path = parseResult.GetValue(_out)!;
        var model = OnnxExporter.Export(arch, network, (long)parseResult.GetValue(_seed), new OnnxExportOptions(batch));
        OnnxExporter.Save(model, path);
        await output.WriteLineAsync(
            $"wrote {path}: {ArchitectureResolver.NameOf(arch) ?? arch.Id}, input {OnnxExporter.InputName} [{(batch == 0 ? "batch" : batch)}, {network.InputChannels}, {network.Resolution}, {network.Resolution}], " +
            $"output {OnnxExporter.OutputName} [{(batch == 0 ? "batch" : batch)}, {network.Classes}], {model.Graph.Node.Count} nodes, IR {model.IrVersion}, opset {OnnxExporter.Opset}, {new FileInfo(path).Length:N0} bytes");
        return ExitCodes.Success;
    }
}
