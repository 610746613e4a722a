using System.Text.Json.Serialization;

namespace MnasNet.Actors.Settings;

/// <summary>
/// Everything a node runs a search with, resolved from a JSON file, environment variables and <c>--set key=value</c>
/// (<see cref="SettingsLoader"/>): the search's <see cref="SearchDefinition"/> (journaled in search-started, so a
/// resumed or replayed search uses exactly those values) and this node's <see cref="NodeOptions"/> (journal
/// location, workers, logging, cluster; not journaled). Keys are camelCase paths, e.g. <c>reward.targetMs</c>.
/// </summary>
public sealed record SearchSettings : SearchDefinition
{
    public SearchSettings()
    {
    }

    private SearchSettings(SearchDefinition definition, NodeOptions node)
        : base(definition)
    {
        Journal = node.Journal;
        Workers = node.Workers;
        Logging = node.Logging;
        Cluster = node.Cluster;
        Controller = node.Controller;
        Final = node.Final;
    }

    public JournalSettings Journal { get; init; } = new();
    public WorkerSettings Workers { get; init; } = new();
    public LoggingSettings Logging { get; init; } = new();
    public ClusterSettings Cluster { get; init; } = new();
    public ControllerNodeSettings Controller { get; init; } = new();
    public FinalTrainingNodeSettings Final { get; init; } = new();

    /// <summary>libtorch intra-op threads of this node's policy: <c>controller.threads</c> when set, else the search's <c>threads</c>.</summary>
    [JsonIgnore]
    public int PolicyThreads => Controller.Threads ?? Threads;

    /// <summary>The search's definition alone (what is journaled), without this node's options.</summary>
    [JsonIgnore]
    public SearchDefinition Definition => DefinitionOnly();

    [JsonIgnore]
    public NodeOptions Node => new() { Journal = Journal, Workers = Workers, Logging = Logging, Cluster = Cluster, Controller = Controller, Final = Final };

    public static SearchSettings Of(SearchDefinition definition, NodeOptions node) => new(definition, node);
}

/// <summary>Reward ACC·(LAT/T)^w: preset soft (α = β = −0.07), hard (α = 0, β = −1) or custom (α, β given).</summary>
public sealed record RewardSettings
{
    public RewardExponents Preset { get; init; } = RewardExponents.Soft;
    public double? Alpha { get; init; }
    public double? Beta { get; init; }
    public double TargetMs { get; init; } = 1.0;
}

/// <summary>PPO settings of the controller policy (defaults: MnasNet.Controller's measured defaults).</summary>
public sealed record PolicySettings
{
    public double LearningRate { get; init; } = 0.01;
    public double Clip { get; init; } = 0.2;
    public int Epochs { get; init; } = 4;
    public double EntropyWeight { get; init; } = 0.005;
    public double BaselineDecay { get; init; } = 0.25;
    /// <summary>
    /// The implementation of strategy ppo: "managed" (plain C#, exact arithmetic: the same bits on every machine and
    /// thread count; what a new search gets) or "libtorch". A journal written before this key existed has none and
    /// means libtorch (<see cref="SettingsLoader.DefinitionFromJson"/>).
    /// </summary>
    public string Engine { get; init; } = MnasNet.Controller.ControllerEngines.Managed;
}

public sealed record DatasetSettings
{
    /// <summary>fashion-mnist[:DIR] | mnist:DIR | cifar10:DIR | folder:DIR (MnasNet.Training's syntax).</summary>
    public string Spec { get; init; } = "fashion-mnist";
    public int? TrainSize { get; init; } = 2000;
    public int? ValidationSize { get; init; } = 500;
    public int? Resolution { get; init; }
}

public sealed record TrainingSettings
{
    public int Epochs { get; init; } = 1;
    public int BatchSize { get; init; } = 32;
    /// <summary>SGD (MnasNet.Training's default optimizer) learning rate.</summary>
    public double LearningRate { get; init; } = 0.1;
    public double Width { get; init; } = 0.5;
    /// <summary>Keep each trial's trained weights under the journal directory (for export).</summary>
    public bool KeepWeights { get; init; } = true;
    /// <summary>
    /// The proxy training recipe (MnasNet.Training's <see cref="MnasNet.Training.Proxy.TrainingRecipe"/>: optimizer,
    /// learning rate per 256 images, warm-up, schedule, regularization, batch size, epochs, augmentation); keys left
    /// out take the recipe's defaults. Null: SGD + cosine with epochs, batchSize and learningRate above.
    /// </summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public MnasNet.Training.Proxy.TrainingRecipe? Recipe { get; init; }

