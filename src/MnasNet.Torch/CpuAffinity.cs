using System.Globalization;
using System.Runtime.InteropServices;

namespace MnasNet.Torch;

/// <summary>
/// Which cores a thread may run on (Linux <c>sched_setaffinity</c> on the calling thread). Threads a pinned thread
/// creates afterwards — ONNX Runtime's and XNNPACK's pools, libtorch's OpenMP team — inherit its cores.
/// </summary>
public static partial class CpuAffinity
{
    private const int MaskWords = 16; // 1,024 CPUs

    /// <summary>"1", "0,2", "2-3" or "0,2-3"; every core must exist on this machine.</summary>
    public static IReadOnlyList<int> Parse(string spec, string setting)
    {
        ArgumentNullException.ThrowIfNull(spec);
        var cores = new SortedSet<int>();
        foreach (var part in spec.Split(',', StringSplitOptions.TrimEntries))
        {
            var dash = part.IndexOf('-', StringComparison.Ordinal);
            var (first, last) = dash < 0 ? (Core(part), Core(part)) : (Core(part[..dash]), Core(part[(dash + 1)..]));
            if (first > last)
            {
                throw new ArgumentException($"{setting} '{spec}': range {part} runs backwards");
            }
            for (var c = first; c <= last; c++)
            {
                cores.Add(c);
            }
        }
        return [.. cores];

        int Core(string text)
        {
            if (!int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var core))
            {
                throw new ArgumentException($"{setting} '{spec}': expected core numbers like 1, 0,2 or 2-3, got '{text}'");
            }
            if (core >= Environment.ProcessorCount)
            {
                throw new ArgumentException($"{setting} '{spec}': core {core} does not exist (this machine has cores 0-{Environment.ProcessorCount - 1})");
            }
            return core;
        }
    }

    public static string Format(IReadOnlyList<int> cores) => string.Join(',', cores);

    /// <summary>The cores the calling thread may run on.</summary>
    public static IReadOnlyList<int> OfCurrentThread()
    {
        if (!OperatingSystem.IsLinux())
        {
            return [.. Enumerable.Range(0, Environment.ProcessorCount)];
        }
        var mask = new ulong[MaskWords];
        if (SchedGetAffinity(0, (nuint)(MaskWords * sizeof(ulong)), mask) != 0)
        {
            throw new InvalidOperationException($"sched_getaffinity failed (errno {Marshal.GetLastPInvokeError()})");
        }
        return [.. Enumerable.Range(0, MaskWords * 64).Where(c => (mask[c / 64] & (1UL << (c % 64))) != 0)];
    }

    /// <summary>Restricts the calling thread to <paramref name="cores"/>.</summary>
    public static void PinCurrentThread(IReadOnlyList<int> cores)
    {
        ArgumentNullException.ThrowIfNull(cores);
        if (!OperatingSystem.IsLinux())
        {
            throw new PlatformNotSupportedException("pinning threads to cores is supported on Linux only");
        }
        if (cores.Count == 0)
        {
            throw new ArgumentException("no cores to pin to");
        }
        var mask = new ulong[MaskWords];
        foreach (var c in cores)
        {
            mask[c / 64] |= 1UL << (c % 64);
        }
        if (SchedSetAffinity(0, (nuint)(MaskWords * sizeof(ulong)), mask) != 0)
        {
            throw new InvalidOperationException($"sched_setaffinity to cores {Format(cores)} failed (errno {Marshal.GetLastPInvokeError()})");
        }
    }

    /// <summary>Runs <paramref name="work"/> with the calling thread on <paramref name="cores"/> (null: as it is), then restores its cores.</summary>
    public static T RunPinned<T>(IReadOnlyList<int>? cores, Func<T> work)
    {
        ArgumentNullException.ThrowIfNull(work);
        if (cores is null)
        {
            return work();
        }
        var before = OfCurrentThread();
        PinCurrentThread(cores);
        try
        {
            return work();
        }
        finally
        {
            PinCurrentThread(before);
        }
    }

    [LibraryImport("libc", EntryPoint = "sched_setaffinity", SetLastError = true)]
    private static partial int SchedSetAffinity(int pid, nuint size, ulong[] mask);

    [LibraryImport("libc", EntryPoint = "sched_getaffinity", SetLastError = true)]
    private static partial int SchedGetAffinity(int pid, nuint size, ulong[] mask);
}
