namespace MnasNet.Controller.Tests;

/// <summary>
/// Two LSTM controllers sampling and updating on their own threads while a third thread forces garbage collections
/// and finalizers: a scalar whose managed wrapper is collected while libtorch still reads it would crash or corrupt
/// the run. Each controller must give exactly what it gives alone.
/// </summary>
public sealed class ParallelControllerTests
{
    private static string Run(ulong seed, int updates)
    {
        var objective = new SurrogateObjective();
        var target = LatencyTarget.For(RewardPreset.Soft, 75);
        using var controller = new PpoController(ControllerOptions.Default with { Seed = seed });
        for (var i = 0; i < updates; i++)
        {
            var batch = controller.Sample(8).Select(p => ScoredSample.From(p, objective.Reward(p.Tokens, target).Reward)).ToArray();
            controller.Update(batch);
        }
        return controller.ParameterHash;
    }

    [Fact]
    public void Two_controllers_on_parallel_threads_under_collections_give_what_each_gives_alone()
    {
        const int updates = 20;
        var alone = new[] { Run(1, updates), Run(2, updates) };

        using var stop = new CancellationTokenSource();
        var collector = new Thread(() =>
        {
            while (!stop.IsCancellationRequested)
            {
                GC.Collect();
                GC.WaitForPendingFinalizers();
            }
        });
        collector.Start();
        var results = new string[2];
        try
        {
            Parallel.For(0, 2, new ParallelOptions { MaxDegreeOfParallelism = 2 }, i => results[i] = Run((ulong)i + 1, updates));
        }
        finally
        {
            stop.Cancel();
            collector.Join();
        }

        Assert.Equal(alone, results);
    }
}
