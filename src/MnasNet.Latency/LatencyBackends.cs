using System.Globalization;
using MnasNet.Latency.Backends;

namespace MnasNet.Latency;

/// <summary>
/// Creates backends from a spec string, as a CLI option or a device node's configuration:
/// <c>onnxruntime[:threads=N]</c>, <c>tflite[:threads=N,xnnpack=on|off]</c>, <c>torchsharp[:threads=N]</c>, <c>simulated[:seed=S,noise=CV]</c>, <c>table:FILE</c>.
/// </summary>
public static class LatencyBackends
{
    public const string Default = OnnxRuntimeBackend.Name;

    public static IReadOnlyList<string> Names { get; } = [OnnxRuntimeBackend.Name, TfliteBackend.Name, TorchSharpBackend.Name, SimulatedBackend.Name, TableBackend.Prefix + ":FILE"];

    /// <summary>
    /// <paramref name="threads"/> overrides a spec's thread count when given (the CLI's <c>--threads</c>).
    /// Throws <see cref="UnknownBackendException"/> or <see cref="LatencyTableException"/> with a clear message.
    /// </summary>
    public static ILatencyBackend Create(string spec, int? threads = null, long seed = 0)
    {
        var (name, settings, argument) = Parse(spec);
        switch (name)
        {
            case OnnxRuntimeBackend.Name:
                return new OnnxRuntimeBackend(new OnnxRuntimeSettings(threads ?? Int(settings, "threads", 1, spec), Seed: seed));
            case TfliteBackend.Name:
                return new TfliteBackend(new TfliteSettings(threads ?? Int(settings, "threads", 1, spec), OnOff(settings, "xnnpack", true, spec), seed));
            case TorchSharpBackend.Name:
                return new TorchSharpBackend(new TorchSharpSettings(threads ?? Int(settings, "threads", 1, spec), seed));
            case SimulatedBackend.Name:
                return new SimulatedBackend(new SimulatedSettings(
                    NoiseCv: Double(settings, "noise", 0.03, spec),
                    Seed: (ulong)Int(settings, "seed", (int)seed, spec),
                    Threads: threads ?? Int(settings, "threads", 1, spec)));
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
            SimulatedBackend.Name => ["seed", "noise", "threads"],
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
