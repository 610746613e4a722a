using System.Buffers.Binary;
using System.IO.Compression;

namespace MnasNet.Training.Data;

/// <summary>An IDX array: its dimensions and its unsigned bytes (row-major).</summary>
public sealed record IdxArray(IReadOnlyList<int> Dimensions, byte[] Data);

/// <summary>
/// Reads IDX files (the MNIST / Fashion-MNIST format), raw or gzip-compressed (detected by content, not name).
/// Header: two zero bytes, a type byte (0x08: unsigned byte, the only type these datasets use), the number of
/// dimensions, then each dimension as a big-endian int32.
/// </summary>
public static class IdxReader
{
    public const byte UnsignedByteType = 0x08;

    public static IdxArray Read(string path)
    {
        if (!File.Exists(path))
        {
            throw DatasetException.Missing($"IDX file '{path}' does not exist");
        }
        byte[] bytes;
        try
        {
            bytes = ReadAllBytesMaybeGzip(path);
        }
        catch (Exception e) when (e is InvalidDataException or EndOfStreamException)
        {
            throw new DatasetException($"IDX file '{path}': corrupt or truncated gzip data ({e.Message})", e);
        }
        return Parse(bytes, path);
    }

    public static IdxArray Parse(ReadOnlySpan<byte> bytes, string name)
    {
        if (bytes.Length < 4)
        {
            throw new DatasetException($"IDX file '{name}': truncated header ({bytes.Length} bytes)");
        }
        if (bytes[0] != 0 || bytes[1] != 0)
        {
            throw new DatasetException(
                $"IDX file '{name}': bad magic number 0x{BinaryPrimitives.ReadUInt32BigEndian(bytes):X8} (expected 0x0000TTDD)");
        }
        if (bytes[2] != UnsignedByteType)
        {
            throw new DatasetException($"IDX file '{name}': element type 0x{bytes[2]:X2} is not supported (only unsigned byte, 0x08)");
        }
        int rank = bytes[3];
        if (rank < 1)
        {
            throw new DatasetException($"IDX file '{name}': zero dimensions");
        }
        var headerLength = 4 + 4 * rank;
        if (bytes.Length < headerLength)
        {
            throw new DatasetException($"IDX file '{name}': truncated header (needs {headerLength} bytes for {rank} dimensions, has {bytes.Length})");
        }
        var dims = new int[rank];
        long expected = 1;
        for (var i = 0; i < rank; i++)
        {
            dims[i] = BinaryPrimitives.ReadInt32BigEndian(bytes[(4 + 4 * i)..]);
            if (dims[i] < 0)
            {
                throw new DatasetException($"IDX file '{name}': dimension {i} is negative ({dims[i]})");
            }
            expected *= dims[i];
        }
        var actual = bytes.Length - headerLength;
        if (actual < expected)
        {
            throw new DatasetException(
                $"IDX file '{name}': truncated: dimensions {string.Join('×', dims)} need {expected} data bytes, found {actual}");
        }
        if (actual > expected)
        {
            throw new DatasetException(
                $"IDX file '{name}': {actual - expected} unexpected bytes after the {expected} data bytes of {string.Join('×', dims)}");
        }
        return new IdxArray(dims, bytes[headerLength..].ToArray());
    }

    /// <summary>An image file (N × rows × cols) and its label file (N) as a grey-scale <see cref="ImageSet"/>.</summary>
    public static ImageSet LoadImages(string imagesPath, string labelsPath, int classes = 10)
    {
        var images = Read(imagesPath);
        var labels = Read(labelsPath);
        if (images.Dimensions.Count != 3)
        {
            throw new DatasetException(
                $"IDX file '{imagesPath}': images need 3 dimensions (count × rows × columns), found {images.Dimensions.Count}");
        }
        if (labels.Dimensions.Count != 1)
        {
            throw new DatasetException($"IDX file '{labelsPath}': labels need 1 dimension, found {labels.Dimensions.Count}");
        }
        if (images.Dimensions[0] != labels.Dimensions[0])
        {
            throw new DatasetException(
                $"'{imagesPath}' has {images.Dimensions[0]} images but '{labelsPath}' has {labels.Dimensions[0]} labels");
        }
        if (images.Dimensions[1] < 1 || images.Dimensions[2] < 1)
        {
            throw new DatasetException($"IDX file '{imagesPath}': empty image size {images.Dimensions[1]}×{images.Dimensions[2]}");
        }
        var bad = Array.FindIndex(labels.Data, l => l >= classes);
        if (bad >= 0)
        {
            throw new DatasetException($"IDX file '{labelsPath}': label {labels.Data[bad]} at index {bad} is outside 0..{classes - 1}");
        }
        return new ImageSet(images.Data, labels.Data, 1, images.Dimensions[1], images.Dimensions[2], classes);
    }

    /// <summary>Writes an unsigned-byte IDX file, gzip-compressed when the name ends in .gz (used by tests and tools).</summary>
    public static void Write(string path, IReadOnlyList<int> dimensions, ReadOnlySpan<byte> data)
    {
        using var file = File.Create(path);
        using Stream stream = path.EndsWith(".gz", StringComparison.OrdinalIgnoreCase)
            ? new GZipStream(file, CompressionLevel.Fastest)
            : file;
        Span<byte> word = stackalloc byte[4];
        stream.Write([0, 0, UnsignedByteType, (byte)dimensions.Count]);
        foreach (var d in dimensions)
        {
            BinaryPrimitives.WriteInt32BigEndian(word, d);
            stream.Write(word);
        }
        stream.Write(data);
    }

    private static byte[] ReadAllBytesMaybeGzip(string path)
    {
        var raw = File.ReadAllBytes(path);
        if (raw.Length < 2 || raw[0] != 0x1f || raw[1] != 0x8b)
        {
            return raw;
        }
        using var gzip = new GZipStream(new MemoryStream(raw), CompressionMode.Decompress);
        using var output = new MemoryStream(raw.Length * 4);
        gzip.CopyTo(output);
        return output.ToArray();
    }
}
