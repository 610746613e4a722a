using System.Runtime.InteropServices;
using MnasNet.Torch;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace MnasNet.Training.Proxy;

/// <summary>
/// The training run's optimizer: SGD with (Nesterov) momentum or RMSProp with momentum, in the exact arithmetic of
/// PyTorch's single-tensor <c>torch.optim.SGD</c> / <c>RMSprop</c> (ε after the square root), weight decay on the
/// first parameter group only. Written out rather than taken from TorchSharp, whose <c>step()</c> converts doubles
/// to <see cref="Scalar"/>s that the collector may free while libtorch reads them (see <see cref="KeptScalars"/>):
/// every Scalar here is a <c>using</c> local that outlives the calls it is passed to. Its state (momentum buffers,
/// squared-gradient averages, step count) is plain tensors, saved and loaded bit for bit by <see cref="Save"/> and
/// <see cref="Load"/>.
/// </summary>
public sealed class TrainingOptimizer : IDisposable
{
    private const string FileMagic = "mnasnet-optimizer.v1";

    private readonly Parameter[] _parameters;
    private readonly bool[] _decayed;
    private readonly Tensor?[] _momentum;
    private readonly Tensor?[] _squareAverage;

    private TrainingOptimizer(OptimizerSettings settings, IReadOnlyList<Parameter> decayed, IReadOnlyList<Parameter> notDecayed)
    {
        Settings = settings;
        _parameters = [.. decayed, .. notDecayed];
        _decayed = [.. decayed.Select(_ => true), .. notDecayed.Select(_ => false)];
        _momentum = new Tensor?[_parameters.Length];
        _squareAverage = new Tensor?[_parameters.Length];
        if (settings.Kind == OptimizerKind.RmsProp)
        {
            for (var i = 0; i < _parameters.Length; i++)
            {
                _squareAverage[i] = zeros_like(_parameters[i]).DetachFromDisposeScope();
                if (settings.Momentum > 0)
                {
                    _momentum[i] = zeros_like(_parameters[i]).DetachFromDisposeScope();
                }
            }
        }
    }

    public OptimizerSettings Settings { get; }

    /// <summary>Steps taken.</summary>
    public long Steps { get; private set; }

    /// <summary>An optimizer for <paramref name="decayed"/> (with weight decay) and <paramref name="notDecayed"/> (without).</summary>
    public static TrainingOptimizer Create(OptimizerSettings settings, IReadOnlyList<Parameter> decayed, IReadOnlyList<Parameter> notDecayed)
    {
        ArgumentNullException.ThrowIfNull(settings);
        ArgumentNullException.ThrowIfNull(decayed);
        ArgumentNullException.ThrowIfNull(notDecayed);
        return new TrainingOptimizer(settings, decayed, notDecayed);
    }

    /// <summary>Zeroes every gradient in place (the gradient tensors stay allocated for the next backward pass).</summary>
    public void ZeroGrad()
    {
        foreach (var p in _parameters)
        {
            p.grad?.zero_();
        }
    }

    /// <summary>One update of every parameter that has a gradient, at learning rate <paramref name="learningRate"/>.</summary>
    public void Step(double learningRate)
    {
        Steps++;
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        using var negativeLearningRate = (-learningRate).ToScalar();
        using var weightDecay = Settings.WeightDecay.ToScalar();
        using var momentum = Settings.Momentum.ToScalar();
        if (Settings.Kind == OptimizerKind.Sgd)
        {
            StepSgd(negativeLearningRate, weightDecay, momentum);
        }
        else
        {
            StepRmsProp(negativeLearningRate, weightDecay, momentum);
        }
    }

    private void StepSgd(Scalar negativeLearningRate, Scalar weightDecay, Scalar momentum)
    {
        var nesterov = Settings.Nesterov && Settings.Momentum > 0;
        for (var i = 0; i < _parameters.Length; i++)
        {
            var parameter = _parameters[i];
            var grad = parameter.grad;
            if (grad is null)
            {
                continue;
            }
            if (_decayed[i] && Settings.WeightDecay != 0)
            {
                grad = grad.add(parameter, weightDecay);
            }
            if (Settings.Momentum != 0)
            {
                if (_momentum[i] is not { } buffer)
                {
                    _momentum[i] = buffer = grad.clone().DetachFromDisposeScope();
                }
                else
                {
                    // Dampening 0: the new gradient enters with weight 1.
                    buffer.mul_(momentum).add_(grad, KeptScalars.One);
                }
                grad = nesterov ? grad.add(buffer, momentum) : buffer;
            }
            parameter.add_(grad, negativeLearningRate);
        }
    }

