namespace MnasNet.SearchSpace;

public static class Channels
{
    public const int Divisor = 8;

    /// <summary>
    /// The depth-divisor rule of MobileNetV2/MnasNet/TorchVision: round to the nearest multiple of
    /// <paramref name="divisor"/>, at least <paramref name="divisor"/>, and never more than 10% below the value.
    /// </summary>
    public static int MakeDivisible(double value, int divisor = Divisor)
    {
        var rounded = Math.Max(divisor, (int)(value + divisor / 2.0) / divisor * divisor);
        return rounded < 0.9 * value ? rounded + divisor : rounded;
    }

    /// <summary>Channels of an architecture at a width multiplier (TorchVision's rule; the head only grows).</summary>
    public static Architecture ScaleWidth(this Architecture arch, double width)
    {
        if (width == 1.0)
        {
            return arch;
        }
        return arch with
        {
            Stem = arch.Stem with { Channels = MakeDivisible(arch.Stem.Channels * width) },
            Blocks = arch.Blocks.Select(b => b with { Channels = MakeDivisible(b.Channels * width) }).ToArray(),
            Head = arch.Head with { Channels = width > 1.0 ? MakeDivisible(arch.Head.Channels * width) : arch.Head.Channels },
        };
    }
}
