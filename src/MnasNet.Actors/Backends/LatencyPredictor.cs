using System.Security.Cryptography;
using MnasNet.Actors.Protocol;
using MnasNet.Actors.Settings;
using MnasNet.Latency;
using MnasNet.Latency.Backends;
using MnasNet.Latency.Table;
using MnasNet.SearchSpace;

namespace MnasNet.Actors.Backends;

/// <summary>
/// A search's latency predictor (<c>latency.predictor: "table:FILE"</c>): a lookup table that must cover every layer
/// the search space can produce at the options the search measures at, with the identity (file name and SHA-256 of
/// its bytes, platform, corrected or not) journaled with every prediction so a resume or an audit knows it is the
/// same table.
/// </summary>
public sealed class LatencyPredictor
{
    private readonly MnasNetSearchSpace _space;

    public LatencyTable Table { get; }

    public PredictorIdentity Identity { get; }

    /// <summary>The options the search's device measures at (and so the table must be built for).</summary>
    public NetworkOptions Options { get; }

    private LatencyPredictor(LatencyTable table, PredictorIdentity identity, NetworkOptions options, MnasNetSearchSpace space)
    {
        Table = table;
        Identity = identity;
        Options = options;
        _space = space;
    }

    /// <summary>The file of a <c>table:FILE</c> spec; anything else is a <see cref="SettingsException"/> naming the key.</summary>
    public static string TablePath(string spec)
    {
        var prefix = TableBackend.Prefix + ":";
        if (!spec.StartsWith(prefix, StringComparison.Ordinal) || spec.Length == prefix.Length)
        {
            throw new SettingsException($"latency.predictor '{spec}': expected table:FILE (a lookup table built by mnasnet latency-table build)");
        }
        return spec[prefix.Length..];
    }

    /// <summary>The search's predictor, or null without one. A missing file is a <see cref="FileNotFoundException"/>; a bad or unfitting table a <see cref="SettingsException"/>.</summary>
    public static LatencyPredictor? For(SearchSettings settings, MnasNetSearchSpace? space = null) =>
        settings.Latency.Predictor.Length == 0 ? null : Load(settings.Latency.Predictor, new NetworkOptions(Resolution: settings.Latency.Resolution), space ?? MnasNetSearchSpace.Default);

    public static LatencyPredictor Load(string spec, NetworkOptions options, MnasNetSearchSpace space)
    {
        var path = TablePath(spec);
        if (!File.Exists(path))
        {
            throw new FileNotFoundException($"latency.predictor: latency table '{path}' not found", path);
        }
        var bytes = File.ReadAllBytes(path);
        LatencyTable table;
        try
        {
            table = LatencyTable.Parse(System.Text.Encoding.UTF8.GetString(bytes));
        }
        catch (LatencyTableException e)
        {
            throw new SettingsException($"latency.predictor: latency table '{path}': {e.Message}");
        }
        var o = table.Options;
        if (o.Resolution != options.Resolution || o.InputChannels != options.InputChannels || o.Classes != options.Classes || o.Width != options.Width)
        {
            throw new SettingsException($"latency.predictor: latency table '{path}' was built for resolution {o.Resolution}, {o.InputChannels} input channels, {o.Classes} classes, width {o.Width}; "
                + $"the search measures at resolution {options.Resolution} (latency.resolution), {options.InputChannels} input channels, {options.Classes} classes, width {options.Width}: build a table for those");
        }
        var missing = LatencyTableBuilder.SearchSpaceLayers(space, options).Select(l => l.Key).Distinct().Count(k => !table.Entries.ContainsKey(k));
        if (missing > 0)
        {
            throw new SettingsException($"latency.predictor: latency table '{path}' lacks {missing} layers of the search space (built with --samples?): build the full table (mnasnet latency-table build without --samples)");
        }
        var identity = new PredictorIdentity(spec, Path.GetFileName(path), Convert.ToHexStringLower(SHA256.HashData(bytes)), table.Platform.Summary, table.Correction is not null, o.Resolution);
        return new LatencyPredictor(table, identity, options, space);
    }

    /// <summary>The SHA-256 of a table file's bytes as it is now (to compare with a journaled identity).</summary>
    public static string Sha256Of(string path) => Convert.ToHexStringLower(SHA256.HashData(File.ReadAllBytes(path)));

    public double PredictMs(IReadOnlyList<int> tokens) => Table.Predict(_space.Decode(tokens), Options).TotalMs;
}
