namespace MnasNet.Training.Data;

/// <summary>
/// What a user typed after <c>--data</c>: <c>fashion-mnist[:DIR]</c>, <c>mnist:DIR</c>, <c>cifar10:DIR</c> or
/// <c>folder:DIR</c>. Fashion-MNIST defaults to Debian's <c>dataset-fashion-mnist</c> package location.
/// </summary>
public sealed record DatasetSpec(DatasetKind Kind, string Directory)
{
    public const string DefaultFashionMnistDirectory = "/usr/share/datasets/fashion-mnist";

    public const string Syntax = "fashion-mnist[:DIR] | mnist:DIR | cifar10:DIR | folder:DIR";

    /// <summary>Resolution images from an image folder are resized to when none is given.</summary>
    public const int DefaultFolderResolution = 32;

    // Published per-channel statistics of the training sets (pixels scaled to [0, 1]).
    private static readonly float[] FashionMean = [0.2860f], FashionStd = [0.3530f];
    private static readonly float[] MnistMean = [0.1307f], MnistStd = [0.3081f];
    private static readonly float[] CifarMean = [0.4914f, 0.4822f, 0.4465f], CifarStd = [0.2470f, 0.2435f, 0.2616f];

    public static DatasetSpec Parse(string text)
    {
        if (string.IsNullOrWhiteSpace(text))
        {
            throw new DatasetException($"dataset: empty; expected {Syntax}");
        }
        var colon = text.IndexOf(':', StringComparison.Ordinal);
        var name = (colon < 0 ? text : text[..colon]).Trim().ToLowerInvariant();
        var dir = colon < 0 ? null : text[(colon + 1)..].Trim();
        if (dir is { Length: 0 })
        {
            throw new DatasetException($"dataset '{text}': empty directory after ':'; expected {Syntax}");
        }
        return name switch
        {
            "fashion-mnist" or "fashion_mnist" or "fashionmnist" => new DatasetSpec(DatasetKind.FashionMnist, dir ?? DefaultFashionMnistDirectory),
            "mnist" => new DatasetSpec(DatasetKind.Mnist, dir ?? throw NeedsDirectory(text, "mnist")),
            "cifar10" or "cifar-10" => new DatasetSpec(DatasetKind.Cifar10, dir ?? throw NeedsDirectory(text, "cifar10")),
            "folder" or "imagefolder" => new DatasetSpec(DatasetKind.ImageFolder, dir ?? throw NeedsDirectory(text, "folder")),
            _ => throw new DatasetException($"unknown dataset '{name}' in '{text}'; expected {Syntax}"),
        };
    }

    public override string ToString() => Kind switch
    {
        DatasetKind.FashionMnist => $"fashion-mnist:{Directory}",
        DatasetKind.Mnist => $"mnist:{Directory}",
        DatasetKind.Cifar10 => $"cifar10:{Directory}",
        _ => $"folder:{Directory}",
    };

    /// <summary>Loads the files; <paramref name="folderResolution"/> applies to image folders only.</summary>
    public Dataset Load(int? folderResolution = null) => Kind switch
    {
        DatasetKind.FashionMnist => LoadIdx("fashion-mnist", FashionMean, FashionStd, flip: true, FashionClasses),
        DatasetKind.Mnist => LoadIdx("mnist", MnistMean, MnistStd, flip: false, DigitClasses),
        DatasetKind.Cifar10 => LoadCifar10(),
        _ => LoadFolder(folderResolution ?? DefaultFolderResolution),
    };

    private static readonly string[] DigitClasses = ["0", "1", "2", "3", "4", "5", "6", "7", "8", "9"];

    private static readonly string[] FashionClasses =
        ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"];

    private Dataset LoadIdx(string name, float[] mean, float[] std, bool flip, IReadOnlyList<string> classes)
    {
        if (!System.IO.Directory.Exists(Directory))
        {
            throw DatasetException.Missing(Kind == DatasetKind.FashionMnist
                ? $"Fashion-MNIST not found: '{Directory}' does not exist. On Debian/Ubuntu: sudo apt-get install dataset-fashion-mnist " +
                  $"(installs it to {DefaultFashionMnistDirectory}); elsewhere download the four *-ubyte.gz files from " +
                  "https://github.com/zalandoresearch/fashion-mnist into a directory and pass --data fashion-mnist:DIR"
                : $"{name} directory '{Directory}' does not exist");
        }
        var train = IdxReader.LoadImages(FindIdx("train-images-idx3-ubyte"), FindIdx("train-labels-idx1-ubyte"));
        var test = IdxReader.LoadImages(FindIdx("t10k-images-idx3-ubyte"), FindIdx("t10k-labels-idx1-ubyte"));
        if (test.Height != train.Height || test.Width != train.Width)
        {
            throw new DatasetException($"{name} in '{Directory}': test images are {test.Height}×{test.Width}, training images {train.Height}×{train.Width}");
        }
        // Digits change meaning when mirrored; clothes do not.
        return new Dataset(name, Kind, train, test, classes, mean, std, flip, CropPaddingByDefault: 2);
    }

    private string FindIdx(string stem)
    {
        foreach (var candidate in new[] { stem + ".gz", stem, stem.Replace("-idx", ".idx", StringComparison.Ordinal) + ".gz", stem.Replace("-idx", ".idx", StringComparison.Ordinal) })
        {
            var path = Path.Combine(Directory, candidate);
            if (File.Exists(path))
            {
                return path;
            }
        }
        throw DatasetException.Missing($"'{Directory}' has no {stem}.gz (or {stem}); an IDX dataset directory needs the four train-/t10k- images and labels files");
    }

    private Dataset LoadCifar10()
    {
        if (!System.IO.Directory.Exists(Directory))
        {
            throw DatasetException.Missing($"CIFAR-10 directory '{Directory}' does not exist");
        }
        var trainFiles = System.IO.Directory.GetFiles(Directory, "data_batch*.bin").Order(StringComparer.Ordinal).ToArray();
        if (trainFiles.Length == 0)
        {
            throw DatasetException.Missing($"CIFAR-10 directory '{Directory}' has no data_batch*.bin files (the binary version of CIFAR-10)");
        }
        var testFiles = System.IO.Directory.GetFiles(Directory, "test_batch*.bin").Order(StringComparer.Ordinal).ToArray();
        var train = Cifar10Reader.Load(trainFiles);
        var test = testFiles.Length > 0 ? Cifar10Reader.Load(testFiles) : null;
        return new Dataset("cifar10", Kind, train, test, Cifar10Reader.ClassNames, CifarMean, CifarStd, FlipByDefault: true, CropPaddingByDefault: 4);
    }

    private Dataset LoadFolder(int resolution)
    {
        var images = ImageFolder.Open(Directory, resolution);
        // A sample of up to 2,000 evenly spaced images (all of a smaller folder) gives the normalization; decoding it
        // also surfaces an unreadable file at load time in small folders.
        var (mean, std) = ImageSources.ChannelStatistics(images);
        return new Dataset(Path.GetFileName(Path.TrimEndingDirectorySeparator(Path.GetFullPath(Directory))), Kind, images, null, images.ClassNames, mean, std,
            FlipByDefault: true, CropPaddingByDefault: Math.Max(1, resolution / 8));
    }

    private static DatasetException NeedsDirectory(string text, string name) =>
        new($"dataset '{text}': {name} needs a directory ({name}:DIR); expected {Syntax}");
}
