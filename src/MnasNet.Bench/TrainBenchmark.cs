using System.Globalization;
using MnasNet.SearchSpace;
using MnasNet.Training.Data;
using MnasNet.Training.Proxy;

namespace MnasNet.Bench;

/// <summary>What <see cref="TrainBenchmark"/> measured: the epochs after the first (warm-up) one, and the process's peak resident memory.</summary>
public sealed record TrainBenchmarkResult(TrainingResult Training, int MeasuredEpochs, double TrainImagesPerSecond, double EpochImagesPerSecond, long PeakResidentKiB);

/// <summary>
/// Training throughput of one architecture on seeded random images (10 classes, 3 channels): no dataset is needed and
/// decoding is excluded; augmentation and normalization run on the prefetch thread as in real training.
/// </summary>
public static class TrainBenchmark
{
    /// <param name="options">The training recipe; its <c>TrainSize</c> is the images per epoch, the first epoch is warm-up.</param>
    public static TrainBenchmarkResult Run(Architecture architecture, ProxyTrainingOptions options, int resolution, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(options);
        var images = options.TrainSize ?? throw new ArgumentException("the train size (images per epoch) is not set", nameof(options));
        var dataset = SyntheticDataset.Create(images + options.ValidationSize!.Value, 3, resolution, 10, seed: 1);
        var result = ProxyTrainer.Train(architecture, dataset, options with { Resolution = resolution }, cancellation: cancellationToken);
        var measured = result.Epochs.Skip(1).ToArray();
        var epochImagesPerSecond = measured.Sum(e => (double)images) / measured.Sum(e => e.Seconds);
        var trainOnly = measured.Average(e => e.ImagesPerSecond);
        return new TrainBenchmarkResult(result, measured.Length, trainOnly, epochImagesPerSecond, ProcessMemory.PeakResidentKiB());
    }
}

/// <summary>Resident memory of this process from /proc/self/status (Linux).</summary>
public static class ProcessMemory
{
    public static long PeakResidentKiB() => Read("VmHWM:");

    public static long ResidentKiB() => Read("VmRSS:");

    private static long Read(string field)
    {
        var line = File.ReadLines("/proc/self/status").FirstOrDefault(l => l.StartsWith(field, StringComparison.Ordinal));
        return line is null ? 0 : long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture);
    }
}
