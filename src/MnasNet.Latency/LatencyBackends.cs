using System.Globalization;
using MnasNet.Latency.Adb;
using MnasNet.Latency.Backends;
using MnasNet.Latency.Tflite;
using MnasNet.SearchSpace;

namespace MnasNet.Latency;

/// <summary>
/// Creates backends from a spec string, as a CLI option or a device node's configuration:
/// <c>onnxruntime[:threads=N]</c>, <c>tflite[:threads=N,xnnpack=on|off]</c>, <c>torchsharp[:threads=N]</c>, <c>simulated[:seed=S,noise=CV,model=device|surrogate]</c>, <c>table:FILE</c>,
/// <c>adb[:serial=S,threads=1,cores=auto|MASK,binary=PATH,xnnpack=on|off,…]</c> (a phone; serials may contain colons).
/// </summary>
public static class LatencyBackends
{
    public const string Default = OnnxRuntimeBackend.Name;

    public static IReadOnlyList<string> Names { get; } = [OnnxRuntimeBackend.Name, TfliteBackend.Name, TorchSharpBackend.Name, SimulatedBackend.Name, TableBackend.Prefix + ":FILE", AdbPhoneBackend.Name];

    /// <summary>Writes the model file a phone runs: TensorFlow Lite with seeded random weights.</summary>
    public static Func<Architecture, NetworkOptions, long, byte[]> PhoneModelWriter { get; } = TfliteExporter.Export;

    /// <summary>
    /// <paramref name="threads"/> overrides a spec's thread count when given (the CLI's <c>--threads</c>).
    /// Throws <see cref="UnknownBackendException"/> or <see cref="LatencyTableException"/> with a clear message.
    /// </summary>
    /// <param name="isolation">Cores and quiet window of host measurements (ignored by simulated, table and phone backends).</param>
    public static ILatencyBackend Create(string spec, int? threads = null, long seed = 0, MeasurementIsolation? isolation = null)
    {
        var (name, settings, argument) = Parse(spec);
        switch (name)
        {
            case OnnxRuntimeBackend.Name:
                return new OnnxRuntimeBackend(new OnnxRuntimeSettings(threads ?? Int(settings, "threads", 1, spec), Seed: seed), isolation: isolation);
            case TfliteBackend.Name:
                return new TfliteBackend(new TfliteSettings(threads ?? Int(settings, "threads", 1, spec), OnOff(settings, "xnnpack", true, spec), seed), isolation: isolation);
            case TorchSharpBackend.Name:
                return new TorchSharpBackend(new TorchSharpSettings(threads ?? Int(settings, "threads", 1, spec), seed), isolation: isolation);
            case SimulatedBackend.Name:
                var (noise, simulatedSeed, simulatedThreads) = (Double(settings, "noise", 0.03, spec), (ulong)Int(settings, "seed", (int)seed, spec), threads ?? Int(settings, "threads", 1, spec));
                return new SimulatedBackend(Model(settings, spec) == SimulatedModel.Surrogate
                    ? SimulatedSettings.Surrogate(noise, simulatedSeed, simulatedThreads)
                    : new SimulatedSettings(NoiseCv: noise, Seed: simulatedSeed, Threads: simulatedThreads));
            case AdbPhoneBackend.Name:
                return CreatePhone(spec, settings, threads, seed);
            case TableBackend.Prefix:
                if (string.IsNullOrWhiteSpace(argument))
                {
                    throw new UnknownBackendException($"backend '{spec}': a table backend needs a file, e.g. table:tables/onnxruntime-224.json");
                }
                return TableBackend.Load(argument);
            default:
                throw new UnknownBackendException($"unknown backend '{spec}' (known: {string.Join(", ", Names)})");
        }
    }

    /// <summary>Creates a backend that can time single layers (to build a table on).</summary>
    public static ILayerLatencyBackend CreateLayerBackend(string spec, int? threads = null, long seed = 0)
    {
        if (Parse(spec).Name == TableBackend.Prefix)
        {
            throw new UnknownBackendException($"backend '{spec}': a table cannot be built from another table; use {OnnxRuntimeBackend.Name}, {TfliteBackend.Name}, {TorchSharpBackend.Name} or {SimulatedBackend.Name}");
        }
        return (ILayerLatencyBackend)Create(spec, threads, seed);
    }

    private static readonly string[] AdbSettingKeys = ["serial", "threads", "cores", "binary", "remote-binary", "xnnpack", "server", "max-temp", "thermal-wait", "timeout"];

    /// <summary>Parses an <c>adb:…</c> spec (pure; no phone is contacted).</summary>
    public static AdbPhoneSettings PhoneSettings(string spec, int? threads = null)
    {
        var (name, settings, _) = Parse(spec);
        if (name != AdbPhoneBackend.Name)
        {
            throw new UnknownBackendException($"backend '{spec}' is not an adb phone");
        }
        return PhoneSettings(spec, settings, threads);
    }

