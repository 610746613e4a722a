using MnasNet.SearchSpace;

namespace MnasNet.Training.Data;

/// <summary>A batch ready for the trainer: normalized images (B × C × H × W) and labels, in managed memory.</summary>
public sealed record HostBatch(float[] Images, long[] Labels, int Count, int Channels, int Height, int Width)
{
    public long[] Shape => [Count, Channels, Height, Width];
}

/// <summary>How a batch stream normalizes and augments.</summary>
public sealed record Augmentation(IReadOnlyList<float> Mean, IReadOnlyList<float> Std, int CropPadding, bool Flip)
{
    public static Augmentation None(IReadOnlyList<float> mean, IReadOnlyList<float> std) => new(mean, std, 0, false);
}

/// <summary>
/// What one batch holds, decided before any image is read: the source indices in order and, per image, the crop
/// offset and flip. Filling a plan is a pure function of the plan and the source, so batches do not depend on which
/// thread decodes them or when.
/// </summary>
public sealed record BatchPlan(int[] Indices, int[] OffsetY, int[] OffsetX, bool[] Flip, int Padding)
{
    public int Count => Indices.Length;
}

/// <summary>Deterministic batching: shuffle, random crop with zero padding, horizontal flip, normalization.</summary>
public static class Batches
{
    /// <summary>The random source of epoch <paramref name="epoch"/> (from 1) of a run seeded <paramref name="seed"/>: its shuffle and augmentation.</summary>
    public static SeededRandom EpochRandom(ulong seed, int epoch) => new(SeededRandom.Derive(seed, $"epoch-{epoch}"));

