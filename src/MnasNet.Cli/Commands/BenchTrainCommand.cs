using System.CommandLine;
using System.Globalization;
using MnasNet.Bench;
using MnasNet.SearchSpace;
using MnasNet.Torch;
using MnasNet.Training.Data;
using MnasNet.Training.Proxy;

namespace MnasNet.Cli.Commands;

/// <summary>
/// <c>mnasnet bench train</c>: training throughput and peak resident memory for a fixed reference — MnasNet-B1 at
/// width 0.5, 32×32×3, 10 classes, batch 64, 2 threads, SGD, seeded random images (so no dataset is needed and
/// decoding is excluded; augmentation and normalization run on the prefetch thread as in real training).
/// </summary>
public sealed class BenchTrainCommand : CliCommand
{
    private readonly Option<string> _arch = new("--arch") { Description = "Architecture.", DefaultValueFactory = _ => "mnasnet-b1" };
    private readonly Option<double> _width = new("--width") { Description = "Width multiplier.", DefaultValueFactory = _ => 0.5 };
    private readonly Option<int> _resolution = new("--resolution") { Description = "Input resolution.", DefaultValueFactory = _ => 32 };
    private readonly Option<int> _batch = new("--batch") { Description = "Batch size.", DefaultValueFactory = _ => 64 };
    private readonly Option<int> _threads = new("--threads") { Description = "libtorch threads.", DefaultValueFactory = _ => 2 };
    private readonly Option<int> _images = new("--images") { Description = "Images per epoch.", DefaultValueFactory = _ => 2048 };
    private readonly Option<int> _epochs = new("--epochs") { Description = "Epochs; the first is warm-up, the rest are measured.", DefaultValueFactory = _ => 2 };
    private readonly Option<bool> _json = new("--json") { Description = "Print JSON." };

    public BenchTrainCommand() : base("train", "Training images/s and peak resident memory of a fixed reference net, resolution, batch and thread count.")
    {
        foreach (var option in new Option[] { _arch, _width, _resolution, _batch, _threads, _images, _epochs, _json })
        {
            Options.Add(option);
        }
    }

    protected override int? ExitCodeFor(Exception e) => e switch
    {
        TrainingConfigurationException or DatasetException => ExitCodes.InvalidInput,
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
        }.Validate();
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
                $"bench train: {archName} width {options.Width}, {resolution}x{resolution}x3, 10 classes, batch {options.BatchSize}, {options.Threads} thread(s), SGD, {images} seeded random images per epoch, {bench.MeasuredEpochs} measured epoch(s) after 1 warm-up ({result.Parameters:N0} parameters, {result.Macs / 1e6:F2} M MACs/image)"));
            await output.WriteLineAsync(string.Create(CultureInfo.InvariantCulture,
                $"training: {trainOnly:F0} images/s (forward+backward+step); with BatchNorm calibration and validation: {imagesPerSecond:F0} images/s"));
            await output.WriteLineAsync(string.Create(CultureInfo.InvariantCulture, $"peak resident memory (VmHWM): {peakKiB / 1024.0:F0} MiB"));
        }
        return result.Succeeded ? ExitCodes.Success : ExitCodes.Failure;
    }
}
