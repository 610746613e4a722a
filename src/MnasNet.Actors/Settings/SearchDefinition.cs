using System.Text.Json.Serialization;

namespace MnasNet.Actors.Settings;

/// <summary>
/// What a search is — space and strategy, reward, targets, training recipe, seeds and thread count — and nothing
/// about where it runs. This is what search-started journals and what the first work offer carries, so a resumed or
/// replayed search, on any machine, uses exactly these values. Per-machine deployment is <see cref="NodeOptions"/>.
/// </summary>
public record SearchDefinition
{
    /// <summary>Search id (file name of the journal); generated when empty.</summary>
    public string Id { get; init; } = "";

    public ulong Seed { get; init; } = 1;

    /// <summary>Threads for libtorch and ONNX Runtime (part of determinism: same seed + same threads → same results).</summary>
    public int Threads { get; init; } = 1;

    /// <summary>One of MnasNet.Controller's <c>SearchStrategies.All</c>: "ppo" (LSTM controller + PPO), "random", "evolution", "tpe", "ppo-tabular".</summary>
    public string Strategy { get; init; } = "ppo";

    public int BatchSize { get; init; } = 8;

    /// <summary>Number of batches; the trial budget is BatchSize × Batches.</summary>
    public int Batches { get; init; } = 4;

    public SearchMode Mode { get; init; } = SearchMode.Real;

    public RewardSettings Reward { get; init; } = new();
    public PolicySettings Policy { get; init; } = new();
    public DatasetSettings Dataset { get; init; } = new();
    public TrainingSettings Training { get; init; } = new();
    public LatencySettings Latency { get; init; } = new();
    public SimulationSettings Simulation { get; init; } = new();

    [JsonIgnore]
    public bool Simulated => Mode == SearchMode.Simulated;

    [JsonIgnore]
    public long TrialBudget => (long)BatchSize * Batches;

    /// <summary>A copy of just the definition, whatever record derives from it (records compare by type too).</summary>
    protected SearchDefinition DefinitionOnly() => new(this);
}

/// <summary>
/// How this machine runs searches: where journals are, how many workers, logging, cluster timings and TLS. Never
/// journaled; <c>search</c>, <c>resume</c> and <c>node</c> take them from their configuration
/// (<see cref="NodeOptionsLoader"/>), so a resumed search may run with other ones.
/// </summary>
public sealed record NodeOptions
{
    /// <summary>The top-level keys of the node options in a configuration file.</summary>
    [JsonIgnore]
    public static IReadOnlyList<string> Sections { get; } = ["journal", "workers", "logging", "cluster", "controller", "final"];

    public JournalSettings Journal { get; init; } = new();
    public WorkerSettings Workers { get; init; } = new();
    public LoggingSettings Logging { get; init; } = new();
    public ClusterSettings Cluster { get; init; } = new();
    public ControllerNodeSettings Controller { get; init; } = new();
    public FinalTrainingNodeSettings Final { get; init; } = new();
}
