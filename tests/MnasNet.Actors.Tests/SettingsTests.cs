using MnasNet.Actors.Settings;

namespace MnasNet.Actors.Tests;

public sealed class SettingsTests
{
    private static readonly Dictionary<string, string> NoEnvironment = [];

    private static string RepoFile(string relative)
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            var candidate = Path.Combine(dir.FullName, relative);
            if (File.Exists(candidate))
            {
                return candidate;
            }
        }
        throw new FileNotFoundException(relative);
    }

    [Theory]
    [InlineData("config/quick.json", "real", 12)]
    [InlineData("config/paper.json", "real", 8000)]
    [InlineData("config/simulated.json", "simulated", 320)]
    public void Shipped_configs_load(string file, string mode, long budget)
    {
        var s = SettingsLoader.Load(RepoFile(file), [], NoEnvironment);
        Assert.Equal(mode, s.Mode.Word());
        Assert.Equal(budget, s.TrialBudget);
    }

    [Fact]
    public void Set_and_environment_override_the_file_in_order()
    {
        using var dir = new TempDir();
        var file = dir.File("c.json");
        File.WriteAllText(file, """{ "batchSize": 3, "reward": { "targetMs": 5 } }""");
        var env = new Dictionary<string, string> { ["MNASNET_SEARCH__reward__targetMs"] = "7", ["MNASNET_SEARCH__batches"] = "9", ["OTHER"] = "x" };
        var s = SettingsLoader.Load(file, ["batches=2", "reward.preset=hard", "dataset.trainSize=null"], env);
        Assert.Equal(3, s.BatchSize);
        Assert.Equal(7, s.Reward.TargetMs);
        Assert.Equal(2, s.Batches);
        Assert.Equal("hard", s.Reward.Preset.Word());
        Assert.Null(s.Dataset.TrainSize);
    }

    [Theory]
    [InlineData("""{ "batchsize": 3 }""", "unknown key 'batchsize'")]
    [InlineData("""{ "reward": { "target": 3 } }""", "unknown key 'reward.target'")]
    [InlineData("""{ "batchSize": "three" }""", "key 'batchSize' must be a number, got \"three\"")]
    [InlineData("""{ "batchSize": 2.5 }""", "key 'batchSize' must be a whole number")]
    [InlineData("""{ "reward": 3 }""", "key 'reward' must be an object")]
    [InlineData("""{ "reward": { "preset": "hard", "alpha": -0.07 } }""", "contradicts reward.preset 'hard'")]
    [InlineData("""{ "mode": "real", "latency": { "backend": "simulated" } }""", "contradicts mode 'real'")]
    [InlineData("""{ "mode": "real", "simulation": { "trainSeconds": 1 } }""", "only apply to mode 'simulated'")]
    [InlineData("""{ "mode": "simulated", "latency": { "backend": "simulated" }, "simulation": { "trainSeconds": 100 }, "workers": { "leaseTimeoutSeconds": 10 } }""", "must exceed the simulated trial durations")]
    [InlineData("""{ "mode": "simulated", "latency": { "backend": "simulated" }, "simulation": { "clock": "sundial" } }""", "simulation.clock 'sundial': expected one of virtual, real")]
    [InlineData("""{ "mode": "real", "simulation": { "cost": { "enabled": true } } }""", "the cost model only applies to mode 'simulated'")]
    [InlineData("""{ "mode": "simulated", "latency": { "backend": "simulated" }, "simulation": { "cost": { "noise": 1.5 } } }""", "simulation.cost.noise must be in [0, 1), got 1.5")]
    [InlineData("""{ "mode": "simulated", "latency": { "backend": "simulated" }, "simulation": { "cost": { "trainerMacsPerSecond": 0 } } }""", "simulation.cost.trainerMacsPerSecond must be positive")]
    [InlineData("""{ "mode": "simulated", "latency": { "backend": "simulated" }, "simulation": { "cost": { "deviceSpeeds": "2x0" } } }""", "simulation.cost.deviceSpeeds '2x0': expected SHARE x SPEED pairs")]
    [InlineData("""{ "mode": "simulated", "latency": { "backend": "simulated" }, "simulation": { "journalOutages": "100-150" } }""", "simulation.journalOutages: '100-150' is not START+SECONDS")]
    [InlineData("""{ "mode": "simulated", "latency": { "backend": "simulated" }, "simulation": { "journalOutages": "100+0" } }""", "simulation.journalOutages: '100+0' is not START+SECONDS")]
    [InlineData("""{ "mode": "simulated", "latency": { "backend": "simulated" }, "simulation": { "clock": "real", "journalOutages": "100+50" } }""", "simulation.journalOutages are windows of virtual time")]
    [InlineData("""{ "mode": "simulated", "latency": { "backend": "simulated" }, "simulation": { "clock": "real" }, "workers": { "trainers": 100 } }""", "workers.trainers must be between 1 and 64, got 100")]
    [InlineData("""{ "mode": "simulated", "latency": { "backend": "simulated" }, "workers": { "trainers": 2000 } }""", "workers.trainers must be between 1 and 1024, got 2000")]
    [InlineData("""{ "reward": { "preset": "custom", "alpha": -0.1 } }""", "needs both reward.alpha and reward.beta")]
    [InlineData("""{ "batchSize": 0 }""", "batchSize must be at least 1")]
    [InlineData("""{ "strategy": "bayes" }""", "strategy 'bayes'")]
    [InlineData("""{ "id": "../etc" }""", "id '../etc'")]
    [InlineData("""{ "batchSize": 3, }x""", "malformed JSON")]
    [InlineData("""{ "training": { "recipe": { "optimizer": "adam" } } }""", "training.recipe.optimizer must be sgd or rmsprop, got 'adam'")]
    [InlineData("""{ "training": { "recipe": { "warmupEpochs": -1, "dropout": 2 } } }""", "training.recipe.dropout must be in [0, 1), got 2")]
    [InlineData("""{ "training": { "recipe": { "epocs": 3 } } }""", "epocs")]
    [InlineData("""{ "training": { "recipe": { "epochs": "three" } } }""", "at training.recipe.epochs")]
    [InlineData("""{ "training": { "recipe": 5 } }""", "key 'training.recipe' must be an object")]
    [InlineData("""{ "training": { "epochs": 5, "recipe": { "epochs": 3 } } }""", "training.epochs = 5 contradicts training.recipe.epochs = 3")]
    [InlineData("""{ "training": { "batchSize": 64, "recipe": { } } }""", "training.batchSize = 64 contradicts training.recipe.batchSize = 32")]
    [InlineData("""{ "training": { "learningRate": 0.2, "recipe": { } } }""", "training.learningRate = 0.2 contradicts training.recipe")]
    public void Bad_config_names_the_problem(string json, string expected)
    {
        using var dir = new TempDir();
        var file = dir.File("bad.json");
        File.WriteAllText(file, json);
        var e = Assert.Throws<SettingsException>(() => SettingsLoader.Load(file, [], NoEnvironment));
        Assert.Contains(expected, e.Message);
    }

    [Theory]
    [InlineData("batches", "--set 'batches': expected key=value")]
    [InlineData("reward=1", "'reward' is a section")]
    [InlineData("workers.trainers=two", "key 'workers.trainers' must be a number")]
    [InlineData("logging.nope=1", "unknown key 'logging.nope'")]
    [InlineData("mode=fast", "mode 'fast': expected one of real, simulated")]
    [InlineData("reward.preset=Soft", "reward.preset 'Soft': expected one of soft, hard, custom")]
    [InlineData("training.recipe.nope=1", "unknown key 'training.recipe.nope'")]
    [InlineData("training.recipe.schedule=step", "training.recipe.schedule must be cosine, exponential or constant")]
    [InlineData("training.recipe={}", "set one key of the recipe at a time")]
    public void Bad_set_names_the_problem(string set, string expected)
    {
        var e = Assert.Throws<SettingsException>(() => SettingsLoader.Load(null, [set], NoEnvironment));
        Assert.Contains(expected, e.Message);
    }

    [Fact]
    public void A_partial_training_recipe_takes_the_recipe_defaults_and_set_changes_one_key()
    {
        using var dir = new TempDir();
        var file = dir.File("r.json");
        File.WriteAllText(file, """{ "training": { "recipe": { "optimizer": "rmsprop", "learningRatePer256": 0.016, "schedule": "exponential", "epochs": 3 } } }""");
        var s = SettingsLoader.Load(file, ["training.recipe.batchSize=128", "training.recipe.cropPadding=0"], NoEnvironment);
        var expected = MnasNet.Training.Proxy.TrainingRecipe.Proxy with
        {
            Optimizer = "rmsprop",
            LearningRatePer256 = 0.016,
            Schedule = "exponential",
            Epochs = 3,
            BatchSize = 128,
            CropPadding = 0,
        };
        Assert.Equal(expected, s.Training.Recipe);
        Assert.Equal(3, s.Training.EffectiveEpochs);
        Assert.Equal(s, SettingsLoader.FromJson(SettingsLoader.ToJson(s)));

        var fromSetOnly = SettingsLoader.Load(null, ["training.recipe.optimizer=rmsprop"], NoEnvironment);
        Assert.Equal(MnasNet.Training.Proxy.TrainingRecipe.Proxy with { Optimizer = "rmsprop" }, fromSetOnly.Training.Recipe);
    }

    [Fact]
    public void Without_a_recipe_the_journaled_settings_are_as_before()
    {
        var s = SettingsLoader.Load(null, [], NoEnvironment);
        Assert.Null(s.Training.Recipe);
        Assert.DoesNotContain("recipe", SettingsLoader.ToJson(s), StringComparison.Ordinal);
        Assert.Equal(s.Training.Epochs, s.Training.EffectiveEpochs);
    }

    [Fact]
    public void Resolved_settings_round_trip_through_json()
    {
        var s = SettingsLoader.Load(null, ["seed=5", "reward.preset=custom", "reward.alpha=-0.1", "reward.beta=-0.5"], NoEnvironment);
        Assert.Equal(s, SettingsLoader.FromJson(SettingsLoader.ToJson(s)));
    }
}