    [JsonIgnore]
    public int EffectiveEpochs => Recipe?.Epochs ?? Epochs;
}

public sealed record LatencySettings
{
    /// <summary>
    /// "onnxruntime" or "tflite" in real mode, or a phone: <c>adb[:serial=S,threads=1,cores=auto|MASK,binary=PATH,xnnpack=on|off]</c>;
    /// the simulated backend is chosen by mode = simulated.
    /// </summary>
    public string Backend { get; init; } = "onnxruntime";
    public int Resolution { get; init; } = 224;
    public int Warmup { get; init; } = 3;
    public int Runs { get; init; } = 10;
    /// <summary>
    /// The device platform measured on, as a selector (<c>onnxruntime:threads=1</c>, <c>simulated</c>); only devices
    /// that satisfy it get this search's measurements. Empty → the backend and threads of these settings.
    /// </summary>
    public string Target { get; init; } = "";
    /// <summary>
    /// <c>table:FILE</c>: every trained trial gets a latency predicted by this lookup table (<c>mnasnet latency-table
    /// build</c>, optionally calibrated), and only the <see cref="MeasureTop"/> fraction of each batch ranked best by
    /// the predicted reward is measured on the target device. Empty: every trial is measured.
    /// </summary>
    public string Predictor { get; init; } = "";
    /// <summary>With a predictor: the fraction F in (0, 1] of each batch's trained trials measured (the top ⌈F·n⌉).</summary>
    public double MeasureTop { get; init; } = 1;
}

/// <summary>
/// Simulated backends: surrogate accuracy and analytic latency with seeded noise, and how long work takes: fixed
/// durations (trainSeconds / measureSeconds) or the <see cref="Cost"/> model, in virtual time by default.
/// </summary>
public sealed record SimulationSettings
{
    /// <summary>virtual: a discrete-event clock (a simulated day takes milliseconds); real: durations are waited for.</summary>
    public SimulationClock Clock { get; init; } = SimulationClock.Virtual;
    /// <summary>Fixed seconds per training (no cost model, no noise); 0 = the cost model's, or none without one.</summary>
    public double TrainSeconds { get; init; }
    /// <summary>Fixed seconds per measurement (no cost model, no noise); 0 = the cost model's, or none without one.</summary>
    public double MeasureSeconds { get; init; }
    /// <summary>How long training, measuring and policy updates take when <c>cost.enabled</c>; otherwise only the fixed durations above.</summary>
    public CostModelSettings Cost { get; init; } = new();
    public double AccuracyNoise { get; init; } = 0.005;
    public double LatencyNoise { get; init; } = 0.02;
    /// <summary>Fraction of trials whose training fails (deterministic per trial) to exercise failure handling.</summary>
    public double FailureRate { get; init; }
    /// <summary>Fraction of trials (deterministic per trial) whose measurement meets an infrastructure fault (a device gone) …</summary>
    public double InfrastructureFaultRate { get; init; }
    /// <summary>… on this many of its first attempts: fewer than workers.maxAttempts are retried away, more fail the trial as infrastructure.</summary>
    public int InfrastructureFaultAttempts { get; init; } = 1;
    /// <summary>
    /// Windows of virtual time in which every journal write fails, as <c>START+SECONDS</c> pairs in virtual seconds
    /// after the search started, e.g. "36000+600,90000+1800"; the controller stops and is restarted with back-off.
    /// </summary>
    public string JournalOutages { get; init; } = "";
}

