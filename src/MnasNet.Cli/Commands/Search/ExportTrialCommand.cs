using System.CommandLine;
using MnasNet.Actors.State;
using MnasNet.Latency.Onnx;
using MnasNet.Latency.Tflite;
using MnasNet.SearchSpace;

namespace MnasNet.Cli.Commands.Search;

/// <summary>
/// <c>mnasnet export-trial ID --trial N --out DIR</c>: the trial's architecture JSON, ONNX and TFLite files of the
/// deployed network (224×224×3, 1000 classes, the same seeded weights: the shape whose latency was measured) and,
/// where kept, the trained proxy weights (TorchSharp .pt). A trial fully trained by <c>train-final</c> is exported
/// with its trained weights instead, at the shape it was trained at, with a <c>model-card.json</c>
/// (<see cref="TrainedExport"/>). Named export-trial so it never clashes with <c>mnasnet export --arch</c>.
/// </summary>
public sealed class ExportTrialCommand : SearchCliCommand
{
    private readonly Argument<string> _id = IdArgument();
    private readonly JournalOptions _journal = new();
    private readonly Option<long> _trial = new("--trial") { Description = "Trial id.", Required = true };
    private readonly Option<string> _out = new("--out") { Description = "Output directory.", Required = true };
    private readonly Option<bool> _noOnnx = new("--no-onnx") { Description = "Skip the ONNX file." };
    private readonly Option<bool> _noTflite = new("--no-tflite") { Description = "Skip the TFLite file." };

    public ExportTrialCommand() : base("export-trial", "Export one trial of a search: architecture JSON, ONNX, TFLite, weights where kept.")
    {
        Arguments.Add(_id);
        _journal.AddTo(this);
        Options.Add(_trial);
        Options.Add(_out);
        Options.Add(_noOnnx);
        Options.Add(_noTflite);
    }

    protected override async Task<int> ExecuteAsync(ParseResult parseResult, TextWriter output, CancellationToken cancellationToken)
    {
        var id = parseResult.GetValue(_id)!;
        var trialId = parseResult.GetValue(_trial);
        var summary = SearchSummary.From(id, _journal.Resolve(parseResult).Open().ReadEvents(id));
        var trial = summary.Trials.FirstOrDefault(t => t.TrialId == trialId)
            ?? throw new CliInputException($"search '{id}' has no trial {trialId} (trials 0..{summary.Trials.Count - 1})", ExitCodes.NotFound);
        var outDir = parseResult.GetValue(_out)!;
        if (summary.Finalists.Any(f => f.TrialId == trialId && f.Record is not null))
        {
            foreach (var line in await TrainedExport.WriteAsync(summary, trialId, outDir, !parseResult.GetValue(_noOnnx), !parseResult.GetValue(_noTflite), cancellationToken))
            {
                await output.WriteLineAsync(line);
            }
            return ExitCodes.Success;
        }
        Directory.CreateDirectory(outDir);
        var arch = MnasNetSearchSpace.Default.Decode(trial.Tokens);
        var archPath = Path.Combine(outDir, $"trial-{trialId}.json");
        await File.WriteAllTextAsync(archPath, ArchitectureJson.ToJson(arch, indented: true), cancellationToken);
        await output.WriteLineAsync($"architecture {arch.Id}: {archPath}");
        if (!parseResult.GetValue(_noOnnx))
        {
            var onnxPath = Path.Combine(outDir, $"trial-{trialId}.onnx");
            OnnxExporter.Save(OnnxExporter.Export(arch, NetworkOptions.ImageNet), onnxPath);
            await output.WriteLineAsync($"onnx (224x224x3, 1000 classes, seeded weights): {onnxPath}");
        }
        if (!parseResult.GetValue(_noTflite))
        {
            var tflitePath = Path.Combine(outDir, $"trial-{trialId}.tflite");
            TfliteExporter.Save(TfliteExporter.Export(arch, NetworkOptions.ImageNet), tflitePath);
            await output.WriteLineAsync($"tflite (1x224x224x3 NHWC, 1000 classes, the same seeded weights): {tflitePath}");
        }
        if (trial.WeightsPath is { } weights && File.Exists(weights))
        {
            var target = Path.Combine(outDir, $"trial-{trialId}.pt");
            File.Copy(weights, target, overwrite: true);
            await output.WriteLineAsync($"trained proxy weights: {target}");
        }
        else
        {
            await output.WriteLineAsync("no trained weights kept for this trial");
        }
        return ExitCodes.Success;
    }
}
