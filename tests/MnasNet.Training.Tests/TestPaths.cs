namespace MnasNet.Training.Tests;

internal static class TestPaths
{
    /// <summary>Where the real CIFAR-10 subset is looked for; unset: ../shared/data/cifar10-subset beside the clone.</summary>
    public const string RealCifar10SubsetVariable = "MNASNET_CIFAR10_SUBSET";

    /// <summary>The directory holding MnasNet.Actors.sln, found by walking up from the test binaries.</summary>
    public static string RepoRoot { get; } = FindRepoRoot();

    /// <summary>CIFAR-10 data for the tests: generated in the subset's shape (4,000 train + 1,000 test), nothing read from outside the clone.</summary>
    public static string Cifar10Subset => SyntheticCifar10.Directory;

    /// <summary>The real CIFAR-10 subset when it is there (only optional extra checks use it), else null.</summary>
    public static string? RealCifar10Subset
    {
        get
        {
            var dir = Environment.GetEnvironmentVariable(RealCifar10SubsetVariable) is { Length: > 0 } configured
                ? configured
                : Path.GetFullPath(Path.Combine(RepoRoot, "..", "shared", "data", "cifar10-subset"));
            return Directory.Exists(dir) ? dir : null;
        }
    }

    private static string FindRepoRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "MnasNet.Actors.sln")))
            {
                return dir.FullName;
            }
        }
        throw new InvalidOperationException($"no MnasNet.Actors.sln above {AppContext.BaseDirectory}");
    }
}
