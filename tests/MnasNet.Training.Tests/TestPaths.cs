namespace MnasNet.Training.Tests;

internal static class TestPaths
{
    /// <summary>The directory holding MnasNet.Actors.sln, found by walking up from the test binaries.</summary>
    public static string RepoRoot { get; } = FindRepoRoot();

    /// <summary>The CIFAR-10 subset beside the clone (../shared/data/cifar10-subset).</summary>
    public static string Cifar10Subset => Path.GetFullPath(Path.Combine(RepoRoot, "..", "shared", "data", "cifar10-subset"));

    public static string NewTempDirectory()
    {
        var dir = Path.Combine(Path.GetTempPath(), "mnasnet-training-tests", Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(dir);
        return dir;
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