    /// <summary>
    /// The batch plans of one pass over <paramref name="count"/> images. With a random source the order is shuffled
    /// and the augmentation drawn, every draw from that source in a fixed order (the shuffle, then per image its crop
    /// offsets and flip); without one, the pass is in order and unaugmented. A final batch of a single image is
    /// dropped when shuffling (BatchNorm cannot train on it).
    /// </summary>
    public static IEnumerable<BatchPlan> Plan(int count, int batchSize, Augmentation augmentation, SeededRandom? random)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(batchSize, 1);
        var order = Enumerable.Range(0, count).ToArray();
        if (random is not null)
        {
            Shuffle(order, random);
        }
        var pad = random is null ? 0 : augmentation.CropPadding;
        for (var start = 0; start < order.Length; start += batchSize)
        {
            var n = Math.Min(batchSize, order.Length - start);
            if (n == 1 && random is not null && order.Length > 1)
            {
                yield break;
            }
            var (oy, ox, flip) = (new int[n], new int[n], new bool[n]);
            if (random is not null)
            {
                for (var i = 0; i < n; i++)
                {
                    if (pad > 0)
                    {
                        oy[i] = random.NextInt(2 * pad + 1);
                        ox[i] = random.NextInt(2 * pad + 1);
                    }
                    flip[i] = augmentation.Flip && random.NextInt(2) == 1;
                }
            }
            yield return new BatchPlan(order[start..(start + n)], oy, ox, flip, pad);
        }
    }

    /// <summary>The normalized, augmented images and labels of <paramref name="plan"/>.</summary>
    public static HostBatch Fill(IImageSource images, BatchPlan plan, Augmentation augmentation)
    {
        ArgumentNullException.ThrowIfNull(images);
        ArgumentNullException.ThrowIfNull(plan);
        CheckNormalization(images, augmentation);
        var mean = augmentation.Mean.ToArray();
        var std = augmentation.Std.ToArray();
        var (c, h, w) = (images.Channels, images.Height, images.Width);
        var pixels = c * h * w;
        var data = new float[plan.Count * pixels];
        var labels = new long[plan.Count];
        var scratch = new byte[pixels];
        for (var i = 0; i < plan.Count; i++)
        {
            var index = plan.Indices[i];
            labels[i] = images.Label(index);
            ImageOps.WriteNormalized(images.Image(index, scratch), c, h, w, data.AsSpan(i * pixels, pixels), mean, std,
                plan.Padding, plan.OffsetY[i], plan.OffsetX[i], plan.Flip[i]);
        }
        return new HostBatch(data, labels, plan.Count, c, h, w);
    }

    /// <summary>The batches of one pass over <paramref name="images"/>, filled on the calling thread (see <see cref="Plan"/>).</summary>
    public static IEnumerable<HostBatch> Epoch(IImageSource images, int batchSize, Augmentation augmentation, SeededRandom? random)
    {
        CheckNormalization(images, augmentation);
        return Plan(images.Count, batchSize, augmentation, random).Select(plan => Fill(images, plan, augmentation));
    }

    private static void CheckNormalization(IImageSource images, Augmentation augmentation)
    {
        if (augmentation.Mean.Count != images.Channels || augmentation.Std.Count != images.Channels)
        {
            throw new DatasetException($"normalization has {augmentation.Mean.Count} means and {augmentation.Std.Count} stds for {images.Channels} channels");
        }
    }

    public static void Shuffle(int[] items, SeededRandom random)
    {
        for (var i = items.Length - 1; i > 0; i--)
        {
            var j = random.NextInt(i + 1);
            (items[i], items[j]) = (items[j], items[i]);
        }
    }

    /// <summary>
    /// Held-out split as the paper does it: a seeded permutation of the training set, the first
    /// <paramref name="validationCount"/> images for validation, the next <paramref name="trainCount"/> (or all the
    /// rest) for training. The same seed gives the same split whatever the trial. In-memory sets are copied, others
    /// (image folders) become index views.
    /// </summary>
    public static (ImageSet Train, ImageSet Validation) Split(ImageSet all, int validationCount, int? trainCount, ulong seed)
    {
        var (train, validation) = SplitOrder(all.Count, validationCount, trainCount, seed);
        return (all.Select(train), all.Select(validation));
    }

    /// <inheritdoc cref="Split(ImageSet, int, int?, ulong)"/>
    public static (IImageSource Train, IImageSource Validation) Split(IImageSource all, int validationCount, int? trainCount, ulong seed)
    {
        ArgumentNullException.ThrowIfNull(all);
        var (train, validation) = SplitOrder(all.Count, validationCount, trainCount, seed);
        return (all.Select(train), all.Select(validation));
    }

    private static (int[] Train, int[] Validation) SplitOrder(int count, int validationCount, int? trainCount, ulong seed)
    {
        if (validationCount < 1 || validationCount >= count)
        {
            throw new DatasetException($"validation size {validationCount} must be between 1 and {count - 1} (the dataset has {count} training images)");
        }
        var available = count - validationCount;
        var train = trainCount ?? available;
        if (train < 2 || train > available)
        {
            throw new DatasetException($"train size {train} must be between 2 and {available} ({count} images minus {validationCount} held out for validation)");
        }
        var order = Enumerable.Range(0, count).ToArray();
        Shuffle(order, new SeededRandom(seed));
        return (order[validationCount..(validationCount + train)], order[..validationCount]);
    }
}

/// <summary>
/// Fills batch plans on background decode threads into a bounded buffer, handing the batches out in plan order.
/// At most <see cref="Capacity"/> batches exist at once (being filled, ready, or held by the consumer until it asks
/// for the next), so memory is Capacity × batch bytes whatever the dataset's size. A thread takes the next plan only
/// once a slot is free and fills it alone; the plans are drawn in order under a lock, so the batches are the same
/// for any number of threads and any timing.
/// </summary>
public sealed class BatchLoader : IDisposable
{
    private readonly IImageSource _images;
    private readonly Augmentation _augmentation;
    private readonly IEnumerator<BatchPlan> _plans;
    private readonly SemaphoreSlim _slots;
    private readonly CancellationTokenSource _stop;
    private readonly Thread[] _threads;
    private readonly Dictionary<int, HostBatch> _ready = [];
    private readonly object _gate = new();
    private int _taken;
    private int? _total;
    private int _buffered;
    private Exception? _failure;
    private bool _started;

