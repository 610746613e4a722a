using MnasNet.Actors.Protocol;
using MnasNet.Actors.Settings;
using MnasNet.Actors.Timing;
using MnasNet.SearchSpace;
using SurrogateObjective = MnasNet.Controller.SurrogateObjective;
using SurrogateOptions = MnasNet.Controller.SurrogateOptions;

namespace MnasNet.Actors.Backends;

/// <summary>
/// A deterministic stand-in for "train and measure": MnasNet.Controller's <see cref="SurrogateObjective"/> (seeded
/// from the search seed) gives accuracy and analytic latency; each trial adds noise drawn from its own seed (search
/// seed + trial id), so results never depend on completion order or worker.
/// </summary>
public sealed class SimulatedObjective(MnasNetSearchSpace space, SimulationSettings settings, ulong searchSeed)
{
    private readonly SurrogateObjective _surrogate = new(new SurrogateOptions(Seed: SeededRandom.Derive(searchSeed, "surrogate")), space);

    public (double Accuracy, long Macs, long Params) Accuracy(IReadOnlyList<int> tokens, ulong trialSeed)
    {
        var cost = CostModel.Compute(space.Decode(tokens), NetworkOptions.ImageNet);
        var noise = new SeededRandom(SeededRandom.Derive(trialSeed, "accuracy")).NextGaussian() * settings.AccuracyNoise;
        return (Math.Clamp(_surrogate.Evaluate(tokens).Accuracy + noise, 0, 1), cost.Macs, cost.Params);
    }

    /// <summary>
    /// <paramref name="runs"/> noisy samples of the surrogate latency, in ms to the microsecond (the resolution TFLite's
    /// benchmark_model reports), with their median and a sorted copy.
    /// </summary>
    public (double MedianMs, double[] SamplesMs, double[] SortedMs) Latency(IReadOnlyList<int> tokens, ulong trialSeed, int runs)
    {
        var baseMs = _surrogate.Evaluate(tokens).LatencyMs;
        var random = new SeededRandom(SeededRandom.Derive(trialSeed, "latency"));
        var samples = new double[runs];
        for (var i = 0; i < runs; i++)
        {
            samples[i] = Math.Round(baseMs * (1 + (settings.LatencyNoise * random.NextGaussian())), 3);
        }
        var sorted = (double[])samples.Clone();
        Array.Sort(sorted);
        var median = sorted.Length % 2 == 1 ? sorted[sorted.Length / 2] : (sorted[(sorted.Length / 2) - 1] + sorted[sorted.Length / 2]) / 2;
        return (median, samples, sorted);
    }

    public bool Fails(ulong trialSeed) =>
        settings.FailureRate > 0 && new SeededRandom(SeededRandom.Derive(trialSeed, "failure")).NextDouble() < settings.FailureRate;

    /// <summary>Whether this attempt at the trial's measurement meets a simulated infrastructure fault.</summary>
    public bool InfrastructureFault(ulong trialSeed, int attempt) =>
        settings.InfrastructureFaultRate > 0 && attempt <= settings.InfrastructureFaultAttempts
        && new SeededRandom(SeededRandom.Derive(trialSeed, "infrastructure")).NextDouble() < settings.InfrastructureFaultRate;
}

/// <summary>
/// How long simulated work takes (see <see cref="CostModelSettings"/>): fixed seconds when set, else the cost model's
/// when enabled, else none. Durations depend only on the trial (its seed and architecture), the attempt and the
/// worker's speed, never on when it runs.
/// </summary>
public sealed class SimulatedDurations(SimulationSettings settings, int epochs, LatencySettings latency)
{
    private CostModelSettings Cost => settings.Cost;

    public double TrainSeconds(long macs, ulong trialSeed, double speed) => settings.TrainSeconds > 0 ? settings.TrainSeconds
        : Cost.Enabled ? Noisy(((double)macs * Cost.ImagesPerEpoch * epochs / (Cost.TrainerMacsPerSecond * speed)) + Cost.TrialOverheadSeconds, trialSeed, "train-seconds")
        : 0;

    public double MeasureSeconds(double latencyMs, ulong trialSeed, double speed) => settings.MeasureSeconds > 0 ? settings.MeasureSeconds
        : Cost.Enabled ? Noisy(Cost.MeasureSetupSeconds + ((latency.Warmup + latency.Runs) * latencyMs / 1000 / speed), trialSeed, "measure-seconds")
        : 0;

    /// <summary>Whether this training attempt's trainer crashes (no result: its lease expires and the work goes elsewhere).</summary>
    public bool TrainerCrashes(ulong trialSeed, int attempt) => Cost.Enabled && Cost.TrainerCrashRate > 0
        && new SeededRandom(SeededRandom.Derive(trialSeed, $"trainer-crash/{attempt}")).NextDouble() < Cost.TrainerCrashRate;

    private double Noisy(double seconds, ulong trialSeed, string what) => Cost.Noise > 0
        ? seconds * Math.Max(0.1, 1 + (Cost.Noise * new SeededRandom(SeededRandom.Derive(trialSeed, what)).NextGaussian()))
        : seconds;

