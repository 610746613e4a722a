using System.Globalization;
using MnasNet.Torch;

namespace MnasNet.Controller;

/// <summary>
/// What decides the last bits of a policy update: the CPU and the SIMD kernels libtorch picks for it, the libtorch and
/// TorchSharp builds and the intra-op thread count. Two updates run on equal platforms give equal bits; on different
/// ones they agree only to rounding, which is what the audit's tolerance is for.
/// </summary>
public sealed record ComputePlatform(string Cpu, string Simd, string Kernels, string LibTorch, string TorchSharp, int Threads)
{
    // The flags that change which vectorised kernels libtorch dispatches to (ATen CPU capability levels).
    private static readonly string[] KernelFlags = ["avx", "avx2", "fma", "avx512f", "avx512bw", "avx512vl", "avx512dq", "avx512_vnni", "avx512_bf16", "amx_tile"];

    private static readonly Lazy<(string Cpu, string Simd)> Host = new(ReadCpu);

    /// <summary>This process, with <paramref name="threads"/> intra-op threads; libtorch "not loaded" when no policy needed it.</summary>
    public static ComputePlatform Current(int threads)
    {
        var (cpu, simd) = Host.Value;
        return new ComputePlatform(cpu, simd, KernelCapability(simd), TorchRuntime.LibTorchVersion,
            typeof(TorchSharp.torch).Assembly.GetName().Version?.ToString() ?? "unknown", threads);
    }

    /// <summary>ATEN_CPU_CAPABILITY when set (it forces libtorch's kernel set), else the best set this CPU has.</summary>
    public static string KernelCapability(string simd)
    {
        var forced = Environment.GetEnvironmentVariable("ATEN_CPU_CAPABILITY");
        if (!string.IsNullOrWhiteSpace(forced))
        {
            return forced.Trim().ToLowerInvariant();
        }
        var flags = simd.Split(' ', StringSplitOptions.RemoveEmptyEntries).ToHashSet(StringComparer.Ordinal);
        return flags.IsSupersetOf(["avx512f", "avx512bw", "avx512vl", "avx512dq"]) ? "avx512"
            : flags.IsSupersetOf(["avx2", "fma"]) ? "avx2"
            : "default";
    }

    public override string ToString() => string.Create(CultureInfo.InvariantCulture,
        $"{Cpu}; kernels {Kernels}; libtorch {LibTorch}; TorchSharp {TorchSharp}; {Threads} thread(s)");

    private static (string Cpu, string Simd) ReadCpu()
    {
        const string cpuinfo = "/proc/cpuinfo";
        if (!File.Exists(cpuinfo))
        {
            return (System.Runtime.InteropServices.RuntimeInformation.ProcessArchitecture.ToString(), "");
        }
        string? model = null;
        string? flags = null;
        foreach (var line in File.ReadLines(cpuinfo))
        {
            var colon = line.IndexOf(':', StringComparison.Ordinal);
            if (colon < 0)
            {
                continue;
            }
            var key = line[..colon].Trim();
            if (model is null && key == "model name")
            {
                model = line[(colon + 1)..].Trim();
            }
            else if (flags is null && key == "flags")
            {
                flags = line[(colon + 1)..];
            }
            if (model is not null && flags is not null)
            {
                break;
            }
        }
        var present = (flags ?? "").Split(' ', StringSplitOptions.RemoveEmptyEntries).ToHashSet(StringComparer.Ordinal);
        return (model ?? "unknown CPU", string.Join(' ', KernelFlags.Where(present.Contains)));
    }
}
