using System.Globalization;
using System.Text;

namespace MnasNet.Latency.Adb;

/// <summary>What a phone says about itself (getprop, cpufreq), read once when its backend connects.</summary>
public sealed record PhoneInfo(
    string Serial,
    string Model,
    string Manufacturer,
    string Fingerprint,
    string Abi,
    int? Sdk,
    string Release,
    string Hardware,
    IReadOnlyList<int> CpuMaxKHz,
    IReadOnlyList<int> BigCores)
{
    public int CpuCount => CpuMaxKHz.Count;

    /// <summary>Hex taskset mask of the big cores, e.g. <c>f0</c>; null when cpufreq is not readable.</summary>
    public string? BigCoreMask => BigCores.Count == 0 ? null : PhoneCommands.Mask(BigCores);

    /// <summary>Cores as ranges, e.g. <c>4-7</c>.</summary>
    public string BigCoreList => PhoneCommands.Ranges(BigCores);
}

/// <summary>The shell commands the phone backend sends, and pure parsers of their output.</summary>
public static class PhoneCommands
{
    public const string Properties = "getprop";

    public const string CpuMaxFrequencies =
        "for f in /sys/devices/system/cpu/cpu[0-9]*/cpufreq/cpuinfo_max_freq; do echo \"$f $(cat $f)\"; done";

    public static string State(int cpu) =>
        $"echo governor=$(cat /sys/devices/system/cpu/cpu{cpu.ToString(CultureInfo.InvariantCulture)}/cpufreq/scaling_governor 2>/dev/null); " +
        "echo temps=$(cat /sys/class/thermal/thermal_zone*/temp 2>/dev/null)";

    /// <summary><c>[key]: [value]</c> lines of getprop.</summary>
    public static IReadOnlyDictionary<string, string> ParseProperties(string output)
    {
        var props = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var raw in output.Replace("\r", "", StringComparison.Ordinal).Split('\n'))
        {
            var line = raw.Trim();
            var close = line.IndexOf("]: [", StringComparison.Ordinal);
            if (line.StartsWith('[') && close > 0 && line.EndsWith(']'))
            {
                props[line[1..close]] = line[(close + 4)..^1];
            }
        }
        return props;
    }

    /// <summary>Lines <c>/sys/devices/system/cpu/cpuN/cpufreq/cpuinfo_max_freq KHZ</c> → max kHz per cpu index (0 where unreadable).</summary>
    public static IReadOnlyList<int> ParseCpuMaxFrequencies(string output)
    {
        var byCpu = new SortedDictionary<int, int>();
        foreach (var raw in output.Replace("\r", "", StringComparison.Ordinal).Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            var parts = raw.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            const string marker = "/cpu/cpu";
            var at = parts[0].IndexOf(marker, StringComparison.Ordinal);
            if (at < 0)
            {
                continue;
            }
            var digits = new string(parts[0][(at + marker.Length)..].TakeWhile(char.IsAsciiDigit).ToArray());
            if (int.TryParse(digits, NumberStyles.None, CultureInfo.InvariantCulture, out var cpu))
            {
                byCpu[cpu] = parts.Length > 1 && int.TryParse(parts[1], NumberStyles.None, CultureInfo.InvariantCulture, out var khz) ? khz : 0;
            }
        }
        return byCpu.Count == 0 ? [] : [.. Enumerable.Range(0, byCpu.Keys.Max() + 1).Select(i => byCpu.GetValueOrDefault(i))];
    }

    /// <summary>The cores with the highest max frequency (the paper's "big core" choice); empty when none is known.</summary>
    public static IReadOnlyList<int> BigCores(IReadOnlyList<int> maxKHz)
    {
        var top = maxKHz.DefaultIfEmpty(0).Max();
        return top <= 0 ? [] : [.. Enumerable.Range(0, maxKHz.Count).Where(i => maxKHz[i] == top)];
    }

    /// <summary>A taskset mask given as hex (<c>f0</c>, <c>0x80</c>) → core indices.</summary>
    public static IReadOnlyList<int> ParseMask(string mask)
    {
        var hex = mask.Trim().StartsWith("0x", StringComparison.OrdinalIgnoreCase) ? mask.Trim()[2..] : mask.Trim();
        if (!ulong.TryParse(hex, NumberStyles.HexNumber, CultureInfo.InvariantCulture, out var bits) || bits == 0)
        {
            throw new FormatException($"cores '{mask}': expected auto or a non-zero hex CPU mask such as f0");
        }
        return [.. Enumerable.Range(0, 64).Where(i => (bits & (1UL << i)) != 0)];
    }

    public static string Mask(IEnumerable<int> cores) =>
        cores.Aggregate(0UL, (m, c) => m | (1UL << c)).ToString("x", CultureInfo.InvariantCulture);

    public static string Ranges(IReadOnlyList<int> cores)
    {
        var parts = new List<string>();
        for (var i = 0; i < cores.Count;)
        {
            var j = i;
            while (j + 1 < cores.Count && cores[j + 1] == cores[j] + 1)
            {
                j++;
            }
            parts.Add(i == j ? $"{cores[i]}" : $"{cores[i]}-{cores[j]}");
            i = j + 1;
        }
        return string.Join(",", parts);
    }

    /// <summary><c>governor=…</c> and <c>temps=…</c> lines → the governor and the hottest plausible zone in °C.</summary>
    public static (string? Governor, double? TemperatureC) ParseState(string output)
    {
        string? governor = null;
        double? hottest = null;
        foreach (var raw in output.Replace("\r", "", StringComparison.Ordinal).Split('\n', StringSplitOptions.TrimEntries))
        {
            if (raw.StartsWith("governor=", StringComparison.Ordinal) && raw.Length > "governor=".Length)
            {
                governor = raw["governor=".Length..].Trim();
            }
            else if (raw.StartsWith("temps=", StringComparison.Ordinal))
            {
                foreach (var t in raw["temps=".Length..].Split(' ', StringSplitOptions.RemoveEmptyEntries))
                {
                    if (double.TryParse(t, NumberStyles.Float, CultureInfo.InvariantCulture, out var v))
                    {
                        // Zones report millidegrees (most) or degrees; values outside 1–150 °C are unused sensors.
                        var c = Math.Abs(v) >= 1000 ? v / 1000 : v;
                        if (c is >= 1 and <= 150)
                        {
                            hottest = Math.Max(hottest ?? c, c);
                        }
                    }
                }
            }
        }
        return (governor, hottest);
    }

    /// <summary>A platform property value: letters, digits, '.', '-', '_' (model names have spaces).</summary>
    public static string Slug(string text)
    {
        var b = new StringBuilder();
        foreach (var c in text.Trim())
        {
            b.Append(char.IsAsciiLetterOrDigit(c) || c is '.' or '-' or '_' or ':' ? c : '-');
        }
        var slug = b.ToString();
        while (slug.Contains("--", StringComparison.Ordinal))
        {
            slug = slug.Replace("--", "-", StringComparison.Ordinal);
        }
        return slug.Trim('-');
    }
}