    /// <summary>The speed of worker <paramref name="index"/> of <paramref name="count"/>: groups take consecutive indices in proportion to their shares.</summary>
    public static double SpeedOf(IReadOnlyList<SpeedGroup> groups, int index, int count)
    {
        if (groups.Count == 0)
        {
            return 1;
        }
        var position = (index + 0.5) / Math.Max(1, count) * groups.Sum(g => g.Share);
        foreach (var g in groups)
        {
            if (position < g.Share)
            {
                return g.Speed;
            }
            position -= g.Share;
        }
        return groups[^1].Speed;
    }
}

public sealed class SimulatedTrainer(SimulatedObjective objective, SimulationSettings settings, int epochs, SimulatedDurations durations, SearchClock clock, double speed = 1) : ITrainerBackend
{
    public string Name => "simulated";

    public async Task<TrainingRecord> TrainAsync(WorkOffer work, CancellationToken cancellationToken)
    {
        var (accuracy, macs, parameters) = objective.Accuracy(work.Tokens, work.Seed);
        var seconds = durations.TrainSeconds(macs, work.Seed, speed);
        if (durations.TrainerCrashes(work.Seed, work.Attempt))
        {
            // Halfway through, the trainer's node dies and comes back empty-handed: only the lease brings the work back.
            await clock.Delay(TimeSpan.FromSeconds((seconds / 2) + settings.Cost.TrainerRestartSeconds), cancellationToken);
            throw new WorkLostException($"simulated trainer crash during trial {work.TrialId} attempt {work.Attempt}");
        }
        await clock.Delay(TimeSpan.FromSeconds(seconds), cancellationToken);
        cancellationToken.ThrowIfCancellationRequested();
        if (objective.Fails(work.Seed))
        {
            throw new TrialFailureException("simulated training failure: loss diverged (NaN)");
        }
        var curve = Enumerable.Range(1, 4).Select(i => Math.Round(2.3 * Math.Pow(1 - accuracy, i / 4.0), 6)).ToArray();
        return new TrainingRecord(Name, accuracy, curve[^1], curve, epochs, seconds, 0, parameters, macs, null, work.Seed);
    }

    public void Dispose()
    {
    }
}

public sealed class SimulatedDevice(SimulatedObjective objective, LatencySettings latency, string deviceId, SimulatedDurations durations, SearchClock clock, double speed = 1) : IDeviceBackend
{
    public string Name => "simulated";

    public string DeviceId => deviceId;

    public async Task<LatencyRecord> MeasureAsync(WorkOffer work, CancellationToken cancellationToken)
    {
        var (median, samples, sorted) = objective.Latency(work.Tokens, work.Seed, latency.Runs);
        var seconds = durations.MeasureSeconds(median, work.Seed, speed);
        await clock.Delay(TimeSpan.FromSeconds(seconds), cancellationToken);
        cancellationToken.ThrowIfCancellationRequested();
        if (objective.InfrastructureFault(work.Seed, work.Attempt))
        {
            throw new InfrastructureFaultException($"simulated infrastructure fault: device {deviceId} offline (attempt {work.Attempt})");
        }
        var mean = samples.Average();
        var std = Math.Sqrt(samples.Sum(s => (s - mean) * (s - mean)) / samples.Length);
        return new LatencyRecord(Name, "simulated", deviceId, "simulated: MnasNet.Controller surrogate latency (MACs at 4 GMAC/s + per-layer overheads)", 1, latency.Resolution,
            latency.Warmup, latency.Runs, "Runs", median, mean, sorted[(int)Math.Ceiling(0.9 * sorted.Length) - 1], sorted[0], sorted[^1],
            std, mean > 0 ? std / mean : 0, 0, samples, seconds, work.Seed);
    }

    public ValueTask DisposeAsync() => ValueTask.CompletedTask;
}

/// <summary>Simulated trainers and devices (mode = simulated), waiting on <paramref name="clock"/> (default: the real one).</summary>
public sealed class SimulatedBackendFactory(SearchSettings settings, MnasNetSearchSpace space, SearchClock? clock = null) : IBackendFactory
{
    private readonly SimulatedObjective _objective = new(space, settings.Simulation, settings.Seed);
    private readonly SimulatedDurations _durations = new(settings.Simulation, settings.Training.EffectiveEpochs, settings.Latency);
    private readonly SearchClock _clock = clock ?? SearchClock.Real;

    public ITrainerBackend CreateTrainer(int index) => new SimulatedTrainer(_objective, settings.Simulation, settings.Training.EffectiveEpochs, _durations, _clock,
        SimulatedDurations.SpeedOf(SpeedGroup.Parse(settings.Simulation.Cost.TrainerSpeeds, "simulation.cost.trainerSpeeds"), index, settings.Workers.Trainers));

    public IDeviceBackend CreateDevice(int index) => new SimulatedDevice(_objective, settings.Latency, $"simulated:{index}", _durations, _clock,
        SimulatedDurations.SpeedOf(SpeedGroup.Parse(settings.Simulation.Cost.DeviceSpeeds, "simulation.cost.deviceSpeeds"), index, settings.Workers.Devices));
}
