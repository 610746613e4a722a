using MnasNet.Actors.Protocol;

namespace MnasNet.Actors.Backends;

/// <summary>A trial that could not produce a result (diverged, out of memory, too large); the reason is journaled.</summary>
public sealed class TrialFailureException(string reason) : Exception(reason);

/// <summary>
/// The device could not measure for now (phone offline or unauthorized, adb server gone, shell killed): the device
/// worker retries with back-off instead of failing the trial.
/// </summary>
/// <summary>A failure of the machines, not of the architecture (device gone after its retries, I/O): the trial is tried again elsewhere.</summary>
public sealed class InfrastructureFaultException(string reason, Exception? inner = null) : Exception(reason, inner);

public sealed class TransientDeviceException(string reason, Exception? inner = null) : Exception(reason, inner);

/// <summary>The worker lost its work without a word to the controller (a crashed node that came back): it reports nothing and asks again.</summary>
public sealed class WorkLostException(string reason) : Exception(reason);

/// <summary>Trains one trial's architecture (real: TorchSharp proxy training; simulated: surrogate accuracy).</summary>
public interface ITrainerBackend : IDisposable
{
    string Name { get; }

    Task<TrainingRecord> TrainAsync(WorkOffer work, CancellationToken cancellationToken);

    /// <summary>
    /// Fully trains a finalist (<see cref="WorkKind.Final"/>, <see cref="WorkOffer.Final"/>): each epoch checkpointed
    /// and reported to <paramref name="onEpoch"/>, resumed from the job's last journaled epoch. The record's curve and
    /// best epoch are completed by the controller from the journaled epochs. <paramref name="journaledEpoch"/> gives the
    /// newest epoch the controller confirmed journaled: only checkpoints that one supersedes are deleted.
    /// </summary>
    Task<FinalTrainingRecord> TrainFinalAsync(WorkOffer work, Action<FinalEpoch> onEpoch, Func<int> journaledEpoch, CancellationToken cancellationToken) =>
        throw new TrialFailureException($"the {Name} trainer cannot do final training");
}

/// <summary>Measures one trial's latency on one device (real: ONNX Runtime; simulated: analytic + noise).</summary>
public interface IDeviceBackend : IAsyncDisposable
{
    string Name { get; }

    string DeviceId { get; }

    /// <summary>The platform this device advertises when it knows it better than the settings do (a phone); null: from the settings.</summary>
    DevicePlatform? Platform => null;

    Task<LatencyRecord> MeasureAsync(WorkOffer work, CancellationToken cancellationToken);
}

/// <summary>Creates the backends of a search from its settings; tests swap it for their own.</summary>
public interface IBackendFactory
{
    ITrainerBackend CreateTrainer(int index);

    IDeviceBackend CreateDevice(int index);
}
