using System.CommandLine;
using System.Globalization;
using MnasNet.SearchSpace;
using MnasNet.Torch;
using MnasNet.Training.Data;
using MnasNet.Training.Proxy;
using Spectre.Console;

namespace MnasNet.Cli.Commands;

/// <summary><c>mnasnet train</c>: proxy-train one architecture on a dataset and print its validation accuracy.</summary>
public sealed class TrainCommand : CliCommand
{
    private readonly Option<string> _arch = new("--arch") { Description = "A reference name, a token string or an architecture .json file.", Required = true };
    private readonly Option<string> _data = new("--data") { Description = $"Dataset: {DatasetSpec.Syntax}.", DefaultValueFactory = _ => "fashion-mnist" };
    private readonly Option<int> _epochs = new("--epochs") { Description = "Training epochs.", DefaultValueFactory = _ => 1 };
    private readonly Option<int?> _trainSize = new("--train-size") { Description = "Training images used (default: all not held out)." };
    private readonly Option<int?> _valSize = new("--val-size") { Description = "Images held out of the training set for validation (default: 10%)." };
    private readonly Option<int?> _resolution = new("--resolution") { Description = "Input resolution (default: the dataset's; image folders: 32)." };
    private readonly Option<int> _batch = new("--batch") { Description = "Batch size.", DefaultValueFactory = _ => 64 };
    private readonly Option<int> _threads = new("--threads") { Description = "libtorch threads (part of the determinism).", DefaultValueFactory = _ => 2 };
    private readonly Option<ulong> _seed = new("--seed") { Description = "Seed of weights, shuffling and augmentation.", DefaultValueFactory = _ => 0UL };
    private readonly Option<double> _width = new("--width") { Description = "Width multiplier.", DefaultValueFactory = _ => 1.0 };
    private readonly Option<string> _optimizer = new("--optimizer") { Description = "sgd (Nesterov momentum) or rmsprop (the paper's).", DefaultValueFactory = _ => "sgd" };
    private readonly Option<double?> _lr = new("--lr") { Description = "Peak learning rate (default: the optimizer's)." };
    private readonly Option<string?> _recipe = new("--recipe") { Description = "A training recipe JSON file (optimizer, learningRatePer256, schedule, warm-up, regularization, batchSize, epochs, augmentation); --epochs, --batch, --optimizer and --lr given explicitly override it." };
    private readonly Option<string?> _weights = new("--weights") { Description = "Save the trained weights to this file." };
    private readonly Option<bool> _json = new("--json") { Description = "Print the result as JSON." };

    public TrainCommand() : base("train", "Train an architecture briefly on a dataset (the proxy task) and report its validation accuracy.")
    {
        foreach (var option in new Option[] { _arch, _data, _epochs, _trainSize, _valSize, _resolution, _batch, _threads, _seed, _width, _optimizer, _lr, _recipe, _weights, _json })
        {
            Options.Add(option);
        }
    }

    protected override int? ExitCodeFor(Exception e) => TrainingExitCodes(e) ?? base.ExitCodeFor(e);

    /// <summary>What the training commands exit with for a dataset, recipe or libtorch problem (null: not one of those).</summary>
    internal static int? TrainingExitCodes(Exception e) => e switch
    {
        DatasetException { IsMissing: true } => ExitCodes.NotFound,
        DatasetException or TrainingConfigurationException => ExitCodes.InvalidInput,
        TorchLoadException => ExitCodes.Failure,
        _ => null,
    };

    protected override async Task<int> ExecuteAsync(ParseResult parseResult, TextWriter output, CancellationToken cancellationToken)
    {
        var arch = ArchitectureResolver.Resolve(parseResult.GetValue(_arch)!);
        var optimizer = parseResult.GetValue(_optimizer)!.ToLowerInvariant() switch
        {
            "rmsprop" => OptimizerKind.RmsProp,
            "sgd" => OptimizerKind.Sgd,
            var other => throw new CliInputException($"--optimizer must be rmsprop or sgd, got '{other}'"),
        };
        var options = new ProxyTrainingOptions
        {
            Epochs = parseResult.GetValue(_epochs),
            TrainSize = parseResult.GetValue(_trainSize),
            ValidationSize = parseResult.GetValue(_valSize),
            BatchSize = parseResult.GetValue(_batch),
            Threads = parseResult.GetValue(_threads),
            Seed = parseResult.GetValue(_seed),
            Width = parseResult.GetValue(_width),
            Optimizer = optimizer,
            LearningRate = parseResult.GetValue(_lr) ?? ProxyTrainingOptions.DefaultLearningRate(optimizer),
            WeightsPath = parseResult.GetValue(_weights),
        };
        if (parseResult.GetValue(_recipe) is { } recipeFile)
        {
            options = WithRecipe(parseResult, options, TrainingRecipe.Load(recipeFile));
        }
        var spec = DatasetSpec.Parse(parseResult.GetValue(_data)!);
        var resolution = parseResult.GetValue(_resolution);
        // Folder images are decoded straight to the requested size; other datasets are resized by the trainer.
        options = options with { Resolution = spec.Kind == DatasetKind.ImageFolder ? null : resolution };
        options.Validate();
        var json = parseResult.GetValue(_json);
        var dataset = spec.Load(resolution);
        if (!json)
        {
            await output.WriteLineAsync(string.Create(CultureInfo.InvariantCulture,
                $"training {ArchitectureResolver.NameOf(arch) ?? arch.Id} on {dataset.Name} ({dataset.Train.Count} training images, {dataset.Classes} classes, {dataset.Resolution}px): {options.Epochs} epoch(s), batch {options.BatchSize}, {options.Optimizer} lr {options.LearningRate}, width {options.Width}, seed {options.Seed}, {options.Threads} thread(s)"));
        }
        var interactive = !json && ReferenceEquals(output, Console.Out) && !Console.IsOutputRedirected && AnsiConsole.Profile.Capabilities.Interactive;
        var result = interactive
            ? TrainWithProgressBar(arch, dataset, options, cancellationToken)
            : ProxyTrainer.Train(arch, dataset, options, json ? null : new EpochLines(output), cancellationToken);
        if (json)
        {
            await WriteJsonAsync(output, TrainingReport.From(result, options, dataset.Name));
        }
        else
        {
            await output.WriteLineAsync(TrainingReport.Summary(result));
        }
        if (!result.Succeeded)
        {
            await parseResult.InvocationConfiguration.Error.WriteLineAsync($"error: training failed ({result.Outcome}): {result.FailureReason}");
            return ExitCodes.Failure;
        }
        return ExitCodes.Success;
    }

