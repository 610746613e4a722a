namespace MnasNet.SearchSpace;

/// <summary>The first layer: a k×k strided convolution, BatchNorm, ReLU.</summary>
public sealed record StemSpec(int Channels, int Kernel = 3, int Stride = 2);

/// <summary>The last feature layer: a 1×1 convolution to <paramref name="Channels"/>, BatchNorm, ReLU.</summary>
public sealed record HeadSpec(int Channels = 1280);

/// <summary>
/// One block of identical layers. The first layer carries the stride and changes the channel count; the others
/// keep the shape. <paramref name="Expansion"/> is 1 for <see cref="ConvOp.Conv"/> and <see cref="ConvOp.SepConv"/>.
/// </summary>
public sealed record BlockSpec(
    ConvOp Op,
    int Expansion,
    int Kernel,
    double SeRatio,
    SkipOp Skip,
    int Channels,
    int Layers,
    int Stride);

/// <summary>
/// An explicit network: stem, blocks, head. Channel counts are at width 1.0; resolution, width multiplier, input
/// channels and classes are <see cref="NetworkOptions"/>, not part of the architecture.
/// </summary>
public sealed record Architecture(StemSpec Stem, IReadOnlyList<BlockSpec> Blocks, HeadSpec Head)
{
    /// <summary>Version of the canonical JSON form; part of every architecture id.</summary>
    public const string Format = "mnasnet-arch/v1";

    private string? _id;

    // A user-defined copy constructor so that `with` does not copy the cached id of the original.
    private Architecture(Architecture original)
    {
        Stem = original.Stem;
        Blocks = original.Blocks;
        Head = original.Head;
    }

    /// <summary>Stable id: a hash of the canonical JSON form.</summary>
    public string Id => _id ??= ArchitectureJson.ComputeId(this);

    public int TotalLayers => Blocks.Sum(b => b.Layers);

    public bool Equals(Architecture? other) =>
        other is not null && Stem == other.Stem && Head == other.Head && Blocks.SequenceEqual(other.Blocks);

    public override int GetHashCode()
    {
        var hash = new HashCode();
        hash.Add(Stem);
        hash.Add(Head);
        foreach (var block in Blocks)
        {
            hash.Add(block);
        }
        return hash.ToHashCode();
    }

    /// <summary>Throws <see cref="ArchitectureException"/> naming the first invalid field.</summary>
    public Architecture Validate()
    {
        CheckPositive(Stem.Channels, "stem.channels");
        CheckKernel(Stem.Kernel, "stem.kernel");
        CheckStride(Stem.Stride, "stem.stride");
        CheckPositive(Head.Channels, "head.channels");
        if (Blocks.Count == 0)
        {
            throw new ArchitectureException("blocks: an architecture needs at least one block");
        }
        for (var i = 0; i < Blocks.Count; i++)
        {
            var b = Blocks[i];
            var where = $"blocks[{i}]";
            if (!Enum.IsDefined(b.Op))
            {
                throw new ArchitectureException($"{where}.op: unknown op {(int)b.Op}");
            }
            if (!Enum.IsDefined(b.Skip))
            {
                throw new ArchitectureException($"{where}.skip: unknown skip {(int)b.Skip}");
            }
            CheckPositive(b.Expansion, $"{where}.expansion");
            if (b.Op != ConvOp.MBConv && b.Expansion != 1)
            {
                throw new ArchitectureException(
                    $"{where}.expansion: {b.Op.ToToken()} has no expansion (must be 1, got {b.Expansion})");
            }
            CheckKernel(b.Kernel, $"{where}.kernel");
            if (double.IsNaN(b.SeRatio) || b.SeRatio < 0 || b.SeRatio >= 1)
            {
                throw new ArchitectureException($"{where}.se: squeeze-excite ratio must be in [0, 1), got {b.SeRatio}");
            }
            CheckPositive(b.Channels, $"{where}.channels");
            CheckPositive(b.Layers, $"{where}.layers");
            CheckStride(b.Stride, $"{where}.stride");
        }
        return this;
    }

    private static void CheckPositive(int value, string where)
    {
        if (value < 1)
        {
            throw new ArchitectureException($"{where}: must be at least 1, got {value}");
        }
    }

    private static void CheckKernel(int value, string where)
    {
        if (value < 1 || value > 15 || value % 2 == 0)
        {
            throw new ArchitectureException($"{where}: kernel must be odd and between 1 and 15, got {value}");
        }
    }

    private static void CheckStride(int value, string where)
    {
        if (value is not (1 or 2))
        {
            throw new ArchitectureException($"{where}: stride must be 1 or 2, got {value}");
        }
    }
}

/// <summary>Parameters of a concrete network built from an architecture.</summary>
public sealed record NetworkOptions(
    int Resolution = 224,
    int InputChannels = 3,
    int Classes = 1000,
    double Width = 1.0,
    double Dropout = 0.2)
{
    public static NetworkOptions ImageNet { get; } = new();

    public NetworkOptions Validate()
    {
        if (Resolution < 1 || Resolution > 4096)
        {
            throw new ArchitectureException($"resolution must be between 1 and 4096, got {Resolution}");
        }
        if (InputChannels < 1)
        {
            throw new ArchitectureException($"input channels must be at least 1, got {InputChannels}");
        }
        if (Classes < 2)
        {
            throw new ArchitectureException($"classes must be at least 2, got {Classes}");
        }
        if (!(Width > 0 && Width <= 8))
        {
            throw new ArchitectureException($"width multiplier must be in (0, 8], got {Width}");
        }
        if (!(Dropout >= 0 && Dropout < 1))
        {
            throw new ArchitectureException($"dropout must be in [0, 1), got {Dropout}");
        }
        return this;
    }
}
