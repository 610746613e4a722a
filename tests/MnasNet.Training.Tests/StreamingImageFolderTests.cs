using MnasNet.SearchSpace;
using MnasNet.Torch;
using MnasNet.Training.Data;
using MnasNet.Training.Proxy;

namespace MnasNet.Training.Tests;

/// <summary>
/// A generated folder of 50,100 8×8 PNGs in 300 classes (more than a byte label holds). Each image carries its own
/// number in its first pixel (red = low byte, green = high byte), so a streamed batch says which files it holds.
/// </summary>
public sealed class GeneratedImageFolder : IDisposable
{
    public const int Images = 50_100;
    public const int Classes = 300;
    public const int Side = 8;

    public GeneratedImageFolder()
    {
        // tmpfs where there is one: creating and deleting 50,000 files on a loaded disk takes a minute.
        var temp = Directory.Exists("/dev/shm") ? "/dev/shm" : Path.GetTempPath();
        Root = Path.Combine(temp, $"mnasnet-folder-{Guid.NewGuid():N}");
        for (var c = 0; c < Classes; c++)
        {
            Directory.CreateDirectory(Path.Combine(Root, ClassName(c)));
        }
        var pixels = Side * Side;
        Parallel.For(0, Environment.ProcessorCount, new ParallelOptions { MaxDegreeOfParallelism = Environment.ProcessorCount }, worker =>
        {
            var rgb = new byte[3 * pixels];
            for (var i = worker; i < Images; i += Environment.ProcessorCount)
            {
                for (var p = 0; p < pixels; p++)
                {
                    (rgb[3 * p], rgb[3 * p + 1], rgb[3 * p + 2]) = ((byte)(i * 7 + p), (byte)(i * 13), (byte)(i * 29));
                }
                (rgb[0], rgb[1], rgb[2]) = ((byte)(i & 0xff), (byte)(i >> 8), 0);
                File.WriteAllBytes(Path.Combine(Root, ClassName(ClassOf(i)), $"{i:D6}.png"), MinimalPng.Rgb(Side, Side, rgb));
            }
        });
    }

    public string Root { get; }

    public static string ClassName(int label) => $"class-{label:D3}";

    public static int ClassOf(int image) => image % Classes;

    public void Dispose() => Directory.Delete(Root, recursive: true);
}

public sealed class StreamingImageFolderTests(GeneratedImageFolder folder) : IClassFixture<GeneratedImageFolder>
{
    private const int Batch = 256;
    private const int Capacity = 4;

    // Identity normalization (mean 0, std 1) and no crop or flip: batch values are the pixels / 255.
    private static readonly Augmentation Plain = new([0f, 0f, 0f], [1f, 1f, 1f], CropPadding: 0, Flip: false);

    private static CancellationToken Token => TestContext.Current.CancellationToken;

    /// <summary>Streams one epoch; returns the image numbers in the order seen, and checks each label against its image.</summary>
    private static (List<int> Order, int PeakBuffered) StreamEpoch(IImageSource images, ulong seed, int epoch, int capacity, int threads)
    {
        var plans = Batches.Plan(images.Count, Batch, Plain, Batches.EpochRandom(seed, epoch));
        using var loader = new BatchLoader(images, plans, Plain, capacity, threads, Token);
        var order = new List<int>(images.Count);
        var plane = GeneratedImageFolder.Side * GeneratedImageFolder.Side;
        foreach (var batch in loader.Batches())
        {
            var pixels = 3 * plane;
            for (var i = 0; i < batch.Count; i++)
            {
                var red = (int)Math.Round(batch.Images[i * pixels] * 255);
                var green = (int)Math.Round(batch.Images[i * pixels + plane] * 255);
                var image = red | green << 8;
                Assert.Equal(GeneratedImageFolder.ClassOf(image), batch.Labels[i]);
                order.Add(image);
            }
        }
        return (order, loader.PeakBuffered);
    }

    [Fact]
    public void An_epoch_streams_every_image_exactly_once_with_its_folder_label_within_the_batch_bound()
    {
        var images = ImageFolder.Open(folder.Root, GeneratedImageFolder.Side);
        Assert.Equal((GeneratedImageFolder.Images, GeneratedImageFolder.Classes), (images.Count, images.Classes));
        Assert.Equal(Enumerable.Range(0, GeneratedImageFolder.Classes).Select(GeneratedImageFolder.ClassName), images.ClassNames);

        var (order, peak) = StreamEpoch(images, seed: 5, epoch: 1, Capacity, threads: 2);

        Assert.Equal(GeneratedImageFolder.Images, order.Count);
        Assert.Equal(Enumerable.Range(0, GeneratedImageFolder.Images), order.Order());
        Assert.NotEqual(Enumerable.Range(0, GeneratedImageFolder.Images), order);
        // The memory bound: never more than Capacity batches of 256 × 3 × 8 × 8 floats at once, for 196 batches.
        Assert.InRange(peak, 1, Capacity);
    }

