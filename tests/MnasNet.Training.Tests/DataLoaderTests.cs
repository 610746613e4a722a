using MnasNet.SearchSpace;
using MnasNet.Training.Data;
using SkiaSharp;

namespace MnasNet.Training.Tests;

public sealed class DataLoaderTests : IDisposable
{
    private readonly TempDir _temp = new();

    private string Dir => _temp.Path;

    public void Dispose() => _temp.Dispose();

    private static byte[] Pattern(int length, int seed) => Enumerable.Range(0, length).Select(i => (byte)((i * 31 + seed * 7) % 256)).ToArray();

    private (string Images, string Labels) WriteIdxPair(string prefix, int count, int rows, int cols, bool gzip, byte[]? labels = null)
    {
        var ext = gzip ? ".gz" : "";
        var images = Path.Combine(Dir, $"{prefix}-images-idx3-ubyte{ext}");
        var labelPath = Path.Combine(Dir, $"{prefix}-labels-idx1-ubyte{ext}");
        IdxReader.Write(images, [count, rows, cols], Pattern(count * rows * cols, count));
        IdxReader.Write(labelPath, [count], labels ?? Enumerable.Range(0, count).Select(i => (byte)(i % 10)).ToArray());
        return (images, labelPath);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Idx_images_and_labels_load_raw_or_gzip(bool gzip)
    {
        var (images, labels) = WriteIdxPair("train", 12, 5, 4, gzip);
        var set = IdxReader.LoadImages(images, labels);
        Assert.Equal((12, 1, 5, 4), (set.Count, set.Channels, set.Height, set.Width));
        Assert.Equal(Pattern(12 * 20, 12), set.Pixels);
        Assert.Equal(7, set.Labels[7]);
        Assert.Equal(set.Pixels.AsSpan(3 * 20, 20).ToArray(), set.Image(3).ToArray());
    }

    [Fact]
    public void Idx_with_bad_magic_is_rejected_naming_the_file()
    {
        var path = Path.Combine(Dir, "bad-magic");
        File.WriteAllBytes(path, [0x12, 0x34, 0x08, 0x01, 0, 0, 0, 1, 5]);
        var e = Assert.Throws<DatasetException>(() => IdxReader.Read(path));
        Assert.Contains("bad magic", e.Message);
        Assert.Contains(path, e.Message);
    }

    [Fact]
    public void Idx_with_an_unsupported_element_type_is_rejected()
    {
        var path = Path.Combine(Dir, "float");
        File.WriteAllBytes(path, [0, 0, 0x0D, 0x01, 0, 0, 0, 1, 0, 0, 0, 0]);
        Assert.Contains("element type 0x0D", Assert.Throws<DatasetException>(() => IdxReader.Read(path)).Message);
    }

    [Fact]
    public void Truncated_idx_data_is_reported_with_both_lengths()
    {
        var (images, _) = WriteIdxPair("train", 10, 4, 4, gzip: false);
        var bytes = File.ReadAllBytes(images);
        File.WriteAllBytes(images, bytes[..^7]);
        var e = Assert.Throws<DatasetException>(() => IdxReader.Read(images));
        Assert.Contains("truncated", e.Message);
        Assert.Contains("need 160 data bytes, found 153", e.Message);
    }

    [Fact]
    public void Truncated_idx_header_is_reported()
    {
        var path = Path.Combine(Dir, "short");
        File.WriteAllBytes(path, [0, 0, 8, 3, 0, 0, 0, 9]);
        Assert.Contains("truncated header", Assert.Throws<DatasetException>(() => IdxReader.Read(path)).Message);
    }

    [Fact]
    public void Trailing_bytes_after_idx_data_are_reported()
    {
        var path = Path.Combine(Dir, "long");
        File.WriteAllBytes(path, [0, 0, 8, 1, 0, 0, 0, 2, 1, 2, 3]);
        Assert.Contains("1 unexpected bytes", Assert.Throws<DatasetException>(() => IdxReader.Read(path)).Message);
    }

    [Fact]
    public void Truncated_gzip_is_reported_as_corrupt()
    {
        var (images, _) = WriteIdxPair("train", 50, 8, 8, gzip: true);
        var bytes = File.ReadAllBytes(images);
        File.WriteAllBytes(images, bytes[..(bytes.Length / 2)]);
        var e = Assert.Throws<DatasetException>(() => IdxReader.Read(images));
        Assert.Contains(images, e.Message);
        Assert.True(e.Message.Contains("gzip", StringComparison.Ordinal) || e.Message.Contains("truncated", StringComparison.Ordinal), e.Message);
    }

    [Fact]
    public void Idx_label_outside_the_class_range_is_rejected()
    {
        var (images, labels) = WriteIdxPair("train", 4, 2, 2, gzip: false, labels: [0, 3, 10, 1]);
        var e = Assert.Throws<DatasetException>(() => IdxReader.LoadImages(images, labels));
        Assert.Contains("label 10 at index 2", e.Message);
    }

    [Fact]
    public void Idx_image_and_label_counts_must_agree()
    {
        var (images, _) = WriteIdxPair("train", 6, 2, 2, gzip: false);
        var labels = Path.Combine(Dir, "five-labels");
        IdxReader.Write(labels, [5], new byte[5]);
        Assert.Contains("6 images but", Assert.Throws<DatasetException>(() => IdxReader.LoadImages(images, labels)).Message);
    }

    [Fact]
    public void Fashion_mnist_spec_loads_an_idxDirectory_with_flip_on_and_mnist_with_flip_off()
    {
        WriteIdxPair("train", 20, 6, 6, gzip: true);
        WriteIdxPair("t10k", 5, 6, 6, gzip: true);
        var fashion = DatasetSpec.Parse($"fashion-mnist:{Dir}").Load();
        Assert.Equal((20, 5, 6, 10), (fashion.Train.Count, fashion.Test!.Count, fashion.Resolution, fashion.Classes));
        Assert.True(fashion.FlipByDefault);
        Assert.False(DatasetSpec.Parse($"mnist:{Dir}").Load().FlipByDefault);
    }

    [Fact]
    public void Missing_fashion_mnist_says_how_to_install_it()
    {
        Assert.Equal(DatasetSpec.DefaultFashionMnistDirectory, DatasetSpec.Parse("fashion-mnist").Directory);
        var missing = Path.Combine(Dir, "nowhere");
        var e = Assert.Throws<DatasetException>(() => DatasetSpec.Parse($"fashion-mnist:{missing}").Load());
        Assert.Contains($"'{missing}' does not exist", e.Message);
        Assert.Contains("apt-get install dataset-fashion-mnist", e.Message);
        var empty = Assert.Throws<DatasetException>(() => DatasetSpec.Parse($"fashion-mnist:{Dir}").Load());
        Assert.Contains("train-images-idx3-ubyte", empty.Message);
    }

    [Theory]
    [InlineData("", "empty")]
    [InlineData("imagenet:/x", "unknown dataset 'imagenet'")]
    [InlineData("cifar10", "needs a directory")]
    [InlineData("folder:", "empty directory")]
    public void Bad_dataset_specs_are_rejected_with_the_syntax(string text, string expected)
    {
        var e = Assert.Throws<DatasetException>(() => DatasetSpec.Parse(text));
        Assert.Contains(expected, e.Message);
    }

    [Fact]
    public void Cifar10_batches_load_in_file_order_as_planar_images_with_their_labels()
    {
        var data = DatasetSpec.Parse($"cifar10:{TestPaths.Cifar10Subset}").Load();
        Assert.Equal((4000, 1000, 3, 32), (data.Train.Count, data.Test!.Count, data.Channels, data.Resolution));
        var train = Assert.IsType<ImageSet>(data.Train);
        var files = Enumerable.Range(1, SyntheticCifar10.TrainFiles).Select(i => File.ReadAllBytes(Path.Combine(TestPaths.Cifar10Subset, $"data_batch_{i}.bin"))).ToArray();
        var records = files.SelectMany(f => f.Chunk(Cifar10Reader.RecordBytes)).ToArray();
        // Planar layout: the record's 1024 red bytes, then green, then blue, are the image as loaded.
        Assert.Equal(records[0].AsSpan(1).ToArray(), train.Image(0).ToArray());
        var firstOfSecondFile = files[0].Length / Cifar10Reader.RecordBytes;
        Assert.Equal(records[firstOfSecondFile].AsSpan(1).ToArray(), train.Image(firstOfSecondFile).ToArray());
        Assert.Equal(records.Select(r => r[0]), train.Labels);
        Assert.Equal(Enumerable.Range(0, 10).Select(c => records.Count(r => r[0] == c)), Enumerable.Range(0, 10).Select(c => train.Labels.Count(l => l == c)));
        var (mean, _) = train.ChannelStatistics();
        Assert.Equal(mean, ImageSources.ChannelStatistics(train, maxImages: train.Count).Mean);
        Assert.Equal(records.Average(r => r.Skip(1).Take(1024).Average(b => b / 255.0)), mean[0], 3);
    }

    [Fact]
    public void The_real_cifar10_subset_loads_with_its_documented_first_pixels_and_class_counts()
    {
        if (TestPaths.RealCifar10Subset is not { } subset)
        {
            Assert.Skip($"optional: the real CIFAR-10 subset is not there (set {TestPaths.RealCifar10SubsetVariable} to its folder)");
            return;
        }
        var data = DatasetSpec.Parse($"cifar10:{subset}").Load();
        Assert.Equal((4000, 1000, 3, 32), (data.Train.Count, data.Test!.Count, data.Channels, data.Resolution));
        var train = Assert.IsType<ImageSet>(data.Train);
        var first = train.Image(0);
        // Planar layout: red plane, then green, then blue (README of the subset: (59,62,63), (43,46,45), (50,48,43)).
        Assert.Equal(new byte[] { 59, 43, 50 }, new[] { first[0], first[1], first[2] });
        Assert.Equal(new byte[] { 62, 46, 48 }, new[] { first[1024], first[1025], first[1026] });
        Assert.Equal(new[] { 396, 366, 420, 384, 422, 393, 414, 385, 407, 413 },
            Enumerable.Range(0, 10).Select(c => train.Labels.Count(l => l == c)).ToArray());
        var (mean, _) = train.ChannelStatistics();
        Assert.Equal(0.4916, mean[0], 3);
    }

    [Fact]
    public void Cifar10_file_whose_length_is_not_a_record_multiple_is_rejected()
    {
        var path = Path.Combine(Dir, "data_batch_1.bin");
        File.WriteAllBytes(path, new byte[3073 * 2 + 100]);
        var e = Assert.Throws<DatasetException>(() => Cifar10Reader.Load([path]));
        Assert.Contains("not a positive multiple of the 3073-byte record", e.Message);
    }

    [Fact]
    public void Cifar10_label_outside_0_to_9_is_rejected()
    {
        var bytes = new byte[3073 * 3];
        bytes[3073 * 2] = 11;
        var path = Path.Combine(Dir, "data_batch_1.bin");
        File.WriteAllBytes(path, bytes);
        Assert.Contains("record 2 has label 11", Assert.Throws<DatasetException>(() => Cifar10Reader.Load([path])).Message);
    }

    [Fact]
    public void Cifar10Directory_without_batches_is_rejected()
    {
        var e = Assert.Throws<DatasetException>(() => DatasetSpec.Parse($"cifar10:{Dir}").Load());
        Assert.Contains("no data_batch*.bin", e.Message);
    }

    [Fact]
    public void Image_folder_loads_classes_in_order_resized_to_the_resolution()
    {
        WritePng(Path.Combine(Dir, "cats", "a.png"), 12, 10, new SKColor(255, 0, 0));
        WritePng(Path.Combine(Dir, "cats", "b.png"), 8, 8, new SKColor(250, 10, 0));
        WritePng(Path.Combine(Dir, "dogs", "c.png"), 20, 16, new SKColor(0, 0, 255));
        File.WriteAllText(Path.Combine(Dir, "dogs", "notes.txt"), "ignored");
        var data = DatasetSpec.Parse($"folder:{Dir}").Load(folderResolution: 6);
        Assert.Equal(["cats", "dogs"], data.ClassNames);
        Assert.Equal((3, 3, 6, 6), (data.Train.Count, data.Channels, data.Train.Height, data.Train.Width));
        Assert.Equal([0, 0, 1], Enumerable.Range(0, 3).Select(data.Train.Label));
        var dog = data.Train.Image(2, new byte[data.Train.ImageBytes]).ToArray();
        Assert.Equal((0, 0, 255), (dog[0], dog[36], dog[72]));
        var cat = data.Train.Image(0, new byte[data.Train.ImageBytes]).ToArray();
        Assert.Equal((255, 0, 0), (cat[5], cat[36 + 5], cat[72 + 5]));
        Assert.Null(data.Test);
    }

    [Fact]
    public void Image_folder_with_an_undecodable_image_names_it()
    {
        WritePng(Path.Combine(Dir, "a", "ok.png"), 4, 4, SKColors.White);
        Directory.CreateDirectory(Path.Combine(Dir, "b"));
        var broken = Path.Combine(Dir, "b", "broken.jpg");
        File.WriteAllBytes(broken, [1, 2, 3, 4, 5]);
        var e = Assert.Throws<DatasetException>(() => DatasetSpec.Parse($"folder:{Dir}").Load());
        Assert.Contains(broken, e.Message);
    }

    [Fact]
    public void Image_folder_needs_two_classes()
    {
        WritePng(Path.Combine(Dir, "only", "x.png"), 4, 4, SKColors.White);
        Assert.Contains("at least 2 class", Assert.Throws<DatasetException>(() => DatasetSpec.Parse($"folder:{Dir}").Load()).Message);
    }

    [Fact]
    public void Split_is_deterministic_disjoint_and_sized()
    {
        var all = new ImageSet(Enumerable.Range(0, 100).Select(i => (byte)i).ToArray(), Enumerable.Range(0, 100).Select(i => (byte)(i % 10)).ToArray(), 1, 1, 1, 10);
        var (train, val) = Batches.Split(all, 20, 50, seed: 3);
        var (train2, val2) = Batches.Split(all, 20, 50, seed: 3);
        Assert.Equal((50, 20), (train.Count, val.Count));
        Assert.Equal(train.Pixels, train2.Pixels);
        Assert.Equal(val.Pixels, val2.Pixels);
        Assert.Empty(train.Pixels.Intersect(val.Pixels));
        Assert.NotEqual(val.Pixels, Batches.Split(all, 20, 50, seed: 4).Validation.Pixels);
        Assert.Contains("validation size 100", Assert.Throws<DatasetException>(() => Batches.Split(all, 100, null, 0)).Message);
        Assert.Contains("train size 81", Assert.Throws<DatasetException>(() => Batches.Split(all, 20, 81, 0)).Message);
    }

    [Fact]
    public void Batches_normalize_and_augment_deterministically()
    {
        var images = new ImageSet(Pattern(10 * 3 * 8 * 8, 1), Enumerable.Range(0, 10).Select(i => (byte)i).ToArray(), 3, 8, 8, 10);
        var aug = new Augmentation([0.5f, 0.5f, 0.5f], [0.25f, 0.25f, 0.25f], CropPadding: 2, Flip: true);
        var a = Batches.Epoch(images, 4, aug, new SeededRandom(9)).ToList();
        var b = Batches.Epoch(images, 4, aug, new SeededRandom(9)).ToList();
        Assert.Equal([4, 4, 2], a.Select(x => x.Count));
        Assert.Equal(a.SelectMany(x => x.Images), b.SelectMany(x => x.Images));
        Assert.Equal(Enumerable.Range(0, 10).Select(i => (long)i), a.SelectMany(x => x.Labels).Order());

        var plain = Batches.Epoch(images, 10, Augmentation.None([0.5f, 0.5f, 0.5f], [0.25f, 0.25f, 0.25f]), null).Single();
        Assert.Equal(Enumerable.Range(0, 10).Select(i => (long)i), plain.Labels);
        Assert.Equal((images.Pixels[0] / 255f - 0.5f) / 0.25f, plain.Images[0], 5);
    }

    [Fact]
    public void Crop_padding_and_flip_move_pixels_as_specified()
    {
        // One 1-channel 3×3 image 1..9; pad 1, crop offset (0, 0): shifted down-right, zeros enter top-left.
        byte[] image = [1, 2, 3, 4, 5, 6, 7, 8, 9];
        var target = new float[9];
        ImageOps.WriteNormalized(image, 1, 3, 3, target, [0f], [1f / 255f], padding: 1, offsetY: 0, offsetX: 0, flip: false);
        Assert.Equal([0, 0, 0, 0, 1, 2, 0, 4, 5], target.Select(v => (int)Math.Round(v)));
        ImageOps.WriteNormalized(image, 1, 3, 3, target, [0f], [1f / 255f], padding: 0, offsetY: 0, offsetX: 0, flip: true);
        Assert.Equal([3, 2, 1, 6, 5, 4, 9, 8, 7], target.Select(v => (int)Math.Round(v)));
    }

    [Fact]
    public void Bilinear_resize_keeps_flat_images_flat_and_halves_a_ramp()
    {
        var flat = Enumerable.Repeat((byte)77, 16).ToArray();
        var outFlat = new byte[4];
        ImageOps.ResizeBilinear(flat, 1, 4, 4, outFlat, 2, 2);
        Assert.All(outFlat, v => Assert.Equal(77, v));
        byte[] ramp = [0, 100, 200, 255];
        var outRamp = new byte[2];
        ImageOps.ResizeBilinear(ramp, 1, 1, 4, outRamp, 1, 2);
        Assert.Equal(new byte[] { 50, 228 }, outRamp);
    }

    [Fact]
    public void Batch_loader_yields_the_planned_batches_in_order_for_any_thread_count_and_surfaces_decode_errors()
    {
        var images = new ImageSet(Pattern(40 * 4, 2), Enumerable.Range(0, 40).Select(i => (byte)(i % 10)).ToArray(), 1, 2, 2, 10);
        var aug = new Augmentation([0.5f], [0.5f], 1, true);
        var direct = Batches.Epoch(images, 3, aug, new SeededRandom(5)).SelectMany(b => b.Images).ToArray();
        foreach (var (capacity, threads) in new[] { (1, 1), (2, 1), (4, 3), (8, 8) })
        {
            using var loader = new BatchLoader(images, Batches.Plan(images.Count, 3, aug, new SeededRandom(5)), aug, capacity, threads, TestContext.Current.CancellationToken);
            Assert.Equal(direct, loader.Batches().SelectMany(b => b.Images).ToArray());
            Assert.InRange(loader.PeakBuffered, 1, capacity);
        }
        var failing = new FailingImages(images, badIndex: 17);
        using var broken = new BatchLoader(failing, Batches.Plan(images.Count, 3, aug, null), aug, 2, 2, TestContext.Current.CancellationToken);
        var e = Assert.Throws<DatasetException>(() => broken.Batches().ToList());
        Assert.Contains("image 17 vanished", e.Message);
    }

    private sealed class FailingImages(IImageSource inner, int badIndex) : IImageSource
    {
        public int Count => inner.Count;

        public int Channels => inner.Channels;

        public int Height => inner.Height;

        public int Width => inner.Width;

        public int Classes => inner.Classes;

        public int Label(int index) => inner.Label(index);

        public ReadOnlySpan<byte> Image(int index, Span<byte> scratch) =>
            index == badIndex ? throw new IOException($"image {index} vanished") : inner.Image(index, scratch);

        public IImageSource Select(IReadOnlyList<int> indices) => new ImageSubset(this, indices);

        public IImageSource Resize(int size) => throw new NotSupportedException();
    }

    private static void WritePng(string path, int width, int height, SKColor color)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        using var bitmap = new SKBitmap(width, height);
        bitmap.Erase(color);
        using var image = SKImage.FromBitmap(bitmap);
        using var data = image.Encode(SKEncodedImageFormat.Png, 100);
        using var file = File.Create(path);
        data.SaveTo(file);
    }
}
