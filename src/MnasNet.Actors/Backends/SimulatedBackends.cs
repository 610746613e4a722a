using MnasNet.Actors.Protocol;
using MnasNet.Actors.Settings;
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

    public (double MedianMs, double[] SamplesMs) Latency(IReadOnlyList<int> tokens, ulong trialSeed, int runs)
    {
        var baseMs = _surrogate.Evaluate(tokens).LatencyMs;
        var random = new SeededRandom(SeededRandom.Derive(trialSeed, "latency"));
        var samples = Enumerable.Range(0, runs).Select(_ => baseMs * (1 + (settings.LatencyNoise * random.NextGaussian()))).ToArray();
        var sorted = samples.Order().ToArray();
        var median = sorted.Length % 2 == 1 ? sorted[sorted.Length / 2] : (sorted[(sorted.Length / 2) - 1] + sorted[sorted.Length / 2]) / 2;
        return (median, samples);
    }

    public bool Fails(ulong trialSeed) =>
        settings.FailureRate > 0 && new SeededRandom(SeededRandom.Derive(trialSeed, "failure")).NextDouble() < settings.FailureRate;

    /// <summary>Whether this attempt at the trial's measurement meets a simulated infrastructure fault.</summary>
    public bool InfrastructureFault(ulong trialSeed, int attempt) =>
        settings.InfrastructureFaultRate > 0 && attempt <= settings.InfrastructureFaultAttempts
        && new SeededRandom(SeededRandom.Derive(trialSeed, "infrastructure")).NextDouble() < settings.InfrastructureFaultRate;
}

public sealed class SimulatedTrainer(SimulatedObjective objective, SimulationSettings settings, int epochs) : ITrainerBackend
{
    public string Name => "simulated";

    public async Task<TrainingRecord> TrainAsync(WorkOffer work, CancellationToken cancellationToken)
    {
        if (settings.TrainSeconds > 0)
        {
            await Task.Delay(TimeSpan.FromSeconds(settings.TrainSeconds), cancellationToken);
        }
        cancellationToken.ThrowIfCancellationRequested();
        if (objective.Fails(work.Seed))
        {
            throw new TrialFailureException("simulated training failure: loss diverged (NaN)");
        }
        var (accuracy, macs, parameters) = objective.Accuracy(work.Tokens, work.Seed);
        var curve = Enumerable.Range(1, 4).Select(i => Math.Round(2.3 * Math.Pow(1 - accuracy, i / 4.0), 6)).ToArray();
        return new TrainingRecord(Name, accuracy, curve[^1], curve, epochs, settings.TrainSeconds, 0, parameters, macs, null, work.Seed);
    }

    public void Dispose()
    {
    }
}

public sealed class SimulatedDevice(SimulatedObjective objective, SimulationSettings settings, LatencySettings latency, string deviceId) : IDeviceBackend
{
    public string Name => "simulated";

    public string DeviceId => deviceId;

    public async Task<LatencyRecord> MeasureAsync(WorkOffer work, CancellationToken cancellationToken)
    {
        if (settings.MeasureSeconds > 0)
        {
            await Task.Delay(TimeSpan.FromSeconds(settings.MeasureSeconds), cancellationToken);
        }
        cancellationToken.ThrowIfCancellationRequested();
        if (objective.InfrastructureFault(work.Seed, work.Attempt))
        {
            throw new InfrastructureFaultException($"simulated infrastructure fault: device {deviceId} offline (attempt {work.Attempt})");
        }
        var (median, samples) = objective.Latency(work.Tokens, work.Seed, latency.Runs);
        var mean = samples.Average();
        var std = Math.Sqrt(samples.Sum(s => (s - mean) * (s - mean)) / samples.Length);
        var sorted = samples.Order().ToArray();
        return new LatencyRecord(Name, "simulated", deviceId, "simulated: MnasNet.Controller surrogate latency (MACs at 4 GMAC/s + per-layer overheads)", 1, latency.Resolution,
            latency.Warmup, latency.Runs, "Runs", median, mean, sorted[(int)Math.Ceiling(0.9 * sorted.Length) - 1], sorted[0], sorted[^1],
            std, mean > 0 ? std / mean : 0, 0, samples, settings.MeasureSeconds, work.Seed);
    }

    public ValueTask DisposeAsync() => ValueTask.CompletedTask;
}

/// <summary>Simulated trainers and devices (mode = simulated).</summary>
public sealed class SimulatedBackendFactory(SearchSettings settings, MnasNetSearchSpace space) : IBackendFactory
{
    private readonly SimulatedObjective _objective = new(space, settings.Simulation, settings.Seed);

    public ITrainerBackend CreateTrainer(int index) => new SimulatedTrainer(_objective, settings.Simulation, settings.Training.EffectiveEpochs);

    public IDeviceBackend CreateDevice(int index) => new SimulatedDevice(_objective, settings.Simulation, settings.Latency, $"simulated:{index}");
}
