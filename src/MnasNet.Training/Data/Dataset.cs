namespace MnasNet.Training.Data;

public enum DatasetKind
{
    FashionMnist,
    Mnist,
    Cifar10,
    ImageFolder,

    /// <summary>Seeded random images (benchmarks).</summary>
    Synthetic,
}

/// <summary>
/// A loaded dataset: its training images (the proxy task holds validation out of these, as the paper does),
/// its test images where the source has them, and its per-dataset defaults. Image folders stream from disk
/// (<see cref="ImageFolder"/>); the other sources are held in memory (<see cref="ImageSet"/>).
/// </summary>
public sealed record Dataset(
    string Name,
    DatasetKind Kind,
    IImageSource Train,
    IImageSource? Test,
    IReadOnlyList<string> ClassNames,
    IReadOnlyList<float> Mean,
    IReadOnlyList<float> Std,
    bool FlipByDefault,
    int CropPaddingByDefault)
{
    public int Channels => Train.Channels;

    public int Resolution => Train.Height;

    public int Classes => Train.Classes;
}