/// <summary>
/// Durations of simulated work (see the Actors README, "Virtual time"): training = MACs × imagesPerEpoch × epochs ÷
/// (trainerMacsPerSecond × the trainer's speed) + trialOverheadSeconds; measuring = setupSeconds + (warm-up + runs) ×
/// latency ÷ the device's speed; each × (1 + noise · N(0, 1)) drawn from the trial's seed (never below 10 %).
/// </summary>
public sealed record CostModelSettings
{
    public bool Enabled { get; init; }
    /// <summary>Images per epoch of proxy training (the paper: 50,000 held-out ImageNet images).</summary>
    public long ImagesPerEpoch { get; init; } = 50_000;
    /// <summary>Multiply-adds per second one trainer of speed 1 gets through in training (forward and backward: about 3 × MACs per image).</summary>
    public double TrainerMacsPerSecond { get; init; } = 1e12;
    /// <summary>Fixed seconds per trial: start-up, data loading, evaluation.</summary>
    public double TrialOverheadSeconds { get; init; }
    /// <summary>Fixed seconds per measurement: push the model, set up the benchmark.</summary>
    public double MeasureSetupSeconds { get; init; }
    /// <summary>Seconds of a policy update: the next batch is dispatched only after it.</summary>
    public double UpdateSeconds { get; init; }
    /// <summary>Relative standard deviation of every duration (seeded per trial).</summary>
    public double Noise { get; init; }
    /// <summary>Speed groups of the trainers as <c>SHARE x SPEED</c> pairs, e.g. "48x1.0,16x0.5" (¾ at speed 1, ¼ at half speed); empty = all at speed 1.</summary>
    public string TrainerSpeeds { get; init; } = "";
    /// <summary>Speed groups of the devices (e.g. phones of two models), as <see cref="TrainerSpeeds"/>; empty = all at speed 1.</summary>
    public string DeviceSpeeds { get; init; } = "";
    /// <summary>Fraction of training attempts (seeded per trial and attempt) whose trainer crashes: no result, the lease expires.</summary>
    public double TrainerCrashRate { get; init; }
    /// <summary>Seconds a crashed trainer takes to come back (it then asks for work again, holding nothing).</summary>
    public double TrainerRestartSeconds { get; init; } = 60;
}

/// <summary>A share of a worker pool and its speed (work takes duration ÷ speed).</summary>
public sealed record SpeedGroup(double Share, double Speed)
{
    /// <summary>"48x1.0,16x0.5" → two groups; "" → none.</summary>
    /// <exception cref="SettingsException">Not pairs of positive numbers.</exception>
    public static IReadOnlyList<SpeedGroup> Parse(string spec, string key) => [.. spec.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Select(pair =>
    {
        var parts = pair.Split('x', 'X');
        return parts.Length == 2
            && double.TryParse(parts[0], System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture, out var share) && share > 0
            && double.TryParse(parts[1], System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture, out var speed) && speed > 0
            ? new SpeedGroup(share, speed)
            : throw new SettingsException($"{key} '{spec}': expected SHARE x SPEED pairs of positive numbers, e.g. 48x1.0,16x0.5; got '{pair}'");
    })];
}

public sealed record JournalSettings
{
    /// <summary>Directory of the journals: one SQLite file per search, &lt;directory&gt;/&lt;id&gt;.db.</summary>
    public string Directory { get; init; } = "searches";
    /// <summary>Snapshot of the controller (state + policy) every K policy updates.</summary>
    public int SnapshotEvery { get; init; } = 10;
    /// <summary>
    /// A policy of exact arithmetic (the managed engine, the tabular and sampling strategies) journals its whole state
    /// with every K-th policy update, the last one and each one a snapshot is taken at; recovery and the audit re-run
    /// the updates between, bit for bit. A policy state is ~1 MB for the LSTM: K = 1 journals every one (the libtorch
    /// engine always does, its re-runs being exact only on the platform and thread count that wrote them).
    /// </summary>
    public int PolicyStateEvery { get; init; } = 8;
    /// <summary>"sqlite" (single node, default) or "postgresql" (clusters: one database shared by every controller node).</summary>
    public string Provider { get; init; } = "sqlite";
    /// <summary>
    /// PostgreSQL only: a file holding the connection string. Empty → the environment variable MNASNET_PG_CONNECTION.
    /// The connection string itself (it has the password) is never part of the settings.
    /// </summary>
    public string ConnectionStringFile { get; init; } = "";
    /// <summary>
    /// A file holding the key of the journal's HMAC chain. Empty → the environment variable MNASNET_JOURNAL_KEY; neither
    /// → an unkeyed SHA-256 chain. The key itself is never part of the settings.
    /// </summary>
    public string KeyFile { get; init; } = "";
}

