using System.Globalization;

namespace MnasNet.Cli.Reporting;

/// <summary>How numbers are shown to people (journals and JSON keep full precision).</summary>
public static class Format
{
    /// <summary>Rewards, accuracies, correlations: 4 decimals.</summary>
    public static string Score(double value) => value.ToString("0.0000", CultureInfo.InvariantCulture);

    public static string Score(double? value) => value is { } v ? Score(v) : "-";

    /// <summary>Milliseconds: 2 decimals.</summary>
    public static string Ms(double value) => value.ToString("0.00", CultureInfo.InvariantCulture);

    public static string Ms(double? value) => value is { } v ? Ms(v) : "-";
}
