namespace MnasNet.Training.Data;

/// <summary>
/// Reads CIFAR-10 binary batches: records of 1 label byte (0–9) and 3072 pixel bytes (1024 red, 1024 green,
/// 1024 blue, each 32×32 row-major) — already the channel-planar layout of <see cref="ImageSet"/>.
/// </summary>
public static class Cifar10Reader
{
    public const int Side = 32;
    public const int ImageBytes = 3 * Side * Side;
    public const int RecordBytes = 1 + ImageBytes;

    public static IReadOnlyList<string> ClassNames { get; } =
        ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"];

    /// <summary>The records of the given files, concatenated in the order given.</summary>
    public static ImageSet Load(IReadOnlyList<string> paths)
    {
        if (paths.Count == 0)
        {
            throw new DatasetException("CIFAR-10: no batch files given");
        }
        var records = paths.Select(ReadRecords).ToList();
        var count = records.Sum(r => r.Length / RecordBytes);
        var pixels = new byte[(long)count * ImageBytes];
        var labels = new byte[count];
        var n = 0;
        foreach (var r in records)
        {
            for (var i = 0; i < r.Length / RecordBytes; i++, n++)
            {
                labels[n] = r[i * RecordBytes];
                r.AsSpan(i * RecordBytes + 1, ImageBytes).CopyTo(pixels.AsSpan(n * ImageBytes, ImageBytes));
            }
        }
        return new ImageSet(pixels, labels, 3, Side, Side, ClassNames.Count);
    }

    private static byte[] ReadRecords(string path)
    {
        if (!File.Exists(path))
        {
            throw DatasetException.Missing($"CIFAR-10 batch file '{path}' does not exist");
        }
        var bytes = File.ReadAllBytes(path);
        if (bytes.Length == 0 || bytes.Length % RecordBytes != 0)
        {
            throw new DatasetException(
                $"CIFAR-10 batch file '{path}': length {bytes.Length} is not a positive multiple of the {RecordBytes}-byte record " +
                "(1 label byte + 3072 pixel bytes); the file is truncated or not a CIFAR-10 binary batch");
        }
        for (var i = 0; i < bytes.Length / RecordBytes; i++)
        {
            var label = bytes[i * RecordBytes];
            if (label >= ClassNames.Count)
            {
                throw new DatasetException($"CIFAR-10 batch file '{path}': record {i} has label {label}, outside 0..9");
            }
        }
        return bytes;
    }
}
