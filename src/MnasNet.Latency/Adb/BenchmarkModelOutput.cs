using System.Globalization;

namespace MnasNet.Latency.Adb;

/// <summary>
/// The timings TFLite's <c>benchmark_model</c> printed, in microseconds. Current builds print a warm-up stats line,
/// the inference stats line (<c>count=… avg=… std=… p5=… median=… p95=…</c>) and <c>Inference timings in us: …</c>;
/// TF 2.1 prints <c>Average inference timings in us: Warmup: …, Init: …, Inference: …</c>. Null where not printed.
/// </summary>
public sealed record BenchmarkModelResult(
    int? Count,
    double? MedianUs,
    double? AverageUs,
    double? MinUs,
    double? MaxUs,
    double? StdUs,
    double? P5Us,
    double? P95Us,
    double? InitUs,
    double? WarmupAverageUs)
{
    /// <summary>The figure reported: the median where printed, else the average.</summary>
    public double ReportedUs => MedianUs ?? AverageUs ?? throw new InvalidOperationException("no inference timing");

    public string ReportedStatistic => MedianUs is null ? "avg" : "median";
}

public static class BenchmarkModelOutput
{
    /// <summary>
    /// Pure: reads the inference timings from benchmark_model's output (stdout and stderr together: builds differ in
    /// where they log). Lines may carry <c>INFO:</c> prefixes and <c>\r</c>; numbers may be in exponent form. Throws
    /// <see cref="FormatException"/> naming the problem when no inference timing is found.
    /// </summary>
    public static BenchmarkModelResult Parse(string output)
    {
        ArgumentNullException.ThrowIfNull(output);
        IReadOnlyDictionary<string, double>? stats = null;
        IReadOnlyDictionary<string, double>? summary = null;
        foreach (var raw in output.Replace("\r", "\n", StringComparison.Ordinal).Split('\n'))
        {
            var line = StripPrefix(raw.Trim());
            if (line.StartsWith("count=", StringComparison.Ordinal))
            {
                // The inference stats line follows the warm-up one: the last wins.
                stats = KeyValues(line);
            }
            else if (line.StartsWith("Inference timings in us:", StringComparison.Ordinal) || line.StartsWith("Average inference timings in us:", StringComparison.Ordinal))
            {
                summary = Summary(line[(line.IndexOf(':', StringComparison.Ordinal) + 1)..]);
            }
        }
        double? S(string key) => stats is not null && stats.TryGetValue(key, out var v) ? v : null;
        double? T(string key) => summary is not null && summary.TryGetValue(key, out var v) ? v : null;
        var average = T("Inference (avg)") ?? T("Inference") ?? S("avg");
        var median = S("median");
        if (median is null && average is null)
        {
            throw new FormatException("benchmark_model printed no inference timings (no 'count=… median=…' line and no 'Inference timings in us:' line)");
        }
        return new BenchmarkModelResult(
            S("count") is { } c ? (int)c : null, median, average, S("min"), S("max"), S("std"), S("p5"), S("p95"),
            T("Init"), T("Warmup (avg)") ?? T("Warmup"));
    }

    private static string StripPrefix(string line)
    {
        foreach (var prefix in new[] { "INFO:", "I:" })
        {
            if (line.StartsWith(prefix, StringComparison.Ordinal))
            {
                return line[prefix.Length..].Trim();
            }
        }
        return line;
    }

    private static Dictionary<string, double> KeyValues(string line)
    {
        var values = new Dictionary<string, double>(StringComparer.Ordinal);
        foreach (var token in line.Split([' ', '\t'], StringSplitOptions.RemoveEmptyEntries))
        {
            var eq = token.IndexOf('=', StringComparison.Ordinal);
            if (eq > 0 && TryNumber(token[(eq + 1)..], out var v))
            {
                values[token[..eq]] = v;
            }
        }
        return values;
    }

    private static Dictionary<string, double> Summary(string text)
    {
        var values = new Dictionary<string, double>(StringComparer.Ordinal);
        foreach (var part in text.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            var colon = part.LastIndexOf(':');
            if (colon > 0 && TryNumber(part[(colon + 1)..].Trim(), out var v))
            {
                values[part[..colon].Trim()] = v;
            }
        }
        return values;
    }

    private static bool TryNumber(string text, out double value) =>
        double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out value) && double.IsFinite(value);
}
