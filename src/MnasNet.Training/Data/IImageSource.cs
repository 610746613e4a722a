using System.Buffers;

namespace MnasNet.Training.Data;

/// <summary>
/// Labelled images addressed by index, channel-planar bytes (C × H × W): held in memory (<see cref="ImageSet"/>) or
/// read from disk when asked (<see cref="ImageFolder"/>). Reads are thread-safe, so several decode threads may share one.
/// </summary>
public interface IImageSource
{
    int Count { get; }

    int Channels { get; }

    int Height { get; }

    int Width { get; }

    int Classes { get; }

    int ImageBytes => Channels * Height * Width;

    int Label(int index);

    /// <summary>
    /// Image <paramref name="index"/>: a view of the source's own memory, or <paramref name="scratch"/>
    /// (<see cref="ImageBytes"/> long) filled with it.
    /// </summary>
    ReadOnlySpan<byte> Image(int index, Span<byte> scratch);

    /// <summary>The images at <paramref name="indices"/>, in that order.</summary>
    IImageSource Select(IReadOnlyList<int> indices);

    /// <summary>Every image resized (bilinear) to <paramref name="size"/>×<paramref name="size"/>.</summary>
    IImageSource Resize(int size);
}

/// <summary>A subset of another source, by index; nothing is copied.</summary>
public sealed class ImageSubset : IImageSource
{
    private readonly IImageSource _inner;
    private readonly int[] _indices;

    public ImageSubset(IImageSource inner, IReadOnlyList<int> indices)
    {
        ArgumentNullException.ThrowIfNull(inner);
        ArgumentNullException.ThrowIfNull(indices);
        _inner = inner;
        _indices = indices.ToArray();
        var bad = Array.FindIndex(_indices, i => i < 0 || i >= inner.Count);
        if (bad >= 0)
        {
            throw new DatasetException($"subset index {_indices[bad]} (position {bad}) is outside 0..{inner.Count - 1}");
        }
    }

    public int Count => _indices.Length;

    public int Channels => _inner.Channels;

    public int Height => _inner.Height;

    public int Width => _inner.Width;

    public int Classes => _inner.Classes;

    public int Label(int index) => _inner.Label(_indices[index]);

    public ReadOnlySpan<byte> Image(int index, Span<byte> scratch) => _inner.Image(_indices[index], scratch);

    public IImageSource Select(IReadOnlyList<int> indices) => new ImageSubset(_inner, indices.Select(i => _indices[i]).ToArray());

    public IImageSource Resize(int size) => size == Height && size == Width ? this : new ImageSubset(_inner.Resize(size), _indices);
}

/// <summary>Another source resized (bilinear) image by image as it is read: nothing is held.</summary>
public sealed class ResizedImages(IImageSource inner, int size) : IImageSource
{
    public int Count => inner.Count;

    public int Channels => inner.Channels;

    public int Height => size;

    public int Width => size;

    public int Classes => inner.Classes;

    public int Label(int index) => inner.Label(index);

    public ReadOnlySpan<byte> Image(int index, Span<byte> scratch)
    {
        var buffer = ArrayPool<byte>.Shared.Rent(inner.ImageBytes);
        try
        {
            var source = inner.Image(index, buffer.AsSpan(0, inner.ImageBytes));
            ImageOps.ResizeBilinear(source, Channels, inner.Height, inner.Width, scratch, size, size);
            return scratch[..(Channels * size * size)];
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    public IImageSource Select(IReadOnlyList<int> indices) => new ImageSubset(this, indices);

    public IImageSource Resize(int newSize) => newSize == size ? this : inner.Resize(newSize);
}

public static class ImageSources
{
    /// <summary>
    /// Per-channel mean and standard deviation of the pixels scaled to [0, 1], over at most <paramref name="maxImages"/>
    /// images evenly spaced through the source (all of them when there are no more), summed in index order.
    /// Images are read in parallel in chunks, the sums taken in order, so the figures do not depend on timing.
    /// </summary>
    public static (float[] Mean, float[] Std) ChannelStatistics(IImageSource source, int maxImages = 2000, int threads = 2)
    {
        ArgumentNullException.ThrowIfNull(source);
        var n = Math.Min(source.Count, maxImages);
        var picks = Enumerable.Range(0, n).Select(k => n == source.Count ? k : (int)((long)k * source.Count / n)).ToArray();
        var plane = source.Height * source.Width;
        var sum = new double[source.Channels];
        var sumSq = new double[source.Channels];
        const int chunk = 64;
        var buffers = new byte[chunk][];
        for (var start = 0; start < picks.Length; start += chunk)
        {
            var count = Math.Min(chunk, picks.Length - start);
            try
            {
                Parallel.For(0, count, new ParallelOptions { MaxDegreeOfParallelism = threads }, i =>
                {
                    var buffer = buffers[i] ??= new byte[source.ImageBytes];
                    var image = source.Image(picks[start + i], buffer);
                    if (!image.Overlaps(buffer))
                    {
                        image.CopyTo(buffer);
                    }
                });
            }
            catch (AggregateException e) when (e.InnerExceptions.OfType<DatasetException>().FirstOrDefault() is { } first)
            {
                throw new DatasetException(first.Message, first);
            }
            for (var i = 0; i < count; i++)
            {
                for (var c = 0; c < source.Channels; c++)
                {
                    foreach (var b in buffers[i].AsSpan(c * plane, plane))
                    {
                        var v = b / 255.0;
                        sum[c] += v;
                        sumSq[c] += v * v;
                    }
                }
            }
        }
        var total = (double)n * plane;
        var mean = sum.Select(s => (float)(s / total)).ToArray();
        var std = sumSq.Select((s, c) => (float)Math.Sqrt(Math.Max(s / total - mean[c] * (double)mean[c], 1e-12))).ToArray();
        return (mean, std);
    }
}
