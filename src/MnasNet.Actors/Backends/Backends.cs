using MnasNet.Actors.Protocol;

namespace MnasNet.Actors.Backends;

/// <summary>A trial that could not produce a result (diverged, out of memory, too large); the reason is journaled.</summary>
public sealed class TrialFailureException(string reason) : Exception(reason);

/// <summary>Trains one trial's architecture (real: TorchSharp proxy training; simulated: surrogate accuracy).</summary>
public interface ITrainerBackend : IDisposable
{
    string Name { get; }

    Task<TrainingRecord> TrainAsync(WorkOffer work, CancellationToken cancellationToken);
}

/// <summary>Measures one trial's latency on one device (real: ONNX Runtime; simulated: analytic + noise).</summary>
public interface IDeviceBackend : IAsyncDisposable
{
    string Name { get; }

    string DeviceId { get; }

    Task<LatencyRecord> MeasureAsync(WorkOffer work, CancellationToken cancellationToken);
}

/// <summary>Creates the backends of a search from its settings; tests swap it for their own.</summary>
public interface IBackendFactory
{
    ITrainerBackend CreateTrainer(int index);

    IDeviceBackend CreateDevice(int index);
}
