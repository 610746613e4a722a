using System.Text.Json.Serialization;

namespace MnasNet.Latency.Measurement;

/// <summary>
/// How to time a model: <see cref="Warmup"/> untimed runs, then rounds of <see cref="Runs"/> timed runs. Without a
/// <see cref="CvTarget"/> one round is taken. With one, rounds are added until the coefficient of variation of all
/// samples so far is at most the target or <see cref="TimeBudget"/> (wall time of the timed rounds) is spent;
/// <see cref="LatencyMeasurement.StopReason"/> says which.
/// </summary>
public sealed record MeasurementProtocol(
    int Warmup = 10,
    int Runs = 50,
    double? CvTarget = null,
    TimeSpan? TimeBudget = null,
    int MaxRounds = 20)
{
    public static MeasurementProtocol Default { get; } = new();

    /// <summary>Few runs for tests and table builds.</summary>
    public static MeasurementProtocol Quick { get; } = new(Warmup: 2, Runs: 5);

    public MeasurementProtocol Validate()
    {
        if (Warmup < 0)
        {
            throw new ArgumentException($"warm-up runs must be 0 or more, got {Warmup}");
        }
        if (Runs < 1)
        {
            throw new ArgumentException($"timed runs must be at least 1, got {Runs}");
        }
        if (CvTarget is { } cv && !(cv > 0 && double.IsFinite(cv)))
        {
            throw new ArgumentException($"CV target must be a positive number, got {cv}");
        }
        if (TimeBudget is { } budget && budget <= TimeSpan.Zero)
        {
            throw new ArgumentException($"time budget must be positive, got {budget}");
        }
        if (CvTarget is not null && TimeBudget is null)
        {
            throw new ArgumentException("a CV target needs a time budget, so that a noisy device cannot measure forever");
        }
        if (MaxRounds < 1)
        {
            throw new ArgumentException($"max rounds must be at least 1, got {MaxRounds}");
        }
        return this;
    }
}

/// <summary>Why the timed runs stopped.</summary>
[JsonConverter(typeof(JsonStringEnumConverter<StopReason>))]
public enum StopReason
{
    /// <summary>No CV target: one round of the requested runs.</summary>
    RunsCompleted,

    /// <summary>The coefficient of variation reached the target.</summary>
    CvTargetMet,

    /// <summary>The time budget was spent before the CV target was reached.</summary>
    TimeBudgetExhausted,

    /// <summary>The round limit was reached before the CV target was met (within the time budget).</summary>
    MaxRoundsReached,
}
