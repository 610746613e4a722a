using SkiaSharp;

namespace MnasNet.Training.Data;

/// <summary>
/// Reads <c>root/&lt;class&gt;/*.png|jpg|jpeg</c>: one sub-directory per class (classes in ordinal name order),
/// each image decoded with SkiaSharp to RGB and resized (bilinear) to <c>size</c>×<c>size</c>.
/// </summary>
public static class ImageFolderReader
{
    private static readonly string[] Extensions = [".png", ".jpg", ".jpeg"];

    public static (ImageSet Images, IReadOnlyList<string> ClassNames) Load(string root, int size)
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
        var files = classDirs
            .SelectMany((dir, label) => Directory.EnumerateFiles(dir)
                .Where(f => Extensions.Contains(Path.GetExtension(f), StringComparer.OrdinalIgnoreCase))
                .Order(StringComparer.Ordinal)
                .Select(f => (File: f, Label: label)))
            .ToArray();
        var empty = classDirs.Where((dir, label) => !files.Any(f => f.Label == label)).ToArray();
        if (empty.Length > 0)
        {
            throw new DatasetException($"image folder '{root}': class directories without .png/.jpg images: {string.Join(", ", empty.Select(Path.GetFileName))}");
        }
        var imageBytes = 3 * size * size;
        var pixels = new byte[(long)files.Length * imageBytes];
        var labels = new byte[files.Length];
        if (classDirs.Length > 256)
        {
            throw new DatasetException($"image folder '{root}': {classDirs.Length} classes; at most 256 are supported");
        }
        for (var i = 0; i < files.Length; i++)
        {
            labels[i] = (byte)files[i].Label;
            var planar = DecodeRgbPlanar(files[i].File, out var h, out var w);
            ImageOps.ResizeBilinear(planar, 3, h, w, pixels.AsSpan(i * imageBytes, imageBytes), size, size);
        }
        return (new ImageSet(pixels, labels, 3, size, size, classDirs.Length), classDirs.Select(d => Path.GetFileName(d)).ToArray());
    }

    private static byte[] DecodeRgbPlanar(string path, out int height, out int width)
    {
        using var bitmap = SKBitmap.Decode(path)
            ?? throw new DatasetException($"image '{path}' could not be decoded (not a valid PNG or JPEG)");
        (height, width) = (bitmap.Height, bitmap.Width);
        var plane = height * width;
        var planar = new byte[3 * plane];
        var colors = bitmap.Pixels;
        for (var i = 0; i < plane; i++)
        {
            planar[i] = colors[i].Red;
            planar[plane + i] = colors[i].Green;
            planar[2 * plane + i] = colors[i].Blue;
        }
        return planar;
    }
}
