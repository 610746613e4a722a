using System.CommandLine;
using System.Globalization;
using MnasNet.Bench;
using MnasNet.Cli.Commands.Search;
using MnasNet.SearchSpace;
using MnasNet.Torch;
using MnasNet.Training.Data;
using MnasNet.Training.Proxy;

namespace MnasNet.Cli.Commands;

/// <summary>
/// <c>mnasnet bench train</c>: training throughput and peak resident memory for a fixed reference — MnasNet-B1 at
/// width 0.5, 32×32×3, 10 classes, batch 128, 2 threads, SGD, seeded random images (so no dataset is needed and
/// decoding is excluded; augmentation and normalization run on the prefetch thread as in real training).
/// <c>--compare</c> also trains the same network and recipe in PyTorch (<c>src/MnasNet.Bench/pytorch_reference.py</c>) in the same
/// run, alternating <c>--rounds</c> times, and prints both images/s and their ratio.
/// </summary>
public sealed class BenchTrainCommand : CliCommand
{
    private readonly Option<string> _arch = new("--arch") { Description = "Architecture.", DefaultValueFactory = _ => "mnasnet-b1" };
    private readonly Option<double> _width = new("--width") { Description = "Width multiplier.", DefaultValueFactory = _ => 0.5 };
    private readonly Option<int> _resolution = new("--resolution") { Description = "Input resolution.", DefaultValueFactory = _ => 32 };
    private readonly Option<int> _batch = new("--batch") { Description = "Batch size.", DefaultValueFactory = _ => 128 };
    private readonly Option<int> _threads = new("--threads") { Description = "libtorch threads.", DefaultValueFactory = _ => 2 };
    private readonly Option<int> _images = new("--images") { Description = "Images per epoch.", DefaultValueFactory = _ => 2048 };
    private readonly Option<int> _epochs = new("--epochs") { Description = "Epochs; the first is warm-up, the rest are measured.", DefaultValueFactory = _ => 2 };
    private readonly Option<bool> _json = new("--json") { Description = "Print JSON." };
    private readonly Option<string> _memoryFormat = new("--memory-format") { Description = "Activation layout: channels-last (the trainer's default) or nchw.", DefaultValueFactory = _ => "channels-last" };
    private readonly Option<int> _decodeThreads = new("--decode-threads") { Description = "Threads preparing batches.", DefaultValueFactory = _ => new ProxyTrainingOptions().DecodeThreads };
    private readonly Option<bool> _referenceChannelsLast = new("--reference-channels-last") { Description = "With --compare: PyTorch trains channels-last too (default: its default NCHW)." };
    private readonly Option<bool> _compare = new("--compare") { Description = "Also train the same network and recipe in PyTorch (src/MnasNet.Bench/pytorch_reference.py) and print the ratio." };
    private readonly Option<int> _rounds = new("--rounds") { Description = "With --compare: alternating rounds of ours and PyTorch's; the ratio is their median.", DefaultValueFactory = _ => 1 };
    private readonly Option<string> _python = new("--python") { Description = "With --compare: the Python that has torch.", DefaultValueFactory = _ => PyTorchReference.DefaultPython };

    public BenchTrainCommand() : base("train", "Training images/s and peak resident memory of a fixed reference net, resolution, batch and thread count.")
    {
        foreach (var option in new Option[] { _arch, _width, _resolution, _batch, _threads, _images, _epochs, _json, _memoryFormat, _decodeThreads, _compare, _rounds, _python, _referenceChannelsLast })
        {
            Options.Add(option);
        }
    }

    protected override int? ExitCodeFor(Exception e) => e switch
    {
        TrainingConfigurationException or DatasetException => ExitCodes.InvalidInput,
        PyTorchMissingException => ExitCodes.NotFound,
        _ => base.ExitCodeFor(e),
    };

