using System.Collections.Concurrent;
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

/// <summary>Deterministic batching: shuffle, random crop with zero padding, horizontal flip, normalization.</summary>
public static class Batches
{
    /// <summary>
    /// The batches of one pass over <paramref name="images"/>. With a random source the order is shuffled and the
    /// augmentation applied, every draw from that source in a fixed order; without one, the pass is in order and
    /// unaugmented. A final batch of a single image is dropped when shuffling (BatchNorm cannot train on it).
    /// </summary>
    public static IEnumerable<HostBatch> Epoch(ImageSet images, int batchSize, Augmentation augmentation, SeededRandom? random)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(batchSize, 1);
        if (augmentation.Mean.Count != images.Channels || augmentation.Std.Count != images.Channels)
        {
            throw new DatasetException($"normalization has {augmentation.Mean.Count} means and {augmentation.Std.Count} stds for {images.Channels} channels");
        }
        var order = Enumerable.Range(0, images.Count).ToArray();
        if (random is not null)
        {
            Shuffle(order, random);
        }
        var mean = augmentation.Mean.ToArray();
        var std = augmentation.Std.ToArray();
        var (c, h, w) = (images.Channels, images.Height, images.Width);
        var pixels = c * h * w;
        for (var start = 0; start < order.Length; start += batchSize)
        {
            var count = Math.Min(batchSize, order.Length - start);
            if (count == 1 && random is not null && order.Length > 1)
            {
                yield break;
            }
            var data = new float[count * pixels];
            var labels = new long[count];
            for (var i = 0; i < count; i++)
            {
                var index = order[start + i];
                labels[i] = images.Labels[index];
                int oy = 0, ox = 0, pad = 0;
                var flip = false;
                if (random is not null)
                {
                    pad = augmentation.CropPadding;
                    if (pad > 0)
                    {
                        oy = random.NextInt(2 * pad + 1);
                        ox = random.NextInt(2 * pad + 1);
                    }
                    flip = augmentation.Flip && random.NextInt(2) == 1;
                }
                ImageOps.WriteNormalized(images.Image(index), c, h, w, data.AsSpan(i * pixels, pixels), mean, std, pad, oy, ox, flip);
            }
            yield return new HostBatch(data, labels, count, c, h, w);
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
    /// rest) for training. The same seed gives the same split whatever the trial.
    /// </summary>
    public static (ImageSet Train, ImageSet Validation) Split(ImageSet all, int validationCount, int? trainCount, ulong seed)
    {
        if (validationCount < 1 || validationCount >= all.Count)
        {
            throw new DatasetException($"validation size {validationCount} must be between 1 and {all.Count - 1} (the dataset has {all.Count} training images)");
        }
        var available = all.Count - validationCount;
        var train = trainCount ?? available;
        if (train < 2 || train > available)
        {
            throw new DatasetException($"train size {train} must be between 2 and {available} ({all.Count} images minus {validationCount} held out for validation)");
        }
        var order = Enumerable.Range(0, all.Count).ToArray();
        Shuffle(order, new SeededRandom(seed));
        return (all.Select(order[validationCount..(validationCount + train)]), all.Select(order[..validationCount]));
    }
}

/// <summary>
/// Runs a batch sequence on a background thread into a bounded queue, so decoding and augmentation overlap
/// training. The sequence is consumed in order by one producer, so prefetching never changes the batches.
/// </summary>
public sealed class Prefetcher : IDisposable
{
    private readonly BlockingCollection<HostBatch> _queue;
    private readonly CancellationTokenSource _stop;
    private readonly Thread _producer;
    private Exception? _failure;

    public Prefetcher(IEnumerable<HostBatch> source, int capacity, CancellationToken cancellation)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(capacity, 1);
        _queue = new BlockingCollection<HostBatch>(capacity);
        _stop = CancellationTokenSource.CreateLinkedTokenSource(cancellation);
        _producer = new Thread(() => Produce(source)) { IsBackground = true, Name = "batch-prefetch" };
        _producer.Start();
    }

    /// <summary>The batches in order; throws what the producer threw, or <see cref="OperationCanceledException"/>.</summary>
    public IEnumerable<HostBatch> Batches()
    {
        foreach (var batch in _queue.GetConsumingEnumerable(_stop.Token))
        {
            yield return batch;
        }
        if (_failure is not null)
        {
            throw new DatasetException($"preparing batches failed: {_failure.Message}", _failure);
        }
        _stop.Token.ThrowIfCancellationRequested();
    }

    public void Dispose()
    {
        _stop.Cancel();
        _producer.Join();
        _queue.Dispose();
        _stop.Dispose();
    }

    private void Produce(IEnumerable<HostBatch> source)
    {
        try
        {
            foreach (var batch in source)
            {
                _queue.Add(batch, _stop.Token);
            }
        }
        catch (OperationCanceledException) when (_stop.IsCancellationRequested)
        {
        }
        catch (Exception e)
        {
            _failure = e;
        }
        finally
        {
            _queue.CompleteAdding();
        }
    }
}
