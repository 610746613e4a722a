using MnasNet.SearchSpace;

namespace MnasNet.Training.Data;

/// <summary>Seeded random images and labels: for benchmarks of the training loop independent of any dataset on disk.</summary>
public static class SyntheticDataset
{
    public static Dataset Create(int count, int channels, int size, int classes, ulong seed)
    {
        var random = new SeededRandom(seed);
        var pixels = new byte[(long)count * channels * size * size];
        for (var i = 0; i < pixels.Length; i++)
        {
            pixels[i] = (byte)random.NextInt(256);
        }
        var labels = new byte[count];
        for (var i = 0; i < count; i++)
        {
            labels[i] = (byte)random.NextInt(classes);
        }
        var images = new ImageSet(pixels, labels, channels, size, size, classes);
        var mean = Enumerable.Repeat(0.5f, channels).ToArray();
        var std = Enumerable.Repeat(0.29f, channels).ToArray();
        return new Dataset("synthetic", DatasetKind.Synthetic, images, null,
            Enumerable.Range(0, classes).Select(c => $"class{c}").ToArray(), mean, std, FlipByDefault: true, CropPaddingByDefault: Math.Max(1, size / 8));
    }
}
