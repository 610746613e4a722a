using MnasNet.Actors.Settings;

namespace MnasNet.Actors.Tests;

/// <summary>Parallel real trainers are allowed in any number; more training threads than cores only earn a warning.</summary>
public sealed class TrainerThreadWarningTests
{
    private static SearchSettings Real(int trainers, int threads) => SettingsValidation.Validate(new SearchSettings
    {
        Mode = SearchMode.Real,
        Threads = threads,
        Latency = new LatencySettings { Backend = "onnxruntime" },
        Workers = new WorkerSettings { Trainers = trainers, Devices = 1 },
    });

    [Fact]
    public void The_paper_config_on_two_cores_is_valid_and_warns_about_oversubscription()
    {
        var warning = Assert.Single(SettingsValidation.Warnings(Real(trainers: 8, threads: 4), processorCount: 2));
        Assert.Contains("workers.trainers × threads = 8 × 4 = 32 training threads on 2 cores", warning);
    }

    [Fact]
    public void Trainers_that_fit_the_cores_and_simulated_trainers_give_no_warning()
    {
        Assert.Empty(SettingsValidation.Warnings(Real(trainers: 2, threads: 1), processorCount: 2));
        Assert.Empty(SettingsValidation.Warnings(Real(trainers: 8, threads: 4), processorCount: 32));
        var simulated = SettingsValidation.Validate(new SearchSettings { Mode = SearchMode.Simulated, Threads = 4, Latency = new LatencySettings { Backend = "simulated" }, Workers = new WorkerSettings { Trainers = 8 } });
        Assert.Empty(SettingsValidation.Warnings(simulated, processorCount: 2));
    }
}
