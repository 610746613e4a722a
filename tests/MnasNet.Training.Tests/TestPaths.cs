namespace MnasNet.Training.Tests;

internal static class TestPaths
{
    /// <summary>Where a real CIFAR-10 binary folder is looked for; unset: the optional checks on it are skipped.</summary>
    public const string RealCifar10SubsetVariable = "MNASNET_CIFAR10_SUBSET";

    /// <summary>CIFAR-10 data for the tests: generated in the subset's shape (4,000 train + 1,000 test), nothing read from outside the clone.</summary>
    public static string Cifar10Subset => SyntheticCifar10.Directory;

    /// <summary>The real CIFAR-10 subset when it is there (only optional extra checks use it), else null.</summary>
    public static string? RealCifar10Subset
    {
        get
        {
            var dir = Environment.GetEnvironmentVariable(RealCifar10SubsetVariable);
            return !string.IsNullOrEmpty(dir) && Directory.Exists(dir) ? dir : null;
        }
    }
}