    [Fact]
    public void The_shuffle_is_the_same_for_the_same_seed_and_epoch_whatever_the_decode_threads_and_differs_between_epochs()
    {
        var images = ImageFolder.Open(folder.Root, GeneratedImageFolder.Side);
        var (threeThreads, _) = StreamEpoch(images, seed: 9, epoch: 1, capacity: 6, threads: 3);
        var (oneThread, peak) = StreamEpoch(images, seed: 9, epoch: 1, capacity: 2, threads: 1);
        Assert.Equal(threeThreads, oneThread);
        Assert.InRange(peak, 1, 2);

        // Batch contents are a function of the plan (above), so later epochs are compared by their plans.
        int[] OrderOf(ulong seed, int epoch) => Batches.Plan(images.Count, Batch, Plain, Batches.EpochRandom(seed, epoch)).SelectMany(p => p.Indices).ToArray();
        var epoch1 = OrderOf(9, 1);
        var epoch2 = OrderOf(9, 2);
        Assert.Equal(threeThreads, epoch1.Select(i => int.Parse(Path.GetFileNameWithoutExtension(images.File(i)), System.Globalization.CultureInfo.InvariantCulture)));
        Assert.NotEqual(epoch1, epoch2);
        Assert.Equal(epoch1.Order(), epoch2.Order());
        Assert.Equal(epoch2, OrderOf(9, 2));
        Assert.NotEqual(epoch2, OrderOf(10, 2));
    }

    [Fact]
    public void A_run_trains_on_the_streamed_folder_with_labels_beyond_255()
    {
        TorchRuntime.EnsureLoaded(threads: 1);
        var dataset = DatasetSpec.Parse($"folder:{folder.Root}").Load(folderResolution: GeneratedImageFolder.Side);
        Assert.Equal(GeneratedImageFolder.Classes, dataset.Classes);
        var options = new ProxyTrainingOptions { TrainSize = 512, ValidationSize = 256, BatchSize = 64, Threads = 1, Seed = 3, DecodeThreads = 2 };
        var data = ProxyTrainer.PrepareData(dataset, options);
        Assert.Contains(Enumerable.Range(0, data.Train.Count), i => data.Train.Label(i) > 255);
        var a = ProxyTrainer.Train(TrainerTests.Tiny, dataset, options, cancellation: Token);
        var b = ProxyTrainer.Train(TrainerTests.Tiny, dataset, options with { DecodeThreads = 1, PrefetchBatches = 1 }, cancellation: Token);
        Assert.True(a.Succeeded, a.FailureReason);
        Assert.Equal(8, a.StepLosses.Count);
        Assert.Equal(a.StepLosses, b.StepLosses);
        Assert.Equal(a.ValAccuracy, b.ValAccuracy);
    }
}

/// <summary>
/// Writes 8-bit RGB PNG files without compression (zlib stored blocks): a few hundred bytes and no encoder, so tens
/// of thousands are written in seconds. SkiaSharp decodes them as any PNG.
/// </summary>
internal static class MinimalPng
{
    private static readonly uint[] CrcTable = Enumerable.Range(0, 256).Select(n =>
    {
        var c = (uint)n;
        for (var k = 0; k < 8; k++)
        {
            c = (c & 1) != 0 ? 0xEDB88320u ^ (c >> 1) : c >> 1;
        }
        return c;
    }).ToArray();

    public static byte[] Rgb(int width, int height, ReadOnlySpan<byte> rgb)
    {
        // Each row: filter byte 0, then the row's pixels.
        var raw = new byte[height * (1 + 3 * width)];
        for (var y = 0; y < height; y++)
        {
            rgb.Slice(y * 3 * width, 3 * width).CopyTo(raw.AsSpan(y * (1 + 3 * width) + 1));
        }
        if (raw.Length > 65535)
        {
            throw new ArgumentException("one stored block holds at most 65,535 bytes");
        }
        var zlib = new byte[2 + 5 + raw.Length + 4];
        (zlib[0], zlib[1], zlib[2]) = (0x78, 0x01, 0x01);
        System.Buffers.Binary.BinaryPrimitives.WriteUInt16LittleEndian(zlib.AsSpan(3), (ushort)raw.Length);
        System.Buffers.Binary.BinaryPrimitives.WriteUInt16LittleEndian(zlib.AsSpan(5), (ushort)~raw.Length);
        raw.CopyTo(zlib, 7);
        uint a = 1, b = 0;
        foreach (var v in raw)
        {
            a = (a + v) % 65521;
            b = (b + a) % 65521;
        }
        System.Buffers.Binary.BinaryPrimitives.WriteUInt32BigEndian(zlib.AsSpan(7 + raw.Length), (b << 16) | a);
        var header = new byte[13];
        System.Buffers.Binary.BinaryPrimitives.WriteInt32BigEndian(header, width);
        System.Buffers.Binary.BinaryPrimitives.WriteInt32BigEndian(header.AsSpan(4), height);
        (header[8], header[9]) = (8, 2);
        using var png = new MemoryStream();
        png.Write([0x89, (byte)'P', (byte)'N', (byte)'G', 0x0D, 0x0A, 0x1A, 0x0A]);
        Chunk(png, "IHDR", header);
        Chunk(png, "IDAT", zlib);
        Chunk(png, "IEND", []);
        return png.ToArray();
    }

    private static void Chunk(Stream png, string type, ReadOnlySpan<byte> data)
    {
        Span<byte> word = stackalloc byte[4];
        System.Buffers.Binary.BinaryPrimitives.WriteInt32BigEndian(word, data.Length);
        png.Write(word);
        var typeBytes = System.Text.Encoding.ASCII.GetBytes(type);
        png.Write(typeBytes);
        png.Write(data);
        var crc = 0xFFFFFFFFu;
        foreach (var v in typeBytes)
        {
            crc = CrcTable[(crc ^ v) & 0xff] ^ (crc >> 8);
        }
        foreach (var v in data)
        {
            crc = CrcTable[(crc ^ v) & 0xff] ^ (crc >> 8);
        }
        System.Buffers.Binary.BinaryPrimitives.WriteUInt32BigEndian(word, ~crc);
        png.Write(word);
    }
}