    // The recipe decides what it holds; options typed on the command line still win.
    private ProxyTrainingOptions WithRecipe(ParseResult parseResult, ProxyTrainingOptions typed, TrainingRecipe recipe)
    {
        bool Given(Option option) => parseResult.GetResult(option) is { Implicit: false };
        var options = recipe.ApplyTo(typed);
        if (Given(_epochs))
        {
            options = options with { Epochs = typed.Epochs };
        }
        if (Given(_batch))
        {
            options = options with { BatchSize = typed.BatchSize, LearningRate = recipe.LearningRatePer256 * typed.BatchSize / 256 };
        }
        if (Given(_optimizer))
        {
            options = options with { Optimizer = typed.Optimizer };
        }
        if (parseResult.GetValue(_lr) is { } lr)
        {
            options = options with { LearningRate = lr };
        }
        return options;
    }

    private static TrainingResult TrainWithProgressBar(Architecture arch, Dataset dataset, ProxyTrainingOptions options, CancellationToken cancellationToken) =>
        AnsiConsole.Progress()
            .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new RemainingTimeColumn())
            .Start(context =>
            {
                ProgressTask? task = null;
                var progress = new SynchronousProgress(p =>
                {
                    task ??= context.AddTask("epoch 1", maxValue: p.StepsPerEpoch * p.Epochs);
                    if (p.Phase == TrainingPhase.Step)
                    {
                        task.Value = (p.Epoch - 1) * p.StepsPerEpoch + p.Step;
                        task.Description = string.Create(CultureInfo.InvariantCulture, $"epoch {p.Epoch}/{p.Epochs} loss {p.Loss:F3} {p.ImagesPerSecond:F0} img/s");
                    }
                    else
                    {
                        AnsiConsole.MarkupLine(Markup.Escape(TrainingReport.EpochLine(p.Metrics!, p.Epochs)));
                    }
                });
                return ProxyTrainer.Train(arch, dataset, options, progress, cancellationToken);
            });

    private sealed class EpochLines(TextWriter output) : IProgress<TrainingProgress>
    {
        public void Report(TrainingProgress value)
        {
            if (value.Phase == TrainingPhase.Epoch)
            {
                output.WriteLine(TrainingReport.EpochLine(value.Metrics!, value.Epochs));
            }
        }
    }
}

/// <summary>Reports progress on the caller's thread (System's Progress&lt;T&gt; posts to a context instead).</summary>
public sealed class SynchronousProgress(Action<TrainingProgress> report) : IProgress<TrainingProgress>
{
    public void Report(TrainingProgress value) => report(value);
}

/// <summary>Text and JSON views of a training result.</summary>
public static class TrainingReport
{
    public static string EpochLine(EpochMetrics m, int epochs) => string.Create(CultureInfo.InvariantCulture,
        $"epoch {m.Epoch}/{epochs}: train loss {m.TrainLoss:F4} acc {m.TrainAccuracy:P2}, val loss {m.ValidationLoss:F4} acc {m.ValidationAccuracy:P2}, {m.ImagesPerSecond:F0} img/s, {m.Seconds:F1} s");

    public static string Summary(TrainingResult r) => r.Succeeded
        ? string.Create(CultureInfo.InvariantCulture,
            $"val accuracy {r.ValAccuracy:P2} (val loss {r.ValLoss:F4}) after {r.EpochsCompleted} epoch(s); {r.TrainImagesPerSecond:F0} training images/s; {r.Seconds:F1} s; {r.Parameters:N0} parameters, {r.Macs / 1e6:F2} M multiply-adds{(r.WeightsPath is null ? "" : "; weights: " + r.WeightsPath)}")
        : $"training failed ({r.Outcome}): {r.FailureReason}";

    public static object From(TrainingResult r, ProxyTrainingOptions options, string dataset) => new
    {
        outcome = r.Outcome.ToString(),
        failureReason = r.FailureReason,
        valAccuracy = r.ValAccuracy,
        valLoss = r.ValLoss,
        trainImagesPerSecond = r.TrainImagesPerSecond,
        seconds = r.Seconds,
        epochs = r.EpochsCompleted,
        epochMetrics = r.Epochs,
        stepLosses = r.StepLosses,
        trainImagesSeen = r.TrainImagesSeen,
        trainCount = r.TrainCount,
        validationCount = r.ValidationCount,
        resolution = r.Resolution,
        parameters = r.Parameters,
        macs = r.Macs,
        architectureId = r.ArchitectureId,
        weightsPath = r.WeightsPath,
        dataset,
        options = new
        {
            options.Epochs,
            options.BatchSize,
            optimizer = options.Optimizer.ToString(),
            options.LearningRate,
            schedule = options.Schedule.ToString(),
            options.WeightDecay,
            options.LabelSmoothing,
            options.Seed,
            options.Threads,
            options.Width,
            options.Dropout,
        },
        libtorch = TorchRuntime.LibTorchVersion,
    };
}
