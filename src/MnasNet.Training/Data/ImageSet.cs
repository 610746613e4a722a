namespace MnasNet.Training.Data;

/// <summary>
/// Labelled images in memory as bytes, channel-planar (N × C × H × W), the layout of IDX and CIFAR-10 files.
/// Immutable by convention: loaders create it, the pipeline only reads it.
/// </summary>
public sealed class ImageSet : IImageSource
{
    /// <summary>Largest in-memory resize result; a bigger one is resized image by image as it is read.</summary>
    public const long MaxResizedBytes = 1L << 30;

    public ImageSet(byte[] pixels, byte[] labels, int channels, int height, int width, int classes)
    {
        ArgumentNullException.ThrowIfNull(pixels);
        ArgumentNullException.ThrowIfNull(labels);
        if (channels < 1 || height < 1 || width < 1)
        {
            throw new DatasetException($"image shape must be positive, got {channels}×{height}×{width}");
        }
        if (classes < 2)
        {
            throw new DatasetException($"a dataset needs at least 2 classes, got {classes}");
        }
        if ((long)labels.Length * channels * height * width != pixels.LongLength)
        {
            throw new DatasetException(
                $"{labels.Length} labels need {(long)labels.Length * channels * height * width} pixel bytes, got {pixels.LongLength}");
        }
        var bad = Array.FindIndex(labels, l => l >= classes);
        if (bad >= 0)
        {
            throw new DatasetException($"label {labels[bad]} of image {bad} is outside 0..{classes - 1}");
        }
        (Pixels, Labels, Channels, Height, Width, Classes) = (pixels, labels, channels, height, width, classes);
    }

    public byte[] Pixels { get; }

    public byte[] Labels { get; }

    public int Channels { get; }

    public int Height { get; }

    public int Width { get; }

    public int Classes { get; }

    public int Count => Labels.Length;

    public int ImageBytes => Channels * Height * Width;

    public ReadOnlySpan<byte> Image(int index) => Pixels.AsSpan(index * ImageBytes, ImageBytes);

    public int Label(int index) => Labels[index];

    public ReadOnlySpan<byte> Image(int index, Span<byte> scratch) => Image(index);

    IImageSource IImageSource.Select(IReadOnlyList<int> indices) => Select(indices);

    IImageSource IImageSource.Resize(int size) =>
        (long)Count * Channels * size * size > MaxResizedBytes ? new ResizedImages(this, size) : Resize(size);

    /// <summary>The images at <paramref name="indices"/>, in that order.</summary>
    public ImageSet Select(IReadOnlyList<int> indices)
    {
        var pixels = new byte[(long)indices.Count * ImageBytes];
        var labels = new byte[indices.Count];
        for (var i = 0; i < indices.Count; i++)
        {
            Image(indices[i]).CopyTo(pixels.AsSpan(i * ImageBytes, ImageBytes));
            labels[i] = Labels[indices[i]];
        }
        return new ImageSet(pixels, labels, Channels, Height, Width, Classes);
    }

    /// <summary>Every image resized (bilinear) to <paramref name="size"/>×<paramref name="size"/>; itself if already that size.</summary>
    public ImageSet Resize(int size)
    {
        if (size == Height && size == Width)
        {
            return this;
        }
        var outBytes = Channels * size * size;
        var pixels = new byte[(long)Count * outBytes];
        Parallel.For(0, Count, new ParallelOptions { MaxDegreeOfParallelism = 2 }, i =>
            ImageOps.ResizeBilinear(Image(i), Channels, Height, Width, pixels.AsSpan(i * outBytes, outBytes), size, size));
        return new ImageSet(pixels, Labels, Channels, size, size, Classes);
    }

    /// <summary>Per-channel mean and standard deviation of the pixels scaled to [0, 1].</summary>
    public (float[] Mean, float[] Std) ChannelStatistics()
    {
        var plane = Height * Width;
        var sum = new double[Channels];
        var sumSq = new double[Channels];
        for (var i = 0; i < Count; i++)
        {
            var image = Image(i);
            for (var c = 0; c < Channels; c++)
            {
                foreach (var b in image.Slice(c * plane, plane))
                {
                    var v = b / 255.0;
                    sum[c] += v;
                    sumSq[c] += v * v;
                }
            }
        }
        var n = (double)Count * plane;
        var mean = sum.Select(s => (float)(s / n)).ToArray();
        var std = sumSq.Select((s, c) => (float)Math.Sqrt(Math.Max(s / n - mean[c] * (double)mean[c], 1e-12))).ToArray();
        return (mean, std);
    }
}
