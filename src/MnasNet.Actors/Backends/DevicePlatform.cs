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
    public static readonly IReadOnlyList<string> Backends = ["simulated", "onnxruntime", "tflite", Android, Adb];

    /// <summary>The platform of phones (<c>android:model=Pixel,abi=arm64-v8a,…</c>), as they advertise it.</summary>
    public const string Android = "android";

    /// <summary>A node's device spec for the phones on an adb server (<c>adb[:serial=S,threads=1,…]</c>), not a platform searches target.</summary>
    public const string Adb = "adb";

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
        var runsTflite = backend is "tflite" or Android or Adb;
        if (properties.TryGetValue("xnnpack", out var xnnpack) && (!runsTflite || xnnpack is not ("on" or "off")))
        {
            throw new SettingsException(runsTflite
                ? $"device platform '{text}': xnnpack must be on or off, got '{xnnpack}'"
                : $"device platform '{text}': xnnpack applies to TensorFlow Lite backends only (tflite, android, adb)");
        }
        return new DevicePlatform(backend, properties);
    }

    /// <summary>TFLite's XNNPACK delegate: on unless the platform says <c>xnnpack=off</c>.</summary>
    public bool XnnPack => !Properties.TryGetValue("xnnpack", out var x) || x != "off";

    public int? Threads => Properties.TryGetValue("threads", out var t) ? int.Parse(t, System.Globalization.CultureInfo.InvariantCulture) : null;

    public bool Satisfies(DevicePlatform selector) =>
        Backend == selector.Backend && selector.Properties.All(p => Properties.TryGetValue(p.Key, out var v) && v == p.Value);

    /// <summary>The platform a device spec runs on here: host backends gain the CPU model and their thread count.</summary>
    public DevicePlatform OnThisHost(int defaultThreads)
    {
        if (Backend is "simulated" or Adb or Android)
        {
            return this;
        }
        var properties = new SortedDictionary<string, string>(Properties.ToDictionary(), StringComparer.Ordinal);
        properties.TryAdd("threads", defaultThreads.ToString(System.Globalization.CultureInfo.InvariantCulture));
        properties.TryAdd("cpu", Slug(PlatformProbe.CpuModel()));
        if (Backend == "tflite")
        {
            properties.TryAdd("xnnpack", "on");
        }
        return this with { Properties = properties };
    }

    /// <summary>The (first) platform a search targets.</summary>
    public static DevicePlatform TargetOf(SearchSettings settings) => TargetsOf(settings)[0].Platform;

    /// <summary>
    /// The platforms a search measures on, each with its latency target T: <c>latency.target</c> lists selectors
    /// separated by ';', each optionally with <c>@T</c> in ms (else <c>reward.targetMs</c>), e.g.
    /// <c>onnxruntime:threads=1@80;onnxruntime:threads=4@30</c>. Empty → the backend and threads the settings name.
    /// Several targets give the multi-device reward ACC·Π(LAT_i/T_i)^w_i.
    /// </summary>
    public static IReadOnlyList<MeasureTarget> TargetsOf(SearchSettings settings)
    {
        var text = settings.Latency.Target.Trim();
        if (text.Length == 0)
        {
            var platform = settings.Simulated
                ? Parse("simulated")
                : Settings.SettingsValidation.BackendName(settings.Latency.Backend) == Adb
                    ? PhoneSelector(settings.Latency.Backend, settings.Threads)
                    : Parse($"{settings.Latency.Backend}:threads={settings.Threads.ToString(System.Globalization.CultureInfo.InvariantCulture)}");
            return [new MeasureTarget(platform, settings.Reward.TargetMs)];
        }
        var targets = new List<MeasureTarget>();
        foreach (var part in text.Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            var at = part.LastIndexOf('@');
            var targetMs = settings.Reward.TargetMs;
            if (at >= 0 && (!double.TryParse(part[(at + 1)..], System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture, out targetMs) || !(targetMs > 0) || !double.IsFinite(targetMs)))
            {
                throw new SettingsException($"latency.target '{part}': '@{part[(at + 1)..]}' is not a positive latency target in ms");
            }
            var platform = Parse(at >= 0 ? part[..at] : part);
            if (targets.Any(t => t.Platform.Equals(platform)))
            {
                throw new SettingsException($"latency.target names '{platform}' twice");
            }
            targets.Add(new MeasureTarget(platform, targetMs));
        }
        if (targets.Count == 0)
        {
            throw new SettingsException($"latency.target '{settings.Latency.Target}' names no platform");
        }
        return targets;
    }

    /// <summary>The platform of the devices a single-node search creates from its settings.</summary>
    public static DevicePlatform LocalDeviceOf(SearchSettings settings) => settings.Simulated
        ? Parse("simulated")
        : Settings.SettingsValidation.BackendName(settings.Latency.Backend) == Adb
            ? PhoneSelector(settings.Latency.Backend, settings.Threads)
            : Parse(settings.Latency.Backend).OnThisHost(settings.Threads);

    /// <summary>What an <c>adb:…</c> spec measures on: any Android phone (the named serial, if any) with its threads.</summary>
    public static DevicePlatform PhoneSelector(string adbSpec, int defaultThreads)
    {
        var spec = Parse(adbSpec);
        var properties = new SortedDictionary<string, string>(StringComparer.Ordinal)
        {
            ["threads"] = (spec.Threads ?? defaultThreads).ToString(System.Globalization.CultureInfo.InvariantCulture),
        };
        if (spec.Properties.TryGetValue("serial", out var serial))
        {
            properties["serial"] = MnasNet.Latency.Adb.PhoneCommands.Slug(serial);
        }
        return new DevicePlatform(Android, properties);
    }

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

/// <summary>One platform a search measures on and its latency target T (ms).</summary>
public sealed record MeasureTarget(DevicePlatform Platform, double TargetMs);