/// <summary>How this node runs a search's controller.</summary>
public sealed record ControllerNodeSettings
{
    /// <summary>
    /// libtorch intra-op threads of the policy (LSTM PPO) on this node; unset: the search's <c>threads</c>. Another
    /// count than the journal was written with still resumes the search from its journaled policy state, but later
    /// updates then agree with an uninterrupted run only to rounding; each update journals the count that ran it.
    /// </summary>
    public int? Threads { get; init; }
}

/// <summary>How this node runs <c>mnasnet train-final</c>.</summary>
public sealed record FinalTrainingNodeSettings
{
    /// <summary>
    /// Where finalists' epoch checkpoints go; empty: <c>&lt;journal.directory&gt;/&lt;id&gt;.final</c> on a single node. On a
    /// cluster a directory every trainer node sees at this same path (a shared file system), so a finalist whose
    /// trainer node dies resumes on another one from its last journaled epoch.
    /// </summary>
    public string CheckpointDir { get; init; } = "";
}

public sealed record WorkerSettings
{
    public int Trainers { get; init; } = 1;
    public int Devices { get; init; } = 1;
    public double LeaseTimeoutSeconds { get; init; } = 600;
    /// <summary>On pause, how long in-flight trials may run before they are abandoned (re-run on resume).</summary>
    public double PauseGraceSeconds { get; init; } = 30;
    /// <summary>
    /// Attempts a device worker makes at one measurement when the device fails transiently (phone offline, adb server
    /// gone), waiting retryDelaySeconds, then twice that, … between them; then the trial fails.
    /// </summary>
    public int MaxAttempts { get; init; } = 3;
    public double RetryDelaySeconds { get; init; } = 2;

    /// <summary>Cores this node's trainers run on ("0", "0-2", "0,2"); empty: any.</summary>
    public string TrainerCores { get; init; } = "";

    /// <summary>Cores this node's host latency measurements run on (with the runtime's threads); empty: any.</summary>
    public string DeviceCores { get; init; } = "";

    /// <summary>While a host measurement times its runs, this process's trainers pause at their next batch boundary.</summary>
    public bool QuietMeasurements { get; init; } = true;
}

public sealed record LoggingSettings
{
    public string Level { get; init; } = "Information";
    /// <summary>Rolling CLEF file; empty → &lt;journal directory&gt;/&lt;id&gt;-&lt;date&gt;.clef.</summary>
    public string File { get; init; } = "";
    public string SeqUrl { get; init; } = "";
    public bool Console { get; init; } = true;
}

/// <summary>Cluster timings (only used by cluster nodes): failure detection and the split-brain resolver.</summary>
public sealed record ClusterSettings
{
    /// <summary>Split-brain resolver (keep-majority): how long membership must be stable before unreachable nodes are downed.</summary>
    public double StableAfterSeconds { get; init; } = 20;
    public double HeartbeatIntervalSeconds { get; init; } = 1;
    public double AcceptableHeartbeatPauseSeconds { get; init; } = 3;
    /// <summary>An idle worker repeats its request for work this often (a restarted controller learns about it).</summary>
    public double WorkRequestIntervalSeconds { get; init; } = 2;
    /// <summary>How often a process attached to a clustered search asks it for its progress.</summary>
    public double StatusPollSeconds { get; init; } = 1;
    public ClusterTlsSettings Tls { get; init; } = new();
}

/// <summary>
/// Optional TLS between cluster nodes (mutual: each side checks the other's certificate). Every node loads the same
/// PKCS#12 certificate and accepts only peers presenting that very certificate. The password comes from
/// <see cref="PasswordFile"/> or else the environment variable MNASNET_TLS_PASSWORD (none: an unprotected file),
/// never from the settings themselves.
/// </summary>
public sealed record ClusterTlsSettings
{
    public bool Enabled { get; init; }
    /// <summary>The node's certificate with its private key, a PKCS#12 (.pfx/.p12) file.</summary>
    public string CertificateFile { get; init; } = "";
    /// <summary>A file holding the certificate file's password (e.g. a Docker/Kubernetes secret).</summary>
    public string PasswordFile { get; init; } = "";
}
