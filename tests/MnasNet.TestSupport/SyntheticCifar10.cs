using MnasNet.SearchSpace;
using MnasNet.Training.Data;

namespace MnasNet.TestSupport;

/// <summary>
/// A CIFAR-10 directory in the original binary layout (data_batch_1..4.bin, test_batch.bin; records of 1 label byte +
/// 3072 channel-planar pixel bytes), generated from a seed in the shape of the 4,000 + 1,000 subset the README uses.
/// Learnable: each class has its own colour and stripe direction under per-pixel noise, so a tiny net beats chance
/// within an epoch. Written once per test process and deleted when it exits; a clean clone needs nothing beside it.
/// </summary>
public static class SyntheticCifar10
{
    public const int TrainCount = 4000;
    public const int TestCount = 1000;
    public const int TrainFiles = 4;
    public const ulong Seed = 10;

    private static readonly Lazy<string> Written = new(() =>
    {
        var directory = Path.Combine(Path.GetTempPath(), $"mnasnet-cifar10-{Guid.NewGuid():N}");
        Write(directory, TrainCount, TestCount, Seed);
        AppDomain.CurrentDomain.ProcessExit += (_, _) =>
        {
            try
            {
                System.IO.Directory.Delete(directory, recursive: true);
            }
            catch (IOException)
            {
            }
        };
        return directory;
    });

    /// <summary>The directory of the generated set (for <c>cifar10:DIR</c>).</summary>
    public static string Directory => Written.Value;

    /// <summary>Writes <paramref name="trainCount"/> training records over <see cref="TrainFiles"/> files and <paramref name="testCount"/> test records.</summary>
    public static void Write(string directory, int trainCount, int testCount, ulong seed)
    {
        System.IO.Directory.CreateDirectory(directory);
        var random = new SeededRandom(seed);
        var perFile = (trainCount + TrainFiles - 1) / TrainFiles;
        for (var f = 0; f < TrainFiles; f++)
        {
            var count = Math.Min(perFile, trainCount - (f * perFile));
            File.WriteAllBytes(Path.Combine(directory, $"data_batch_{f + 1}.bin"), Records(count, random));
        }
        File.WriteAllBytes(Path.Combine(directory, "test_batch.bin"), Records(testCount, random));
    }

    private static byte[] Records(int count, SeededRandom random)
    {
        const int side = Cifar10Reader.Side;
        var bytes = new byte[count * Cifar10Reader.RecordBytes];
        for (var n = 0; n < count; n++)
        {
            var record = bytes.AsSpan(n * Cifar10Reader.RecordBytes, Cifar10Reader.RecordBytes);
            var label = random.NextInt(Cifar10Reader.ClassNames.Count);
            record[0] = (byte)label;
            // Class colour: each channel low, middle or high; stripes run in one of four directions.
            int[] colour = [40 + (label % 3 * 80), 40 + (label / 3 % 3 * 80), 40 + ((label + 1) % 4 * 55)];
            var (dx, dy) = (label % 4) switch { 0 => (1, 0), 1 => (0, 1), 2 => (1, 1), _ => (1, -1) };
            for (var c = 0; c < 3; c++)
            {
                for (var y = 0; y < side; y++)
                {
                    for (var x = 0; x < side; x++)
                    {
                        var stripe = (((x * dx) + (y * dy) + side) / 4 % 2 == 0) ? 35 : -35;
                        var value = colour[c] + stripe + random.NextInt(61) - 30;
                        record[1 + (c * side * side) + (y * side) + x] = (byte)Math.Clamp(value, 0, 255);
                    }
                }
            }
        }
        return bytes;
    }
}