    protected override async Task<int> ExecuteAsync(ParseResult parseResult, TextWriter output, CancellationToken cancellationToken)
    {
        var archName = parseResult.GetValue(_arch)!;
        var arch = ArchitectureResolver.Resolve(archName);
        var (resolution, images, epochs) = (parseResult.GetValue(_resolution), parseResult.GetValue(_images), parseResult.GetValue(_epochs));
        if (images < 2 * parseResult.GetValue(_batch))
        {
            throw new CliInputException($"--images must be at least two batches ({2 * parseResult.GetValue(_batch)}), got {images}");
        }
        if (epochs < 2)
        {
            throw new CliInputException($"--epochs must be at least 2 (one warm-up, one measured), got {epochs}");
        }
        var options = new ProxyTrainingOptions
        {
            Epochs = epochs,
            BatchSize = parseResult.GetValue(_batch),
            Threads = parseResult.GetValue(_threads),
            Width = parseResult.GetValue(_width),
            TrainSize = images,
            ValidationSize = parseResult.GetValue(_batch),
            Seed = 1,
            ChannelsLast = parseResult.GetValue(_memoryFormat) switch
            {
                "channels-last" => true,
                "nchw" => false,
                var other => throw new CliInputException($"--memory-format must be channels-last or nchw, got '{other}'"),
            },
            DecodeThreads = parseResult.GetValue(_decodeThreads),
        }.Validate();
        if (parseResult.GetValue(_compare))
        {
            return await CompareAsync(parseResult, output, archName, arch, options, resolution, cancellationToken);
        }
        var bench = TrainBenchmark.Run(arch, options, resolution, cancellationToken);
        var (result, imagesPerSecond, trainOnly, peakKiB) = (bench.Training, bench.EpochImagesPerSecond, bench.TrainImagesPerSecond, bench.PeakResidentKiB);
        if (parseResult.GetValue(_json))
        {
            await WriteJsonAsync(output, new
            {
                arch = archName,
                architectureId = arch.Id,
                width = options.Width,
                resolution,
                batch = options.BatchSize,
                threads = options.Threads,
                imagesPerEpoch = images,
                measuredEpochs = bench.MeasuredEpochs,
                trainImagesPerSecond = trainOnly,
                epochImagesPerSecond = imagesPerSecond,
                peakRssMiB = peakKiB / 1024.0,
                parameters = result.Parameters,
                macs = result.Macs,
                outcome = result.Outcome.ToString(),
                libtorch = TorchRuntime.LibTorchVersion,
            });
        }
        else
        {
            await output.WriteLineAsync(string.Create(CultureInfo.InvariantCulture,
                $"bench train: {archName} width {options.Width}, {resolution}x{resolution}x3, 10 classes, batch {options.BatchSize}, {options.Threads} thread(s), SGD, {(options.ChannelsLast ? "channels-last" : "NCHW")}, {images} seeded random images per epoch, {bench.MeasuredEpochs} measured epoch(s) after 1 warm-up ({result.Parameters:N0} parameters, {result.Macs / 1e6:F2} M MACs/image)"));
            await output.WriteLineAsync(string.Create(CultureInfo.InvariantCulture,
                $"training: {trainOnly:F0} images/s (forward+backward+step); with BatchNorm calibration and validation: {imagesPerSecond:F0} images/s"));
            await output.WriteLineAsync(string.Create(CultureInfo.InvariantCulture, $"peak resident memory (VmHWM): {peakKiB / 1024.0:F0} MiB"));
        }
        return result.Succeeded ? ExitCodes.Success : ExitCodes.Failure;
    }

