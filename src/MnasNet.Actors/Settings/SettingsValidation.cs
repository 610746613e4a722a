using System.Text.RegularExpressions;

namespace MnasNet.Actors.Settings;

/// <summary>Rejects values that are out of range or contradict each other, naming the keys involved.</summary>
public static partial class SettingsValidation
{
    public static IReadOnlyList<string> Strategies => Controller.SearchStrategies.All;
    public static readonly IReadOnlyList<string> RealLatencyBackends = ["onnxruntime", "tflite", MnasNet.Latency.Adb.AdbPhoneBackend.Name];

    /// <summary>The backend a spec names: <c>adb</c> of <c>adb:serial=…</c>.</summary>
    public static string BackendName(string spec) => (spec.IndexOf(':', StringComparison.Ordinal) is var colon and >= 0 ? spec[..colon] : spec).Trim();
    /// <summary>Workers of each kind a virtual-time search may have (a real node: 64).</summary>
    public const int MaxVirtualWorkers = 1024;

    public static readonly IReadOnlyList<string> Levels = ["Verbose", "Debug", "Information", "Warning", "Error", "Fatal"];

    public static SearchSettings Validate(SearchSettings s)
    {
        if (s.Id.Length > 0 && !IdPattern().IsMatch(s.Id))
        {
            throw new SettingsException($"id '{s.Id}': use 1-64 letters, digits, '-', '_' or '.', starting with a letter or digit");
        }
        Require(s.Threads is >= 1 and <= 256, $"threads must be between 1 and 256, got {s.Threads}");
        Require(s.Controller.Threads is null or (>= 1 and <= 256), $"controller.threads must be between 1 and 256, got {s.Controller.Threads}");
        _ = Cores(s.Workers.TrainerCores, "workers.trainerCores");
        _ = Cores(s.Workers.DeviceCores, "workers.deviceCores");
        Require(Strategies.Contains(s.Strategy), $"strategy '{s.Strategy}': expected one of {string.Join(", ", Strategies)}");
        Require(s.BatchSize >= 1, $"batchSize must be at least 1, got {s.BatchSize}");
        Require(s.Batches >= 1, $"batches must be at least 1, got {s.Batches}");
        Require(s.TrialBudget <= 10_000_000, $"batchSize × batches = {s.TrialBudget} trials is more than 10,000,000");

        var r = s.Reward;
        Require(r.TargetMs > 0 && double.IsFinite(r.TargetMs), $"reward.targetMs must be a positive number of milliseconds, got {r.TargetMs}");
        if (r.Preset == RewardExponents.Custom)
        {
            Require(r.Alpha is not null && r.Beta is not null, "reward.preset 'custom' needs both reward.alpha and reward.beta");
        }
        else
        {
            var (alpha, beta) = r.Preset == RewardExponents.Soft ? (-0.07, -0.07) : (0.0, -1.0);
            Require(r.Alpha is null || r.Alpha == alpha, $"reward.alpha = {r.Alpha} contradicts reward.preset '{r.Preset.Word()}' (α = {alpha}); use preset 'custom' for other exponents");
            Require(r.Beta is null || r.Beta == beta, $"reward.beta = {r.Beta} contradicts reward.preset '{r.Preset.Word()}' (β = {beta}); use preset 'custom' for other exponents");
        }
        Require(r.Alpha is null || (r.Alpha <= 0 && r.Alpha >= -10), $"reward.alpha must be in [-10, 0], got {r.Alpha}");
        Require(r.Beta is null || (r.Beta <= 0 && r.Beta >= -10), $"reward.beta must be in [-10, 0], got {r.Beta}");

        var p = s.Policy;
        Require(p.LearningRate > 0 && p.LearningRate <= 10, $"policy.learningRate must be in (0, 10], got {p.LearningRate}");
        Require(p.Clip > 0 && p.Clip < 1, $"policy.clip must be in (0, 1), got {p.Clip}");
        Require(p.Epochs is >= 1 and <= 100, $"policy.epochs must be between 1 and 100, got {p.Epochs}");
        Require(p.EntropyWeight >= 0, $"policy.entropyWeight must be 0 or more, got {p.EntropyWeight}");
        Require(p.BaselineDecay >= 0 && p.BaselineDecay < 1, $"policy.baselineDecay must be in [0, 1), got {p.BaselineDecay}");
        Require(Controller.ControllerEngines.All.Contains(p.Engine), $"policy.engine must be one of {string.Join(", ", Controller.ControllerEngines.All)}, got '{p.Engine}'");

        Require(s.Dataset.TrainSize is null or >= 10, $"dataset.trainSize must be at least 10, got {s.Dataset.TrainSize}");
        Require(s.Dataset.ValidationSize is null or >= 10, $"dataset.validationSize must be at least 10, got {s.Dataset.ValidationSize}");
        Require(s.Dataset.Resolution is null or (>= 8 and <= 1024), $"dataset.resolution must be between 8 and 1024, got {s.Dataset.Resolution}");
        Require(s.Training.Epochs >= 1, $"training.epochs must be at least 1, got {s.Training.Epochs}");
        Require(s.Training.BatchSize >= 1, $"training.batchSize must be at least 1, got {s.Training.BatchSize}");
        Require(s.Training.LearningRate > 0, $"training.learningRate must be positive, got {s.Training.LearningRate}");
        Require(s.Training.Width > 0 && s.Training.Width <= 4, $"training.width must be in (0, 4], got {s.Training.Width}");
        if (s.Training.Recipe is { } recipe)
        {
            try
            {
                recipe.Validate("training.recipe.");
            }
            catch (MnasNet.Training.Proxy.TrainingConfigurationException e)
            {
                throw new SettingsException(e.Message);
            }
            var defaults = new TrainingSettings();
            Require(s.Training.Epochs == defaults.Epochs || s.Training.Epochs == recipe.Epochs,
                $"training.epochs = {s.Training.Epochs} contradicts training.recipe.epochs = {recipe.Epochs}; with a recipe, set the epochs in it");
            Require(s.Training.BatchSize == defaults.BatchSize || s.Training.BatchSize == recipe.BatchSize,
                $"training.batchSize = {s.Training.BatchSize} contradicts training.recipe.batchSize = {recipe.BatchSize}; with a recipe, set the batch size in it");
            Require(s.Training.LearningRate == defaults.LearningRate || Math.Abs(s.Training.LearningRate - recipe.LearningRate) <= 1e-12 * recipe.LearningRate,
                $"training.learningRate = {s.Training.LearningRate} contradicts training.recipe (learningRatePer256 {recipe.LearningRatePer256} × batch {recipe.BatchSize} / 256 = {recipe.LearningRate}); with a recipe, set training.recipe.learningRatePer256");
        }

        if (s.Simulated)
        {
            Require(s.Latency.Backend is "simulated" or "onnxruntime", $"latency.backend '{s.Latency.Backend}': expected simulated or onnxruntime");
        }
        else
        {
            Require(s.Latency.Backend != "simulated", "latency.backend 'simulated' contradicts mode 'real'; set mode to 'simulated' (both backends simulated) or pick a real latency backend");
            Require(RealLatencyBackends.Contains(BackendName(s.Latency.Backend)), $"latency.backend '{s.Latency.Backend}': expected one of {string.Join(", ", RealLatencyBackends)}");
            if (BackendName(s.Latency.Backend) == MnasNet.Latency.Adb.AdbPhoneBackend.Name)
            {
                try
                {
                    MnasNet.Latency.LatencyBackends.PhoneSettings(s.Latency.Backend);
                }
                catch (MnasNet.Latency.UnknownBackendException e)
                {
                    throw new SettingsException($"latency.backend: {e.Message}");
                }
            }
            Require(s.Simulation.TrainSeconds == 0 && s.Simulation.MeasureSeconds == 0, "simulation.trainSeconds/measureSeconds are set but mode is 'real'; virtual durations only apply to mode 'simulated'");
        }
        Require(s.Latency.Resolution is >= 8 and <= 1024, $"latency.resolution must be between 8 and 1024, got {s.Latency.Resolution}");
        Require(s.Latency.Warmup >= 0, $"latency.warmup must be 0 or more, got {s.Latency.Warmup}");
        Require(s.Latency.Runs >= 1, $"latency.runs must be at least 1, got {s.Latency.Runs}");
        foreach (var target in Backends.DevicePlatform.TargetsOf(s).Select(t => t.Platform))
        {
            Require(s.Simulated == (target.Backend == "simulated"),
                $"latency.target '{s.Latency.Target}' names a {(target.Backend == "simulated" ? "simulated" : "real")} device ({target}) but mode is '{s.Mode.Word()}'");
        }
        Require(s.Latency.MeasureTop > 0 && s.Latency.MeasureTop <= 1, $"latency.measureTop must be a fraction in (0, 1], got {s.Latency.MeasureTop}");
        if (s.Latency.Predictor.Length > 0)
        {
            _ = Backends.LatencyPredictor.TablePath(s.Latency.Predictor);
            Require(BackendName(s.Latency.Backend) != MnasNet.Latency.Backends.TableBackend.Prefix,
                $"latency.predictor '{s.Latency.Predictor}' needs a device that measures: latency.backend '{s.Latency.Backend}' is itself a prediction");
            Require(Backends.DevicePlatform.TargetsOf(s).Count == 1,
                $"latency.predictor '{s.Latency.Predictor}' predicts for one target platform; latency.target '{s.Latency.Target}' names several");
        }
        else
        {
            Require(s.Latency.MeasureTop == 1, $"latency.measureTop = {s.Latency.MeasureTop} needs latency.predictor (table:FILE): without one every trial is measured");
        }

        var sim = s.Simulation;
        Require(sim.TrainSeconds >= 0 && sim.MeasureSeconds >= 0, "simulation.trainSeconds and simulation.measureSeconds must be 0 or more");
        Require(sim.AccuracyNoise >= 0 && sim.LatencyNoise >= 0, "simulation noise must be 0 or more");
        Require(sim.FailureRate >= 0 && sim.FailureRate < 1, $"simulation.failureRate must be in [0, 1), got {sim.FailureRate}");
        Require(sim.InfrastructureFaultRate >= 0 && sim.InfrastructureFaultRate < 1, $"simulation.infrastructureFaultRate must be in [0, 1), got {sim.InfrastructureFaultRate}");
        Require(sim.InfrastructureFaultAttempts >= 1, $"simulation.infrastructureFaultAttempts must be at least 1, got {sim.InfrastructureFaultAttempts}");
        Require(Timing.JournalOutage.Parse(sim.JournalOutages).Count == 0 || (s.Simulated && sim.Clock == SimulationClock.Virtual),
            "simulation.journalOutages are windows of virtual time: they need mode 'simulated' on the virtual clock (simulation.clock = virtual)");
        var cost = sim.Cost;
        Require(!cost.Enabled || s.Simulated, "simulation.cost.enabled is true but mode is 'real'; the cost model only applies to mode 'simulated'");
        Require(cost.ImagesPerEpoch >= 1, $"simulation.cost.imagesPerEpoch must be at least 1, got {cost.ImagesPerEpoch}");
        Require(cost.TrainerMacsPerSecond > 0, $"simulation.cost.trainerMacsPerSecond must be positive, got {cost.TrainerMacsPerSecond}");
        Require(cost.TrialOverheadSeconds >= 0 && cost.MeasureSetupSeconds >= 0 && cost.UpdateSeconds >= 0 && cost.TrainerRestartSeconds >= 0,
            "simulation.cost.trialOverheadSeconds, measureSetupSeconds, updateSeconds and trainerRestartSeconds must be 0 or more");
        Require(cost.Noise is >= 0 and < 1, $"simulation.cost.noise must be in [0, 1), got {cost.Noise}");
        Require(cost.TrainerCrashRate is >= 0 and < 1, $"simulation.cost.trainerCrashRate must be in [0, 1), got {cost.TrainerCrashRate}");
        SpeedGroup.Parse(cost.TrainerSpeeds, "simulation.cost.trainerSpeeds");
        SpeedGroup.Parse(cost.DeviceSpeeds, "simulation.cost.deviceSpeeds");

        Require(s.Journal.Directory.Length > 0, "journal.directory must not be empty");
        Require(s.Journal.Provider is "sqlite" or "postgresql", $"journal.provider must be sqlite or postgresql, got '{s.Journal.Provider}'");
        Require(s.Journal.SnapshotEvery >= 1, $"journal.snapshotEvery must be at least 1, got {s.Journal.SnapshotEvery}");
        Require(s.Journal.PolicyStateEvery >= 1, $"journal.policyStateEvery must be at least 1, got {s.Journal.PolicyStateEvery}");

        var c = s.Cluster;
        Require(c.StableAfterSeconds > 0 && c.HeartbeatIntervalSeconds > 0 && c.AcceptableHeartbeatPauseSeconds > 0 && c.WorkRequestIntervalSeconds > 0 && c.StatusPollSeconds > 0,
            "cluster.stableAfterSeconds, heartbeatIntervalSeconds, acceptableHeartbeatPauseSeconds, workRequestIntervalSeconds and statusPollSeconds must be positive");
        // Only the shape here: these settings travel with a search to other nodes, so the files are opened where a node starts.
        Require(!c.Tls.Enabled || c.Tls.CertificateFile.Length > 0, "cluster.tls.enabled is true but cluster.tls.certificateFile is empty: give the PKCS#12 (.pfx) file of the cluster's certificate");

        var w = s.Workers;
        // Virtual workers cost no machine: capacity planning asks about large clusters.
        var maxWorkers = s.Simulated && sim.Clock == SimulationClock.Virtual ? MaxVirtualWorkers : 64;
        Require(w.Trainers >= 1 && w.Trainers <= maxWorkers, $"workers.trainers must be between 1 and {maxWorkers}, got {w.Trainers}");
        Require(w.Devices >= 1 && w.Devices <= maxWorkers, $"workers.devices must be between 1 and {maxWorkers}, got {w.Devices}");
        Require(w.LeaseTimeoutSeconds > 0, $"workers.leaseTimeoutSeconds must be positive, got {w.LeaseTimeoutSeconds}");
        Require(w.PauseGraceSeconds >= 0, $"workers.pauseGraceSeconds must be 0 or more, got {w.PauseGraceSeconds}");
        Require(s.Simulated || BackendName(s.Latency.Backend) != MnasNet.Latency.Adb.AdbPhoneBackend.Name || w.Devices == 1,
            $"workers.devices is {w.Devices} but latency.backend '{s.Latency.Backend}' is one phone; measure on several phones with a cluster device node (mnasnet node --roles device --device adb)");
        Require(w.MaxAttempts is >= 1 and <= 100, $"workers.maxAttempts must be between 1 and 100, got {w.MaxAttempts}");
        Require(w.RetryDelaySeconds is >= 0 and <= 3600, $"workers.retryDelaySeconds must be between 0 and 3600, got {w.RetryDelaySeconds}");
        Require(!s.Simulated || w.LeaseTimeoutSeconds > Math.Max(sim.TrainSeconds, sim.MeasureSeconds),
            $"workers.leaseTimeoutSeconds ({w.LeaseTimeoutSeconds}) must exceed the simulated trial durations ({Math.Max(sim.TrainSeconds, sim.MeasureSeconds)} s), or every lease would expire");
        Require(Levels.Contains(s.Logging.Level), $"logging.level '{s.Logging.Level}': expected one of {string.Join(", ", Levels)}");
        Require(s.Logging.SeqUrl.Length == 0 || Uri.TryCreate(s.Logging.SeqUrl, UriKind.Absolute, out _), $"logging.seqUrl '{s.Logging.SeqUrl}' is not an absolute URL");
        return s;
    }

