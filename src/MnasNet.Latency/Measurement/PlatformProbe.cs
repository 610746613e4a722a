using System.Runtime.InteropServices;

namespace MnasNet.Latency.Measurement;

/// <summary>Reads what can be read about the host: CPU model, cores, OS, .NET, CPU frequency governor.</summary>
public static class PlatformProbe
{
    public static PlatformDescription Host(string backend, LatencySource source, int threads, IReadOnlyDictionary<string, string> libraries, string? details = null) =>
        new(backend, source, threads, CpuModel(), Environment.ProcessorCount, RuntimeInformation.OSDescription,
            $".NET {Environment.Version}", libraries, Governor(), details);

    public static string CpuModel()
    {
        try
        {
            foreach (var line in File.ReadLines("/proc/cpuinfo"))
            {
                if (line.StartsWith("model name", StringComparison.Ordinal) || line.StartsWith("Hardware", StringComparison.Ordinal))
                {
                    return line[(line.IndexOf(':', StringComparison.Ordinal) + 1)..].Trim();
                }
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
        }
        return RuntimeInformation.ProcessArchitecture.ToString();
    }

    /// <summary>The 1-minute load average (Linux), or null: other processes on the cores distort latency.</summary>
    public static double? LoadAverage()
    {
        try
        {
            var text = File.Exists("/proc/loadavg") ? File.ReadAllText("/proc/loadavg") : null;
            return text is null ? null : double.Parse(text.Split(' ')[0], System.Globalization.CultureInfo.InvariantCulture);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or FormatException)
        {
            return null;
        }
    }

    /// <summary>cpu0's scaling governor, or null where cpufreq is not exposed (VMs, containers).</summary>
    public static string? Governor()
    {
        try
        {
            const string path = "/sys/devices/system/cpu/cpu0/cpufreq/scaling_governor";
            return File.Exists(path) ? File.ReadAllText(path).Trim() : null;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }
}
