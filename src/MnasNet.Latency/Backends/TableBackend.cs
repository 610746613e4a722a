using MnasNet.Latency.Measurement;
using MnasNet.Latency.Table;
using MnasNet.SearchSpace;

namespace MnasNet.Latency.Backends;

/// <summary>
/// The lookup-table predictor behind the backend interface: one "sample", the prediction, labelled
/// <see cref="LatencySource.Predicted"/> with the platform the table was measured on.
/// </summary>
public sealed class TableBackend : ILatencyBackend
{
    public const string Prefix = "table";

    private readonly ResolutionLimits _limits;

    public LatencyTable Table { get; }

    public string DeviceId { get; }

    public PlatformDescription Platform { get; }

    public TableBackend(LatencyTable table, string source, ResolutionLimits? limits = null)
    {
        Table = (table ?? throw new ArgumentNullException(nameof(table))).Validate();
        _limits = limits ?? ResolutionLimits.Default;
        DeviceId = $"{Prefix}:{source}";
        Platform = table.Platform with
        {
            Backend = $"{Prefix}({table.Platform.Backend})",
            Source = LatencySource.Predicted,
            Details = $"predicted from {table.Entries.Count} layers measured on {table.DeviceId} at {table.CreatedAt:u}" +
                (table.Correction is { } c ? FormattableString.Invariant($", corrected by a fit on {c.Samples} networks measured on {c.ReferenceDevice} (fit MAPE {c.FitMapePercent:F1} %)") : ""),
        };
    }

    public static TableBackend Load(string path) => new(LatencyTable.Load(path), Path.GetFileName(path));

    public Task<LatencyMeasurement> MeasureAsync(Architecture architecture, NetworkOptions options, MeasurementProtocol protocol, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(architecture);
        cancellationToken.ThrowIfCancellationRequested();
        _limits.Check(architecture, options);
        var predicted = Table.Predict(architecture, options).TotalMs;
        var timed = new TimedRuns([predicted], 1, StopReason.RunsCompleted, 0);
        return Task.FromResult(LatencyMeasurements.Create(architecture.Id, options.Resolution, DeviceId, Platform, protocol with { Warmup = 0, Runs = 1, CvTarget = null, TimeBudget = null }, timed, DateTimeOffset.UtcNow));
    }

    public ValueTask DisposeAsync() => ValueTask.CompletedTask;
}