    /// <summary>
    /// Valid settings worth a warning on a machine with <paramref name="processorCount"/> cores. Real trainers run in
    /// parallel and stay deterministic however many share a process (see MnasNet.Training's README), but more
    /// intra-op threads than cores make every trial slower.
    /// </summary>
    public static IReadOnlyList<string> Warnings(SearchSettings s, int processorCount)
    {
        var threads = (long)s.Workers.Trainers * s.Threads;
        return !s.Simulated && threads > processorCount
            ? [$"workers.trainers × threads = {s.Workers.Trainers} × {s.Threads} = {threads} training threads on {processorCount} cores: results stay the same, but trials run slower than with at most {processorCount} (lower workers.trainers or threads)"]
            : [];
    }

    /// <summary>Reward exponents after the preset is applied.</summary>
    /// <summary>A cores setting parsed (null when empty: any core).</summary>
    public static IReadOnlyList<int>? Cores(string spec, string setting)
    {
        if (string.IsNullOrWhiteSpace(spec))
        {
            return null;
        }
        try
        {
            return MnasNet.Torch.CpuAffinity.Parse(spec, setting);
        }
        catch (ArgumentException e)
        {
            throw new SettingsException(e.Message);
        }
    }

    public static (double Alpha, double Beta) Exponents(RewardSettings r) => r.Preset switch
    {
        RewardExponents.Soft => (-0.07, -0.07),
        RewardExponents.Hard => (0.0, -1.0),
        _ => (r.Alpha!.Value, r.Beta!.Value),
    };

    private static void Require(bool condition, string message)
    {
        if (!condition)
        {
            throw new SettingsException(message);
        }
    }

    [GeneratedRegex("^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")]
    private static partial Regex IdPattern();
}
