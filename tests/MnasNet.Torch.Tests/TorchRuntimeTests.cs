using MnasNet.Torch;
using TorchSharp;

namespace MnasNet.Torch.Tests;

public sealed class TorchRuntimeTests
{
    [Fact]
    public void Libtorch_loads_and_computes()
    {
        TorchRuntime.EnsureLoaded(threads: 1);
        Assert.StartsWith("2.10", TorchRuntime.LibTorchVersion);
        using var a = torch.arange(6, dtype: torch.float32).reshape(2, 3);
        using var b = a.matmul(a.t());
        Assert.Equal(new float[] { 5, 14, 14, 50 }, b.data<float>().ToArray());
    }

    [Fact]
    public void Patching_is_idempotent_and_leaves_the_library_loadable()
    {
        TorchRuntime.EnsureLoaded();
        var second = LibStdCxxCompat.PatchBuildOutput(AppContext.BaseDirectory);
        Assert.All(second, r => Assert.Contains(r.Outcome, new[] { LibStdCxxCompat.Outcome.AlreadyPatched, LibStdCxxCompat.Outcome.SystemHasVersion }));
    }

    [Fact]
    public void A_copy_of_the_shipped_library_is_patched_once_then_reported_as_patched()
    {
        var system = LibStdCxxCompat.SystemLibStdCxxVersions();
        if (system.Contains(LibStdCxxCompat.WeakenedVersion))
        {
            Assert.Skip("this system's libstdc++ already has " + LibStdCxxCompat.WeakenedVersion);
        }
        var (shipped, copy) = CopyOfShippedLibrary();
        try
        {
            Assert.Equal(LibStdCxxCompat.Outcome.Patched, LibStdCxxCompat.Patch(copy, system));
            Assert.Equal(LibStdCxxCompat.Outcome.AlreadyPatched, LibStdCxxCompat.Patch(copy, system));
            Assert.Equal(new FileInfo(shipped).Length, new FileInfo(copy).Length);
        }
        finally
        {
            File.Delete(copy);
        }
    }

    [Fact]
    public void A_missing_version_that_cannot_be_weakened_is_a_clear_error()
    {
        var (_, copy) = CopyOfShippedLibrary();
        try
        {
            // A system with an ancient libstdc++: the older versions are missing too and are not safe to weaken.
            var ex = Assert.Throws<TorchLoadException>(() => LibStdCxxCompat.Patch(copy, new HashSet<string> { "GLIBCXX_3.4" }));
            Assert.Contains("GLIBCXX_3.4.", ex.Message);
            Assert.Contains("does not have", ex.Message);
        }
        finally
        {
            File.Delete(copy);
        }
    }

    /// <summary>The libLibTorchSharp.so restored from NuGet and a copy of it in the temp directory, for a test to patch.</summary>
    private static (string Shipped, string Copy) CopyOfShippedLibrary()
    {
        var shipped = Directory.GetFiles(
            Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".nuget", "packages", "torchsharp"),
            LibStdCxxCompat.TorchSharpLibrary, SearchOption.AllDirectories).First();
        var copy = Path.Combine(Path.GetTempPath(), $"torchsharp-{Guid.NewGuid():N}.so");
        File.Copy(shipped, copy);
        return (shipped, copy);
    }
}
