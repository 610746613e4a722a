using TorchSharp;

namespace MnasNet.Torch;

/// <summary>
/// The one door to libtorch: every program and test calls <see cref="EnsureLoaded"/> before its first torch call.
/// It applies <see cref="LibStdCxxCompat"/> to the build output, then loads libtorch and sets the thread count.
/// </summary>
public static class TorchRuntime
{
    private static readonly Lock Gate = new();
    private static bool _loaded;

    /// <summary>The libtorch version the native library reports once loaded.</summary>
    public static string LibTorchVersion { get; private set; } = "not loaded";

    public static void EnsureLoaded(int? threads = null)
    {
        lock (Gate)
        {
            if (!_loaded)
            {
                LibStdCxxCompat.PatchBuildOutput(AppContext.BaseDirectory);
                try
                {
                    torch.InitializeDeviceType(DeviceType.CPU);
                    LibTorchVersion = torch.__version__;
                }
                catch (Exception e) when (e is DllNotFoundException or TypeInitializationException or NotSupportedException)
                {
                    throw new TorchLoadException(
                        $"libtorch failed to load from {AppContext.BaseDirectory}: {e.GetBaseException().Message}. " +
                        "See README, Troubleshooting: libtorch.", e);
                }
                _loaded = true;
            }
            if (threads is { } n)
            {
                SetThreads(n);
            }
        }
    }

    /// <summary>
    /// Intra-op threads of the calling thread; part of a run's determinism (a different count changes the last bits).
    /// libtorch runs parallel kernels in an OpenMP team of the calling thread, sized by that thread's own count, so
    /// threads that set different counts keep them; a thread that sets none starts with the last count set.
    /// </summary>
    public static void SetThreads(int threads)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(threads, 1);
        if (torch.get_num_threads() != threads)
        {
            torch.set_num_threads(threads);
        }
    }

    public static void Seed(long seed) => torch.manual_seed(seed);
}

public sealed class TorchLoadException : Exception
{
    public TorchLoadException(string message, Exception inner) : base(message, inner) { }

    public TorchLoadException(string message) : base(message) { }

    public TorchLoadException() { }
}