    private void StepRmsProp(Scalar negativeLearningRate, Scalar weightDecay, Scalar momentum)
    {
        using var decay = Settings.RmsDecay.ToScalar();
        using var oneMinusDecay = (1 - Settings.RmsDecay).ToScalar();
        using var epsilon = Settings.RmsEpsilon.ToScalar();
        for (var i = 0; i < _parameters.Length; i++)
        {
            var parameter = _parameters[i];
            var grad = parameter.grad;
            if (grad is null)
            {
                continue;
            }
            if (_decayed[i] && Settings.WeightDecay != 0)
            {
                grad = grad.add(parameter, weightDecay);
            }
            var squareAverage = _squareAverage[i]!;
            squareAverage.mul_(decay).addcmul_(grad, grad, oneMinusDecay);
            var average = squareAverage.sqrt().add_(epsilon, KeptScalars.One);
            if (_momentum[i] is { } buffer)
            {
                buffer.mul_(momentum).addcdiv_(grad, average, KeptScalars.One);
                parameter.add_(buffer, negativeLearningRate);
            }
            else
            {
                parameter.addcdiv_(grad, average, negativeLearningRate);
            }
        }
    }

    /// <summary>Writes the step count and every state tensor's values to <paramref name="path"/>.</summary>
    public void Save(string path)
    {
        using var stream = File.Create(path);
        using var writer = new BinaryWriter(stream);
        writer.Write(FileMagic);
        writer.Write(Settings.Kind.ToString());
        writer.Write(Steps);
        writer.Write(_parameters.Length);
        foreach (var state in _momentum.Concat(_squareAverage))
        {
            writer.Write(state is not null);
            if (state is null)
            {
                continue;
            }
            using var scope = NewDisposeScope();
            var values = state.contiguous().data<float>().ToArray();
            writer.Write(values.Length);
            writer.Write(MemoryMarshal.AsBytes(values.AsSpan()));
        }
    }

    /// <summary>Replaces the state by the one <see cref="Save"/> wrote to <paramref name="path"/>.</summary>
    /// <exception cref="TrainingConfigurationException">The file is not an optimizer state of this optimizer and network.</exception>
    public void Load(string path)
    {
        using var stream = File.OpenRead(path);
        using var reader = new BinaryReader(stream);
        string Problem(string what) => $"optimizer state '{path}' {what}";
        try
        {
            if (reader.ReadString() != FileMagic)
            {
                throw new TrainingConfigurationException(Problem($"is not a {FileMagic} file (written by another version?)"));
            }
            var kind = reader.ReadString();
            if (kind != Settings.Kind.ToString())
            {
                throw new TrainingConfigurationException(Problem($"is for {kind}, this run uses {Settings.Kind}"));
            }
            var steps = reader.ReadInt64();
            var count = reader.ReadInt32();
            if (count != _parameters.Length)
            {
                throw new TrainingConfigurationException(Problem($"has {count} parameters, this network has {_parameters.Length}"));
            }
            var loaded = new Tensor?[2 * count];
            for (var i = 0; i < loaded.Length; i++)
            {
                if (!reader.ReadBoolean())
                {
                    continue;
                }
                var parameter = _parameters[i % count];
                var length = reader.ReadInt32();
                if (length != parameter.numel())
                {
                    throw new TrainingConfigurationException(Problem($"has {length} values for parameter {i % count}, which has {parameter.numel()}"));
                }
                var values = new float[length];
                reader.BaseStream.ReadExactly(MemoryMarshal.AsBytes(values.AsSpan()));
                loaded[i] = tensor(values, parameter.shape).DetachFromDisposeScope();
            }
            if (stream.Position != stream.Length)
            {
                throw new TrainingConfigurationException(Problem("has trailing bytes"));
            }
            DisposeState();
            loaded.AsSpan(0, count).CopyTo(_momentum);
            loaded.AsSpan(count).CopyTo(_squareAverage);
            Steps = steps;
        }
        catch (EndOfStreamException e)
        {
            throw new TrainingConfigurationException(Problem("is truncated"), e);
        }
    }

    private void DisposeState()
    {
        foreach (var state in _momentum.Concat(_squareAverage))
        {
            state?.Dispose();
        }
    }

    public void Dispose() => DisposeState();
}

/// <summary>What <see cref="TrainingOptimizer"/> does: its kind and the hyper-parameters other than the learning rate.</summary>
public sealed record OptimizerSettings(OptimizerKind Kind, double Momentum, bool Nesterov, double WeightDecay, double RmsDecay, double RmsEpsilon)
{
    public static OptimizerSettings From(ProxyTrainingOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        return new(options.Optimizer, options.Momentum, options.Nesterov, options.WeightDecay, options.RmsDecay, options.RmsEpsilon);
    }
}
