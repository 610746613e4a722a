using MnasNet.SearchSpace;
using MnasNet.Torch;
using MnasNet.Training.Data;
using MnasNet.Training.Models;
using MnasNet.Training.Proxy;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace MnasNet.Training.Tests;

/// <summary>
/// Our SGD and RMSProp: the arithmetic of torch's, state saved and loaded bit for bit, and training that is not
/// disturbed by garbage collections on other threads (TorchSharp's own optimizers were: their Scalars could be freed
/// mid-call).
/// </summary>
public sealed class TrainingOptimizerTests
{
    public TrainingOptimizerTests() => TorchRuntime.EnsureLoaded(threads: 1);

    private static readonly Architecture MnasNetB1 = ArchitectureResolver.Resolve("mnasnet-b1");

    private static OptimizerSettings Settings(OptimizerKind kind) => new(kind, Momentum: 0.9, Nesterov: true, WeightDecay: 1e-3, RmsDecay: 0.9, RmsEpsilon: 0.0316);

    /// <summary>A small net with a fixed init and fixed batches: the same model and gradients for each optimizer compared.</summary>
    private sealed class Fixture : IDisposable
    {
        private readonly Generator _generator = new(7);

        public Fixture()
        {
            Model = MnasNetModel.Build(TrainerTests.Tiny, new NetworkOptions(16, 3, 10, 1.0, 0), _generator);
            Decayed = Model.parameters().Where(p => p.dim() > 1).ToArray();
            NotDecayed = Model.parameters().Where(p => p.dim() <= 1).ToArray();
        }

        public MnasNetModel Model { get; }
        public Parameter[] Decayed { get; }
        public Parameter[] NotDecayed { get; }

        public void Backward(int step)
        {
            using var scope = NewDisposeScope();
            using var batchGenerator = new Generator(100 + (ulong)step);
            var x = randn([8, 3, 16, 16], generator: batchGenerator);
            var y = randint(10, [8], generator: batchGenerator);
            nn.functional.cross_entropy(Model.call(x), y).backward();
        }

        public float[][] Weights() => Model.parameters().Select(p => p.data<float>().ToArray()).ToArray();

        public void Dispose()
        {
            Model.Dispose();
            _generator.Dispose();
        }
    }

    private static float[][] TrainWithOurs(OptimizerKind kind, int steps)
    {
        using var f = new Fixture();
        using var optimizer = TrainingOptimizer.Create(Settings(kind), f.Decayed, f.NotDecayed);
        for (var s = 0; s < steps; s++)
        {
            optimizer.ZeroGrad();
            f.Backward(s);
            optimizer.Step(0.05 * (s + 1));
        }
        return f.Weights();
    }

    [Theory]
    [InlineData(OptimizerKind.Sgd)]
    [InlineData(OptimizerKind.RmsProp)]
    public void Steps_equal_torchs_optimizer_bit_for_bit(OptimizerKind kind)
    {
        const int steps = 4;
        var ours = TrainWithOurs(kind, steps);

        using var f = new Fixture();
        var s = Settings(kind);
        using OptimizerHelper reference = kind == OptimizerKind.Sgd
            ? optim.SGD(
                [
                    new SGD.ParamGroup(f.Decayed, new SGD.Options { momentum = s.Momentum, nesterov = true, weight_decay = s.WeightDecay }),
                    new SGD.ParamGroup(f.NotDecayed, new SGD.Options { momentum = s.Momentum, nesterov = true, weight_decay = 0 }),
                ], 0.05, s.Momentum, nesterov: true)
            : optim.RMSProp(
                [
                    new RMSProp.ParamGroup(f.Decayed, new RMSProp.Options { alpha = s.RmsDecay, eps = s.RmsEpsilon, momentum = s.Momentum, weight_decay = s.WeightDecay }),
                    new RMSProp.ParamGroup(f.NotDecayed, new RMSProp.Options { alpha = s.RmsDecay, eps = s.RmsEpsilon, momentum = s.Momentum, weight_decay = 0 }),
                ], 0.05, s.RmsDecay, s.RmsEpsilon, momentum: s.Momentum);
        var before = f.Weights();
        for (var step = 0; step < steps; step++)
        {
            reference.zero_grad();
            f.Backward(step);
            foreach (var group in reference.ParamGroups)
            {
                group.LearningRate = 0.05 * (step + 1);
            }
            reference.step();
        }
        var theirs = f.Weights();

        Assert.NotEqual(before, theirs);
        Assert.Equal(theirs, ours);
    }