    private static AdbPhoneSettings PhoneSettings(string spec, IReadOnlyDictionary<string, string> settings, int? threads)
    {
        string? Text(string key) => settings.TryGetValue(key, out var v) && v.Length > 0 ? v : null;
        var xnnpack = OnOff(settings, "xnnpack", true, spec);
        var cores = Text("cores") ?? "auto";
        if (cores != "auto")
        {
            try
            {
                PhoneCommands.ParseMask(cores);
            }
            catch (FormatException e)
            {
                throw new UnknownBackendException($"backend '{spec}': {e.Message}");
            }
        }
        TimeSpan? Seconds(string key) => settings.ContainsKey(key) ? TimeSpan.FromSeconds(Double(settings, key, 0, spec)) : null;
        var phone = new AdbPhoneSettings(
            Serial: Text("serial"),
            Threads: threads ?? Int(settings, "threads", 1, spec),
            Cores: cores,
            LocalBinary: Text("binary"),
            Xnnpack: xnnpack,
            Server: Text("server"),
            MaxTemperatureC: settings.ContainsKey("max-temp") ? Double(settings, "max-temp", 0, spec) : null,
            ThermalWait: Seconds("thermal-wait"),
            BenchmarkTimeout: Seconds("timeout"));
        phone = Text("remote-binary") is { } remote ? phone with { RemoteBinary = remote } : phone;
        try
        {
            return phone.Validate();
        }
        catch (ArgumentException e)
        {
            throw new UnknownBackendException($"backend '{spec}': {e.Message}");
        }
    }

    private static AdbPhoneBackend CreatePhone(string spec, IReadOnlyDictionary<string, string> settings, int? threads, long seed)
    {
        return AdbPhoneBackend.ConnectAsync(PhoneSettings(spec, settings, threads), (a, o) => PhoneModelWriter(a, o, seed)).GetAwaiter().GetResult();
    }

    private static (string Name, IReadOnlyDictionary<string, string> Settings, string Argument) Parse(string spec)
    {
        if (string.IsNullOrWhiteSpace(spec))
        {
            throw new UnknownBackendException($"backend: empty (known: {string.Join(", ", Names)})");
        }
        var colon = spec.IndexOf(':', StringComparison.Ordinal);
        var name = (colon < 0 ? spec : spec[..colon]).Trim().ToLowerInvariant();
        var argument = colon < 0 ? "" : spec[(colon + 1)..];
        if (name == TableBackend.Prefix)
        {
            return (name, new Dictionary<string, string>(), argument);
        }
        var settings = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        foreach (var part in argument.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            var eq = part.IndexOf('=', StringComparison.Ordinal);
            if (eq <= 0)
            {
                throw new UnknownBackendException($"backend '{spec}': setting '{part}' is not key=value");
            }
            settings[part[..eq].Trim()] = part[(eq + 1)..].Trim();
        }
        var known = name switch
        {
            OnnxRuntimeBackend.Name or TorchSharpBackend.Name => new[] { "threads" },
            TfliteBackend.Name => ["threads", "xnnpack"],
            SimulatedBackend.Name => ["seed", "noise", "threads", "model"],
            AdbPhoneBackend.Name => AdbSettingKeys,
            _ => [],
        };
        foreach (var key in settings.Keys.Where(k => !known.Contains(k, StringComparer.OrdinalIgnoreCase)))
        {
            throw new UnknownBackendException($"backend '{spec}': unknown setting '{key}' (known: {string.Join(", ", known)})");
        }
        return (name, settings, argument);
    }

    private static int Int(IReadOnlyDictionary<string, string> settings, string key, int fallback, string spec)
    {
        if (!settings.TryGetValue(key, out var text))
        {
            return fallback;
        }
        return int.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out var v) && v >= 0
            ? v
            : throw new UnknownBackendException($"backend '{spec}': {key} must be a non-negative integer, got '{text}'");
    }

    private static bool OnOff(IReadOnlyDictionary<string, string> settings, string key, bool fallback, string spec)
    {
        if (!settings.TryGetValue(key, out var text))
        {
            return fallback;
        }
        return text.ToLowerInvariant() switch
        {
            "on" or "true" or "1" => true,
            "off" or "false" or "0" => false,
            _ => throw new UnknownBackendException($"backend '{spec}': {key} must be on or off, got '{text}'"),
        };
    }

    private static SimulatedModel Model(IReadOnlyDictionary<string, string> settings, string spec) =>
        !settings.TryGetValue("model", out var text) ? SimulatedModel.Device : text.ToLowerInvariant() switch
        {
            "device" => SimulatedModel.Device,
            "surrogate" => SimulatedModel.Surrogate,
            _ => throw new UnknownBackendException($"backend '{spec}': model must be device or surrogate (the simulated searches' latency), got '{text}'"),
        };

    private static double Double(IReadOnlyDictionary<string, string> settings, string key, double fallback, string spec)
    {
        if (!settings.TryGetValue(key, out var text))
        {
            return fallback;
        }
        return double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var v) && double.IsFinite(v)
            ? v
            : throw new UnknownBackendException($"backend '{spec}': {key} must be a number, got '{text}'");
    }
}