    public BatchLoader(IImageSource images, IEnumerable<BatchPlan> plans, Augmentation augmentation, int capacity, int decodeThreads, CancellationToken cancellation)
    {
        ArgumentNullException.ThrowIfNull(images);
        ArgumentNullException.ThrowIfNull(plans);
        ArgumentOutOfRangeException.ThrowIfLessThan(capacity, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(decodeThreads, 1);
        (_images, _augmentation, Capacity) = (images, augmentation, capacity);
        _plans = plans.GetEnumerator();
        _slots = new SemaphoreSlim(capacity, capacity);
        _stop = CancellationTokenSource.CreateLinkedTokenSource(cancellation);
        _threads = Enumerable.Range(0, Math.Min(decodeThreads, capacity))
            .Select(i => new Thread(Produce) { IsBackground = true, Name = $"batch-decode-{i}" })
            .ToArray();
        foreach (var thread in _threads)
        {
            thread.Start();
        }
    }

    /// <summary>The most batches that may exist at once.</summary>
    public int Capacity { get; }

    /// <summary>The most batches that did exist at once so far (never above <see cref="Capacity"/>).</summary>
    public int PeakBuffered { get; private set; }

    /// <summary>The batches in plan order; throws what a decode thread threw (as a <see cref="DatasetException"/>), or <see cref="OperationCanceledException"/>.</summary>
    public IEnumerable<HostBatch> Batches()
    {
        if (_started)
        {
            throw new InvalidOperationException("a batch loader hands its batches out once");
        }
        _started = true;
        using var wake = _stop.Token.Register(() =>
        {
            lock (_gate)
            {
                Monitor.PulseAll(_gate);
            }
        });
        for (var seq = 0; Next(seq) is { } batch; seq++)
        {
            yield return batch;
            lock (_gate)
            {
                _buffered--;
            }
            _slots.Release();
        }
    }

    public void Dispose()
    {
        _stop.Cancel();
        foreach (var thread in _threads)
        {
            thread.Join();
        }
        _plans.Dispose();
        _slots.Dispose();
        _stop.Dispose();
    }

    private HostBatch? Next(int seq)
    {
        lock (_gate)
        {
            while (true)
            {
                if (_ready.Remove(seq, out var batch))
                {
                    return batch;
                }
                if (_failure is not null)
                {
                    throw _failure is DatasetException d ? new DatasetException(d.Message, d) : new DatasetException($"preparing batches failed: {_failure.Message}", _failure);
                }
                if (_total is { } total && seq >= total)
                {
                    return null;
                }
                _stop.Token.ThrowIfCancellationRequested();
                Monitor.Wait(_gate);
            }
        }
    }

    private void Produce()
    {
        try
        {
            while (true)
            {
                _slots.Wait(_stop.Token);
                BatchPlan plan;
                int seq;
                lock (_gate)
                {
                    if (_failure is not null || !_plans.MoveNext())
                    {
                        _total ??= _taken;
                        Monitor.PulseAll(_gate);
                        return;
                    }
                    (plan, seq) = (_plans.Current, _taken++);
                    _buffered++;
                    PeakBuffered = Math.Max(PeakBuffered, _buffered);
                }
                var batch = Data.Batches.Fill(_images, plan, _augmentation);
                lock (_gate)
                {
                    _ready[seq] = batch;
                    Monitor.PulseAll(_gate);
                }
            }
        }
        catch (OperationCanceledException) when (_stop.IsCancellationRequested)
        {
        }
        catch (Exception e)
        {
            lock (_gate)
            {
                _failure ??= e;
                Monitor.PulseAll(_gate);
            }
        }
    }
}