    [Theory]
    [InlineData(OptimizerKind.Sgd)]
    [InlineData(OptimizerKind.RmsProp)]
    public void Saved_state_loaded_into_a_new_optimizer_continues_bit_for_bit(OptimizerKind kind)
    {
        var uninterrupted = TrainWithOurs(kind, 4);
        using var dir = new TempDir();
        var path = dir.File("state.optim");

        using var f = new Fixture();
        using (var first = TrainingOptimizer.Create(Settings(kind), f.Decayed, f.NotDecayed))
        {
            for (var s = 0; s < 2; s++)
            {
                first.ZeroGrad();
                f.Backward(s);
                first.Step(0.05 * (s + 1));
            }
            first.Save(path);
        }
        using var second = TrainingOptimizer.Create(Settings(kind), f.Decayed, f.NotDecayed);
        second.Load(path);
        Assert.Equal(2, second.Steps);
        for (var s = 2; s < 4; s++)
        {
            second.ZeroGrad();
            f.Backward(s);
            second.Step(0.05 * (s + 1));
        }
        Assert.Equal(uninterrupted, f.Weights());
    }

    [Fact]
    public void A_state_file_of_another_optimizer_or_network_or_a_damaged_one_is_refused_by_name()
    {
        using var dir = new TempDir();
        var path = dir.File("state.optim");
        using var f = new Fixture();
        using (var sgd = TrainingOptimizer.Create(Settings(OptimizerKind.Sgd), f.Decayed, f.NotDecayed))
        {
            sgd.Save(path);
        }
        using var rms = TrainingOptimizer.Create(Settings(OptimizerKind.RmsProp), f.Decayed, f.NotDecayed);
        Assert.Contains("is for Sgd, this run uses RmsProp", Assert.Throws<TrainingConfigurationException>(() => rms.Load(path)).Message);

        using var fewer = TrainingOptimizer.Create(Settings(OptimizerKind.Sgd), f.Decayed, []);
        Assert.Contains($"this network has {f.Decayed.Length}", Assert.Throws<TrainingConfigurationException>(() => fewer.Load(path)).Message);

        rms.Save(path);
        var bytes = File.ReadAllBytes(path);
        File.WriteAllBytes(path, bytes[..^3]);
        Assert.Contains("is truncated", Assert.Throws<TrainingConfigurationException>(() => rms.Load(path)).Message);
        File.WriteAllBytes(path, [.. bytes, 0]);
        Assert.Contains("trailing bytes", Assert.Throws<TrainingConfigurationException>(() => rms.Load(path)).Message);
        File.WriteAllBytes(path, [1, 2, 3, 4, 5, 6]);
        Assert.Contains("is not a mnasnet-optimizer.v1 file", Assert.Throws<TrainingConfigurationException>(() => rms.Load(path)).Message);
    }

    // MnasNet-B1 at width 0.5 and 32² failed under this load before (a Scalar of the optimizer freed mid-call gave
    // "libtorch error" and an architecture scored as a failure).
    [Theory]
    [InlineData(OptimizerKind.Sgd)]
    [InlineData(OptimizerKind.RmsProp)]
    public void Trainers_on_parallel_threads_under_forced_collections_give_what_each_gives_alone(OptimizerKind kind)
    {
        var data = SyntheticDataset.Create(256, 3, 32, 10, seed: 4);
        ProxyTrainingOptions Options(ulong seed) => new()
        {
            Epochs = 1,
            BatchSize = 32,
            TrainSize = 192,
            ValidationSize = 64,
            Threads = 1,
            Seed = seed,
            Optimizer = kind,
            LearningRate = 0.01,
            Width = 0.5,
            Resolution = 32,
        };
        ProxyTrainingOptions[] runs = [Options(5), Options(6)];
        var quiet = runs.Select(o => ProxyTrainer.Train(MnasNetB1, data, o, cancellation: TestContext.Current.CancellationToken)).ToArray();
        Assert.All(quiet, r => Assert.True(r.Succeeded, r.FailureReason));

        using var stop = new CancellationTokenSource();
        var collections = 0;
        var collector = new Thread(() =>
        {
            while (!stop.IsCancellationRequested)
            {
                GC.Collect();
                GC.WaitForPendingFinalizers();
                collections++;
            }
        });
        var collected = new TrainingResult[runs.Length];
        var trainers = runs.Select((o, i) => new Thread(() =>
            collected[i] = ProxyTrainer.Train(MnasNetB1, data, o, cancellation: TestContext.Current.CancellationToken))).ToArray();
        collector.Start();
        try
        {
            foreach (var t in trainers)
            {
                t.Start();
            }
            foreach (var t in trainers)
            {
                t.Join();
            }
        }
        finally
        {
            stop.Cancel();
            collector.Join();
        }

        Assert.True(collections > 10, $"only {collections} collections ran during training");
        for (var i = 0; i < runs.Length; i++)
        {
            Assert.True(collected[i].Succeeded, collected[i].FailureReason);
            Assert.Equal(quiet[i].StepLosses, collected[i].StepLosses);
            Assert.Equal(quiet[i].ValAccuracy, collected[i].ValAccuracy);
        }
    }
}
