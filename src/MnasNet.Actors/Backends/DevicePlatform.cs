using System.Text;
using MnasNet.Actors.Settings;
using MnasNet.Latency.Measurement;

namespace MnasNet.Actors.Backends;

/// <summary>
/// What a device worker measures on: a backend plus properties (threads, cpu, model, serial…). Text form
/// <c>backend[:key=value,key=value]</c>, e.g. <c>onnxruntime:threads=1</c>. Devices advertise their platform; a search
/// names the platform it targets as a selector, which a device satisfies when the backend is the same and every
/// property the selector names has the same value (a device may have more properties than the selector names).
/// </summary>
public sealed record DevicePlatform(string Backend, IReadOnlyDictionary<string, string> Properties)
{
    public static readonly IReadOnlyList<string> Backends = ["simulated", "onnxruntime"];

    public static DevicePlatform Parse(string text)
    {
        var trimmed = text.Trim();
        var colon = trimmed.IndexOf(':', StringComparison.Ordinal);
        var backend = (colon < 0 ? trimmed : trimmed[..colon]).Trim();
        if (!Backends.Contains(backend))
        {
            throw new SettingsException($"device platform '{text}': unknown backend '{backend}', expected one of {string.Join(", ", Backends)} (e.g. onnxruntime:threads=1)");
        }
        var properties = new SortedDictionary<string, string>(StringComparer.Ordinal);
        if (colon >= 0)
        {
            foreach (var pair in trimmed[(colon + 1)..].Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
            {
                var eq = pair.IndexOf('=', StringComparison.Ordinal);
                if (eq <= 0 || eq == pair.Length - 1)
                {
                    throw new SettingsException($"device platform '{text}': '{pair}' is not key=value");
                }
                var key = pair[..eq].Trim();
                if (!properties.TryAdd(key, pair[(eq + 1)..].Trim()))
                {
                    throw new SettingsException($"device platform '{text}': '{key}' is given twice");
                }
            }
        }
        if (properties.TryGetValue("threads", out var threads) && (!int.TryParse(threads, out var n) || n is < 1 or > 256))
        {
            throw new SettingsException($"device platform '{text}': threads must be a whole number from 1 to 256, got '{threads}'");
        }
        return new DevicePlatform(backend, properties);
    }

    public int? Threads => Properties.TryGetValue("threads", out var t) ? int.Parse(t, System.Globalization.CultureInfo.InvariantCulture) : null;

    public bool Satisfies(DevicePlatform selector) =>
        Backend == selector.Backend && selector.Properties.All(p => Properties.TryGetValue(p.Key, out var v) && v == p.Value);

    /// <summary>The platform a device spec runs on here: host backends gain the CPU model and their thread count.</summary>
    public DevicePlatform OnThisHost(int defaultThreads)
    {
        if (Backend == "simulated")
        {
            return this;
        }
        var properties = new SortedDictionary<string, string>(Properties.ToDictionary(), StringComparer.Ordinal);
        properties.TryAdd("threads", defaultThreads.ToString(System.Globalization.CultureInfo.InvariantCulture));
        properties.TryAdd("cpu", Slug(PlatformProbe.CpuModel()));
        return this with { Properties = properties };
    }

    /// <summary>The platform a search targets: latency.target, or by default the backend and threads its settings name.</summary>
    public static DevicePlatform TargetOf(SearchSettings settings)
    {
        if (settings.Latency.Target.Length > 0)
        {
            return Parse(settings.Latency.Target);
        }
        return settings.Simulated
            ? Parse("simulated")
            : Parse($"{settings.Latency.Backend}:threads={settings.Threads.ToString(System.Globalization.CultureInfo.InvariantCulture)}");
    }

    /// <summary>The platform of the devices a single-node search creates from its settings.</summary>
    public static DevicePlatform LocalDeviceOf(SearchSettings settings) => settings.Simulated
        ? Parse("simulated")
        : Parse(settings.Latency.Backend).OnThisHost(settings.Threads);

    public override string ToString() =>
        Properties.Count == 0 ? Backend : $"{Backend}:{string.Join(",", Properties.OrderBy(p => p.Key, StringComparer.Ordinal).Select(p => $"{p.Key}={p.Value}"))}";

    public bool Equals(DevicePlatform? other) => other is not null && ToString() == other.ToString();

    public override int GetHashCode() => ToString().GetHashCode(StringComparison.Ordinal);

    private static string Slug(string text)
    {
        var b = new StringBuilder();
        foreach (var c in text.Trim())
        {
            b.Append(char.IsAsciiLetterOrDigit(c) || c is '.' or '-' or '_' ? c : '-');
        }
        var slug = b.ToString();
        while (slug.Contains("--", StringComparison.Ordinal))
        {
            slug = slug.Replace("--", "-", StringComparison.Ordinal);
        }
        return slug.Trim('-');
    }
}
