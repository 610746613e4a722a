using System.CommandLine;
using System.Globalization;
using MnasNet.Bench;
using MnasNet.Torch;
using MnasNet.Training.Data;
using MnasNet.Training.Proxy;

namespace MnasNet.Cli.Commands;

/// <summary>
/// <c>mnasnet bench proxy-fidelity</c>: Kendall's τ between proxy and longer training over seeded sampled architectures.
/// </summary>
public sealed class BenchProxyFidelityCommand : CliCommand
{
    private readonly Option<string> _dataset = new("--dataset") { Description = $"Dataset: {DatasetSpec.Syntax}.", Required = true };
    private readonly Option<int> _architectures = new("--architectures") { Description = "Architectures sampled (seeded).", DefaultValueFactory = _ => 8 };
    private readonly Option<string?> _recipe = new("--recipe") { Description = "The proxy recipe as a JSON file (default: the search's proxy recipe)." };
    private readonly Option<int?> _proxyEpochs = new("--proxy-epochs") { Description = "Epochs of the proxy runs (default: the recipe's)." };
    private readonly Option<int?> _finalEpochs = new("--final-epochs") { Description = "Epochs of the final runs (default: 10 × the proxy's)." };
    private readonly Option<int?> _trainSize = new("--train-size") { Description = "Training images (default: all not held out)." };
    private readonly Option<int?> _valSize = new("--val-size") { Description = "Held-out validation images (default: 10%)." };
    private readonly Option<int?> _resolution = new("--resolution") { Description = "Input resolution (default: the dataset's; image folders: 32)." };
    private readonly Option<double> _width = new("--width") { Description = "Width multiplier (the search's default 0.5).", DefaultValueFactory = _ => 0.5 };
    private readonly Option<int> _threads = new("--threads") { Description = "libtorch threads per run.", DefaultValueFactory = _ => 1 };
    private readonly Option<int> _parallel = new("--parallel") { Description = "Runs trained at once (results do not depend on it).", DefaultValueFactory = _ => 1 };
    private readonly Option<ulong> _seed = new("--seed") { Description = "Seed of the architecture sample, the weights and the split.", DefaultValueFactory = _ => 1UL };
    private readonly Option<bool> _json = new("--json") { Description = "Print JSON." };

    public BenchProxyFidelityCommand() : base("proxy-fidelity", "Train seeded sampled architectures with the proxy recipe and ≥10× longer; print both accuracies and Kendall's tau.")
    {
        foreach (var option in new Option[] { _dataset, _architectures, _recipe, _proxyEpochs, _finalEpochs, _trainSize, _valSize, _resolution, _width, _threads, _parallel, _seed, _json })
        {
            Options.Add(option);
        }
    }

    protected override int? ExitCodeFor(Exception e) => TrainCommand.TrainingExitCodes(e) ?? base.ExitCodeFor(e);

    protected override async Task<int> ExecuteAsync(ParseResult parseResult, TextWriter output, CancellationToken cancellationToken)
    {
        var recipe = parseResult.GetValue(_recipe) is { } file ? TrainingRecipe.Load(file) : TrainingRecipe.Proxy;
        if (parseResult.GetValue(_proxyEpochs) is { } proxyEpochs)
        {
            recipe = recipe with { Epochs = proxyEpochs };
        }
        var spec = DatasetSpec.Parse(parseResult.GetValue(_dataset)!);
        var resolution = parseResult.GetValue(_resolution);
        var seed = parseResult.GetValue(_seed);
        var settings = new ProxyFidelitySettings
        {
            Architectures = parseResult.GetValue(_architectures),
            SampleSeed = seed,
            Proxy = recipe.Validate(),
            FinalEpochs = parseResult.GetValue(_finalEpochs) ?? 10 * recipe.Epochs,
            Parallelism = parseResult.GetValue(_parallel),
            Run = new ProxyTrainingOptions
            {
                Seed = seed,
                SplitSeed = seed,
                Width = parseResult.GetValue(_width),
                Threads = parseResult.GetValue(_threads),
                TrainSize = parseResult.GetValue(_trainSize),
                ValidationSize = parseResult.GetValue(_valSize),
                Resolution = spec.Kind == DatasetKind.ImageFolder ? null : resolution,
            },
        }.Validate();
        var dataset = spec.Load(resolution);
        var json = parseResult.GetValue(_json);
        var inv = CultureInfo.InvariantCulture;
        if (!json)
        {
            await output.WriteLineAsync(string.Create(inv,
                $"proxy fidelity on {dataset.Name}: {settings.Architectures} architectures (sample seed {seed}), proxy {recipe.Epochs} epoch(s), final {settings.FinalEpochs}; recipe {recipe.Optimizer} {recipe.LearningRatePer256}/256 batch {recipe.BatchSize} {recipe.Schedule}; width {settings.Run.Width}, {settings.Run.Threads} thread(s) × {settings.Parallelism}"));
        }
        var log = json ? null : new Action<string>(output.WriteLine);
        var result = await Task.Run(() => ProxyFidelityBenchmark.Run(settings, dataset, log, cancellationToken), cancellationToken);
        if (json)
        {
            await WriteJsonAsync(output, new
            {
                dataset = result.Dataset,
                architectures = settings.Architectures,
                sampleSeed = seed,
                proxyRecipe = recipe,
                finalEpochs = settings.FinalEpochs,
                trainCount = result.Rows[0].Proxy.TrainCount,
                validationCount = result.Rows[0].Proxy.ValidationCount,
                resolution = result.Rows[0].Proxy.Resolution,
                width = settings.Run.Width,
                threads = settings.Run.Threads,
                rows = result.Rows.Select(r => new
                {
                    r.Index,
                    r.ArchitectureId,
                    r.Parameters,
                    r.Macs,
                    proxyAccuracy = r.Proxy.ValAccuracy,
                    finalAccuracy = r.Final.ValAccuracy,
                    proxyOutcome = r.Proxy.Outcome.ToString(),
                    finalOutcome = r.Final.Outcome.ToString(),
                    proxySeconds = r.Proxy.Seconds,
                    finalSeconds = r.Final.Seconds,
                }),
                kendallTau = result.KendallTau,
                seconds = result.Seconds,
            });
        }
        else
        {
            await output.WriteLineAsync("");
            await output.WriteLineAsync($"| # | architecture | params | M MACs | proxy top-1 ({recipe.Epochs} ep) | final top-1 ({settings.FinalEpochs} ep) |");
            await output.WriteLineAsync("|---|---|---|---|---|---|");
            foreach (var r in result.Rows)
            {
                await output.WriteLineAsync(string.Create(inv,
                    $"| {r.Index} | {r.ArchitectureId} | {r.Parameters:N0} | {r.Macs / 1e6:F2} | {r.Proxy.ValAccuracy:P1} | {r.Final.ValAccuracy:P1} |"));
            }
            await output.WriteLineAsync("");
            await output.WriteLineAsync(string.Create(inv,
                $"Kendall tau (proxy vs final): {result.KendallTau:F3} over {result.Rows.Count} architectures; {result.Rows[0].Proxy.TrainCount} training / {result.Rows[0].Proxy.ValidationCount} held-out images at {result.Rows[0].Proxy.Resolution}px; {result.Seconds:F0} s"));
        }
        var failed = result.Rows.Count(r => !r.Proxy.Succeeded || !r.Final.Succeeded);
        if (failed > 0)
        {
            await parseResult.InvocationConfiguration.Error.WriteLineAsync($"warning: {failed} architecture(s) had a failed run (accuracy 0 in the ranking)");
        }
        return ExitCodes.Success;
    }
}