    private async Task<int> CompareAsync(ParseResult parseResult, TextWriter output, string archName, Architecture arch, ProxyTrainingOptions options, int resolution, CancellationToken cancellationToken)
    {
        var rounds = parseResult.GetValue(_rounds);
        if (rounds < 1)
        {
            throw new CliInputException($"--rounds must be at least 1, got {rounds}");
        }
        var python = parseResult.GetValue(_python)!;
        PyTorchReference.EnsureAvailable(python, cancellationToken);
        using var scratch = BenchScratch.Open(null, "train");
        TorchRuntime.EnsureLoaded(options.Threads);
        using var model = MnasNet.Training.Models.MnasNetModel.Build(arch, options.NetworkFor(resolution, 3, 10));
        var ours = new List<TrainBenchmarkResult>();
        var theirs = new List<PyTorchReferenceResult>();
        for (var round = 1; round <= rounds; round++)
        {
            var mine = TrainBenchmark.Run(arch, options, resolution, cancellationToken);
            if (!mine.Training.Succeeded)
            {
                throw new InvalidOperationException($"our training failed: {mine.Training.FailureReason}");
            }
            ours.Add(mine);
            var reference = PyTorchReference.Run(python, model, options, resolution, parseResult.GetValue(_referenceChannelsLast), scratch.Path, cancellationToken);
            if (reference.Parameters != mine.Training.Parameters)
            {
                throw new InvalidOperationException($"the PyTorch network has {reference.Parameters:N0} parameters, ours {mine.Training.Parameters:N0}: not the same network");
            }
            theirs.Add(reference);
            if (!parseResult.GetValue(_json))
            {
                await output.WriteLineAsync(string.Create(CultureInfo.InvariantCulture,
                    $"round {round}: ours {mine.TrainImagesPerSecond:F1} images/s, PyTorch {reference.TorchVersion} {reference.ImagesPerSecond:F1} images/s, ratio {mine.TrainImagesPerSecond / reference.ImagesPerSecond:F2}"));
            }
        }
        var ratios = ours.Zip(theirs, (o, t) => o.TrainImagesPerSecond / t.ImagesPerSecond).Order().ToArray();
        var median = ratios.Length % 2 == 1 ? ratios[ratios.Length / 2] : (ratios[ratios.Length / 2 - 1] + ratios[ratios.Length / 2]) / 2;
        var load = File.Exists("/proc/loadavg") ? (await File.ReadAllTextAsync("/proc/loadavg", cancellationToken)).Split(' ')[0] : "?";
        if (parseResult.GetValue(_json))
        {
            await WriteJsonAsync(output, new
            {
                arch = archName,
                architectureId = arch.Id,
                width = options.Width,
                resolution,
                batch = options.BatchSize,
                threads = options.Threads,
                channelsLast = options.ChannelsLast,
                referenceChannelsLast = parseResult.GetValue(_referenceChannelsLast),
                imagesPerEpoch = options.TrainSize,
                parameters = ours[0].Training.Parameters,
                libtorch = TorchRuntime.LibTorchVersion,
                pytorch = theirs[0].TorchVersion,
                oursImagesPerSecond = ours.Select(o => o.TrainImagesPerSecond).ToArray(),
                pytorchImagesPerSecond = theirs.Select(t => t.ImagesPerSecond).ToArray(),
                medianRatio = median,
                loadAverage = load,
            });
        }
        else
        {
            await output.WriteLineAsync(string.Create(CultureInfo.InvariantCulture,
                $"bench train --compare: {archName} width {options.Width}, {resolution}x{resolution}x3, 10 classes, batch {options.BatchSize}, {options.Threads} thread(s), SGD, ours {(options.ChannelsLast ? "channels-last" : "NCHW")}, PyTorch {(parseResult.GetValue(_referenceChannelsLast) ? "channels-last" : "NCHW")}, {options.TrainSize} images per epoch, {options.Epochs - 1} measured epoch(s) after 1 warm-up, {ours[0].Training.Parameters:N0} parameters on both sides"));
            await output.WriteLineAsync(string.Create(CultureInfo.InvariantCulture,
                $"ours (libtorch {TorchRuntime.LibTorchVersion}) / PyTorch {theirs[0].TorchVersion}: median ratio {median:F2} over {rounds} round(s); load average {load}"));
        }
        return ExitCodes.Success;
    }
}
