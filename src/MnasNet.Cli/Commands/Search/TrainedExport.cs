using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using MnasNet.Actors.State;
using MnasNet.Latency.Onnx;
using MnasNet.Latency.Tflite;
using MnasNet.SearchSpace;
using MnasNet.Torch;
using MnasNet.Training.Models;
using MnasNet.Training.Proxy;

namespace MnasNet.Cli.Commands.Search;

/// <summary>
/// A fully trained finalist as files: the trained network as ONNX and TFLite (BatchNorm folded, the shape it was
/// trained at), its TorchSharp state file (the best epoch's checkpoint), the architecture JSON and
/// <c>model-card.json</c> (search, trial, proxy and final accuracy, latency per target, params, MACs, dataset, recipe).
/// </summary>
internal static class TrainedExport
{
    public const string ModelCardFile = "model-card.json";

    /// <summary>Writes the files into <paramref name="directory"/>; returns one line per file written.</summary>
    public static async Task<IReadOnlyList<string>> WriteAsync(SearchSummary summary, long trialId, string directory, bool onnx, bool tflite, CancellationToken cancellationToken)
    {
        var finalist = summary.Finalists.FirstOrDefault(f => f.TrialId == trialId && f.Record is not null)
            ?? throw new CliInputException($"trial {trialId} of search '{summary.SearchId}' has no final training result", ExitCodes.NotFound);
        var record = finalist.Record!;
        if (!File.Exists(record.BestCheckpoint))
        {
            throw new CliInputException($"trial {trialId}: its best checkpoint '{record.BestCheckpoint}' is missing", ExitCodes.NotFound);
        }
        if (EpochCheckpoint.HashOf(record.BestCheckpoint) != record.BestCheckpointSha256)
        {
            throw new CliInputException($"trial {trialId}: checkpoint '{record.BestCheckpoint}' does not have the SHA-256 journaled for it");
        }
        Directory.CreateDirectory(directory);
        var lines = new List<string>();
        var arch = MnasNetSearchSpace.Default.Decode(finalist.Tokens);
        var archPath = Path.Combine(directory, $"trial-{trialId}.json");
        await File.WriteAllTextAsync(archPath, ArchitectureJson.ToJson(arch, indented: true), cancellationToken);
        lines.Add($"architecture {arch.Id}: {archPath}");
        var statePath = Path.Combine(directory, $"trial-{trialId}.pt");
        File.Copy(record.BestCheckpoint, statePath, overwrite: true);
        lines.Add($"trained TorchSharp state (epoch {record.BestEpoch}): {statePath}");

        var network = new NetworkOptions(record.Resolution, record.Channels, record.Classes, record.Width);
        TorchRuntime.EnsureLoaded(1);
        var files = new JsonObject { ["architecture"] = Path.GetFileName(archPath), ["torchsharpState"] = Path.GetFileName(statePath) };
        using (var model = MnasNetModel.Build(arch, network))
        {
            model.load(statePath);
            model.eval();
            if (onnx)
            {
                var onnxPath = Path.Combine(directory, $"trial-{trialId}.onnx");
                OnnxExporter.Save(OnnxExporter.Export(model), onnxPath);
                files["onnx"] = Path.GetFileName(onnxPath);
                lines.Add($"onnx ({record.Resolution}x{record.Resolution}x{record.Channels}, {record.Classes} classes, trained weights): {onnxPath}");
            }
            if (tflite)
            {
                var tflitePath = Path.Combine(directory, $"trial-{trialId}.tflite");
                TfliteExporter.Save(TfliteExporter.Export(model), tflitePath);
                files["tflite"] = Path.GetFileName(tflitePath);
                lines.Add($"tflite (1x{record.Resolution}x{record.Resolution}x{record.Channels} NHWC, trained weights): {tflitePath}");
            }
        }
        var cardPath = Path.Combine(directory, ModelCardFile);
        await File.WriteAllTextAsync(cardPath, ModelCard(summary, finalist, files).ToJsonString(new JsonSerializerOptions { WriteIndented = true }), cancellationToken);
        lines.Add($"model card: {cardPath}");
        return lines;
    }

    public static JsonObject ModelCard(SearchSummary summary, FinalistSummary finalist, JsonObject files)
    {
        var record = finalist.Record!;
        var latency = new JsonArray();
        for (var i = 0; i < finalist.LatenciesMs.Count; i++)
        {
            latency.Add(new JsonObject
            {
                ["platform"] = i < summary.Targets.Count ? summary.Targets[i].Platform : null,
                ["latencyMs"] = finalist.LatenciesMs[i],
                ["targetMs"] = i < summary.Targets.Count ? summary.Targets[i].TargetMs : null,
            });
        }
        return new JsonObject
        {
            ["searchId"] = summary.SearchId,
            ["trial"] = finalist.TrialId,
            ["architectureId"] = finalist.ArchitectureId,
            ["proxyAccuracy"] = finalist.ProxyAccuracy,
            ["proxyReward"] = finalist.ProxyReward,
            ["finalAccuracy"] = record.Accuracy,
            ["bestAccuracy"] = record.BestAccuracy,
            ["bestEpoch"] = record.BestEpoch,
            ["epochs"] = record.Epochs,
            ["latency"] = latency,
            ["parameters"] = record.Parameters,
            ["macs"] = record.Macs,
            ["resolution"] = record.Resolution,
            ["channels"] = record.Channels,
            ["classes"] = record.Classes,
            ["width"] = record.Width,
            ["dataset"] = finalist.Dataset,
            ["trainImages"] = record.TrainImages,
            ["testImages"] = record.TestImages,
            ["recipe"] = JsonNode.Parse(finalist.RecipeJson),
            ["seed"] = record.Seed.ToString(CultureInfo.InvariantCulture),
            ["platform"] = record.Platform,
            ["checkpointSha256"] = record.BestCheckpointSha256,
            ["files"] = files,
        };
    }
}

/// <summary>The finalists' table: proxy vs final accuracy, best epoch, latency; Kendall's τ between proxy and final.</summary>
internal static class FinalTable
{
    public static async Task WriteAsync(TextWriter output, SearchSummary summary, IReadOnlyCollection<long>? only = null)
    {
        var rows = summary.Finalists.Where(f => only is null || only.Contains(f.TrialId)).ToList();
        if (rows.Count == 0)
        {
            return;
        }
        var inv = CultureInfo.InvariantCulture;
        await output.WriteLineAsync("trial  status       epochs    proxy acc  final acc  best acc (epoch)  latency ms");
        foreach (var f in rows)
        {
            var latency = string.Join(" / ", f.LatenciesMs.Select(l => l is { } v ? v.ToString("F2", inv) : "-"));
            await output.WriteLineAsync(string.Create(inv,
                $"{f.TrialId,5}  {f.Status,-11}  {f.EpochsDone,3}/{f.Epochs,-4}  {Fmt(f.ProxyAccuracy),9}  {Fmt(f.FinalAccuracy),9}  {Fmt(f.BestAccuracy),8} ({(f.BestEpoch is { } e ? e.ToString(inv) : "-")})  {latency}"));
        }
        if (summary.ProxyFidelityTau is { } tau)
        {
            await output.WriteLineAsync(string.Create(inv, $"proxy fidelity: Kendall tau {tau:F3} between proxy and final accuracy over {summary.Finalists.Count(f => f.FinalAccuracy is not null)} finalists"));
        }
    }

    private static string Fmt(double? v) => v is { } x ? x.ToString("F4", CultureInfo.InvariantCulture) : "-";
}
