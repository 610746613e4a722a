using System.Buffers;
using SkiaSharp;

namespace MnasNet.Training.Data;

/// <summary>
/// <c>root/&lt;class&gt;/*.png|jpg|jpeg</c> streamed from disk: the file index (class = sub-directory, classes and
/// files in ordinal name order, any number of classes) is built once; each image is decoded with SkiaSharp to RGB
/// and resized (bilinear) to <see cref="Height"/>×<see cref="Width"/> only when it is read. Memory is the index,
/// whatever the images' number or resolution; reads are thread-safe.
/// </summary>
public sealed class ImageFolder : IImageSource
{
    private static readonly string[] Extensions = [".png", ".jpg", ".jpeg"];

    private readonly string[] _files;
    private readonly int[] _labels;

    private ImageFolder(string root, string[] files, int[] labels, IReadOnlyList<string> classNames, int size)
    {
        (Root, _files, _labels, ClassNames, Height) = (root, files, labels, classNames, size);
    }

    public string Root { get; }

    public IReadOnlyList<string> ClassNames { get; }

    public int Count => _files.Length;

    public int Channels => 3;

    public int Height { get; }

    public int Width => Height;

    public int Classes => ClassNames.Count;

    public int ImageBytes => 3 * Height * Width;

    public string File(int index) => _files[index];

    public int Label(int index) => _labels[index];

    /// <summary>Indexes <paramref name="root"/>; images are decoded to <paramref name="size"/>×<paramref name="size"/> when read.</summary>
    public static ImageFolder Open(string root, int size)
    {
        if (size < 1)
        {
            throw new DatasetException($"image folder: resolution must be positive, got {size}");
        }
        if (!Directory.Exists(root))
        {
            throw DatasetException.Missing($"image folder '{root}' does not exist");
        }
        var classDirs = Directory.GetDirectories(root).Order(StringComparer.Ordinal).ToArray();
        if (classDirs.Length < 2)
        {
            throw new DatasetException(
                $"image folder '{root}': needs at least 2 class sub-directories (root/<class>/*.png|jpg), found {classDirs.Length}");
        }
        var files = new List<string>();
        var labels = new List<int>();
        var empty = new List<string>();
        for (var label = 0; label < classDirs.Length; label++)
        {
            var before = files.Count;
            files.AddRange(Directory.EnumerateFiles(classDirs[label])
                .Where(f => Extensions.Contains(Path.GetExtension(f), StringComparer.OrdinalIgnoreCase))
                .Order(StringComparer.Ordinal));
            labels.AddRange(Enumerable.Repeat(label, files.Count - before));
            if (files.Count == before)
            {
                empty.Add(Path.GetFileName(classDirs[label]));
            }
        }
        if (empty.Count > 0)
        {
            throw new DatasetException($"image folder '{root}': class directories without .png/.jpg images: {string.Join(", ", empty)}");
        }
        return new ImageFolder(root, files.ToArray(), labels.ToArray(), classDirs.Select(d => Path.GetFileName(d)).ToArray(), size);
    }

    public ReadOnlySpan<byte> Image(int index, Span<byte> scratch)
    {
        var target = scratch[..ImageBytes];
        using var codec = SKCodec.Create(_files[index])
            ?? throw new DatasetException($"image '{_files[index]}' could not be decoded (not a valid PNG or JPEG)");
        var info = new SKImageInfo(codec.Info.Width, codec.Info.Height, SKColorType.Rgba8888, SKAlphaType.Unpremul);
        var (h, w) = (info.Height, info.Width);
        var plane = h * w;
        var planar = h == Height && w == Width ? null : ArrayPool<byte>.Shared.Rent(3 * plane);
        try
        {
            using var bitmap = new SKBitmap(info);
            var result = codec.GetPixels(info, bitmap.GetPixels());
            if (result is not SKCodecResult.Success)
            {
                throw new DatasetException($"image '{_files[index]}' could not be decoded ({result})");
            }
            ReadOnlySpan<byte> rgba = bitmap.GetPixelSpan();
            var rgb = planar is null ? target : planar.AsSpan(0, 3 * plane);
            for (var i = 0; i < plane; i++)
            {
                rgb[i] = rgba[4 * i];
                rgb[plane + i] = rgba[4 * i + 1];
                rgb[2 * plane + i] = rgba[4 * i + 2];
            }
            if (planar is not null)
            {
                ImageOps.ResizeBilinear(rgb, 3, h, w, target, Height, Width);
            }
            return target;
        }
        finally
        {
            if (planar is not null)
            {
                ArrayPool<byte>.Shared.Return(planar);
            }
        }
    }

    public IImageSource Select(IReadOnlyList<int> indices) => new ImageSubset(this, indices);

    /// <summary>The same index decoded to another size (nothing is re-read).</summary>
    public IImageSource Resize(int size) => size == Height ? this : new ImageFolder(Root, _files, _labels, ClassNames, size);
}
