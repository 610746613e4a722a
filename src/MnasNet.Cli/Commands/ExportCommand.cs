using System.CommandLine;
using MnasNet.Latency;
using MnasNet.Latency.Onnx;
using MnasNet.Latency.Tflite;
using MnasNet.SearchSpace;

namespace MnasNet.Cli.Commands;

/// <summary>
/// <c>mnasnet export --arch … --format onnx|tflite --out FILE</c>: the architecture (seeded random weights) as ONNX
/// or TensorFlow Lite (the same weights).
/// </summary>
public sealed class ExportCommand : CliCommand
{
    private readonly Option<string> _arch = LatencyOptions.Arch();
    private readonly Option<string> _format = new("--format") { Description = "Output format: onnx or tflite.", DefaultValueFactory = _ => "onnx" };
    private readonly Option<string> _out = new("--out") { Description = "Output file.", Required = true };
    private readonly NetworkOptionsBinder _network = new();
    private readonly Option<int> _batch = new("--batch") { Description = "Batch size of the graph's input (0: dynamic; onnx only, tflite is batch 1).", DefaultValueFactory = _ => 1 };
    private readonly Option<ulong> _seed = LatencyOptions.Seed();

    public ExportCommand() : base("export", "Export an architecture to ONNX (opset 17) or TFLite (schema 3), BatchNorm folded, eval mode.")
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
        var format = parseResult.GetValue(_format)!.ToLowerInvariant();
        if (format is not ("onnx" or "tflite"))
        {
            throw new CliInputException($"unknown format '{parseResult.GetValue(_format)}' (known: onnx, tflite)");
        }
        var batch = parseResult.GetValue(_batch);
        if (batch < 0)
        {
            throw new CliInputException($"--batch must be 0 (dynamic) or more, got {batch}");
        }
        if (format == "tflite" && batch != 1)
        {
            throw new CliInputException($"--batch {batch}: TFLite exports are batch 1");
        }
        var arch = ArchitectureResolver.Resolve(parseResult.GetValue(_arch)!);
        var network = _network.Bind(parseResult);
        ResolutionLimits.Default.Check(arch, network);
        var path = parseResult.GetValue(_out)!;
        var seed = (long)parseResult.GetValue(_seed);
        var name = ArchitectureResolver.NameOf(arch) ?? arch.Id;
        if (format == "tflite")
        {
            TfliteExporter.Save(TfliteExporter.Export(arch, network, seed), path);
            await output.WriteLineAsync(
                $"wrote {path}: {name}, input {TfliteExporter.InputName} [1, {network.Resolution}, {network.Resolution}, {network.InputChannels}] (NHWC), " +
                $"output {TfliteExporter.OutputName} [1, {network.Classes}], TFLite schema {TfliteExporter.SchemaVersion}, {new FileInfo(path).Length:N0} bytes");
            return ExitCodes.Success;
        }
        var model = OnnxExporter.Export(arch, network, seed, new OnnxExportOptions(batch));
        OnnxExporter.Save(model, path);
        await output.WriteLineAsync(
            $"wrote {path}: {name}, input {OnnxExporter.InputName} [{(batch == 0 ? "batch" : batch)}, {network.InputChannels}, {network.Resolution}, {network.Resolution}], " +
            $"output {OnnxExporter.OutputName} [{(batch == 0 ? "batch" : batch)}, {network.Classes}], {model.Graph.Node.Count} nodes, IR {model.IrVersion}, opset {OnnxExporter.Opset}, {new FileInfo(path).Length:N0} bytes");
        return ExitCodes.Success;
    }
}
