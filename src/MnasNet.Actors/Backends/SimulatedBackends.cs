using MnasNet.Actors.Protocol;
using MnasNet.Actors.Settings;
using MnasNet.SearchSpace;

namespace MnasNet.Actors.Backends;

/// <summary>
/// A deterministic stand-in for "train and measure": accuracy = 0.45 + 0.45·σ(S) with S a capacity term
/// (log MACs) plus seeded per-choice effects, latency = MACs / 4 GMAC/s + per-layer overhead, each with noise drawn
/// from the trial's own seed (search seed + trial id), so results never depend on completion order or worker.
/// </summary>
public sealed class SimulatedObjective
{
    private readonly MnasNetSearchSpace _space;
    private readonly SimulationSettings _settings;
    private readonly double[][] _effects;

    public SimulatedObjective(MnasNetSearchSpace space, SimulationSettings settings, ulong searchSeed)
    {
        _space = space;
        _settings = settings;
        var random = new SeededRandom(SeededRandom.Derive(searchSeed, "surrogate"));
        _effects = space.Decisions.Select(d => d.Choices.Select(_ => 0.08 * random.NextGaussian()).ToArray()).ToArray();
    }

    public (double Accuracy, long Macs, long Params) Accuracy(IReadOnlyList<int> tokens, ulong trialSeed)
    {
        var cost = CostModel.Compute(_space.Decode(tokens), NetworkOptions.ImageNet);
        var s = 0.6 * (Math.Log10(cost.Macs) - 8.3);
        for (var d = 0; d < tokens.Count; d++)
        {
            s += _effects[d][tokens[d]];
        }
        var noise = new SeededRandom(SeededRandom.Derive(trialSeed, "accuracy")).NextGaussian() * _settings.AccuracyNoise;
        return (Math.Clamp(0.45 + (0.45 / (1 + Math.Exp(-s))) + noise, 0, 1), cost.Macs, cost.Params);
    }

    public (double MedianMs, double[] SamplesMs) Latency(IReadOnlyList<int> tokens, ulong trialSeed, int runs)
    {
        var arch = _space.Decode(tokens);
        var cost = CostModel.Compute(arch, NetworkOptions.ImageNet);
        var baseMs = (cost.Macs / 4.0e6) + (0.12 * arch.TotalLayers);
        var random = new SeededRandom(SeededRandom.Derive(trialSeed, "latency"));
        var samples = Enumerable.Range(0, runs).Select(_ => baseMs * (1 + (_settings.LatencyNoise * random.NextGaussian()))).ToArray();
        var sorted = samples.Order().ToArray();
        var median = sorted.Length % 2 == 1 ? sorted[sorted.Length / 2] : (sorted[(sorted.Length / 2) - 1] + sorted[sorted.Length / 2]) / 2;
        return (median, samples);
    }

    public bool Fails(ulong trialSeed) =>
        _settings.FailureRate > 0 && new SeededRandom(SeededRandom.Derive(trialSeed, "failure")).NextDouble() < _settings.FailureRate;
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
        var (median, samples) = objective.Latency(work.Tokens, work.Seed, latency.Runs);
        var mean = samples.Average();
        var std = Math.Sqrt(samples.Sum(s => (s - mean) * (s - mean)) / samples.Length);
        var sorted = samples.Order().ToArray();
        return new LatencyRecord(Name, "simulated", deviceId, "simulated: MACs / 4 GMAC/s + 0.12 ms per layer", 1, latency.Resolution,
            latency.Warmup, latency.Runs, "Runs", median, mean, sorted[(int)Math.Ceiling(0.9 * sorted.Length) - 1], sorted[0], sorted[^1],
            std, mean > 0 ? std / mean : 0, 0, samples, settings.MeasureSeconds, work.Seed);
    }

    public ValueTask DisposeAsync() => ValueTask.CompletedTask;
}

/// <summary>Simulated trainers and devices (mode = simulated).</summary>
public sealed class SimulatedBackendFactory(SearchSettings settings, MnasNetSearchSpace space) : IBackendFactory
{
    private readonly SimulatedObjective _objective = new(space, settings.Simulation, settings.Seed);

    public ITrainerBackend CreateTrainer(int index) => new SimulatedTrainer(_objective, settings.Simulation, settings.Training.Epochs);

    public IDeviceBackend CreateDevice(int index) => new SimulatedDevice(_objective, settings.Simulation, settings.Latency, $"simulated:{index}");
}
