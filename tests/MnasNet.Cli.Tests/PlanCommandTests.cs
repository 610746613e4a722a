using System.Text.Json;

namespace MnasNet.Cli.Tests;

/// <summary><c>mnasnet plan</c>: virtual searches per trainer × device count, their rows, files and errors.</summary>
public sealed class PlanCommandTests : IDisposable
{
    private readonly TempDir _dir = new();

    public void Dispose() => _dir.Dispose();

    /// <summary>32 trials of 60 s training and 10 s measuring (fixed durations, measured while training), one batch.</summary>
    private string Config(string extra = "", string mode = "simulated")
    {
        var path = _dir.File($"plan-{Guid.NewGuid():N}.json");
        File.WriteAllText(path, $$"""
            {
              "seed": 3, "strategy": "ppo-tabular", "mode": "{{mode}}", "batchSize": 32, "batches": 1,
              "reward": { "preset": "soft", "targetMs": 80 },
              "latency": { "backend": "{{(mode == "simulated" ? "simulated" : "onnxruntime")}}", "runs": 5 },
              "workers": { "trainers": 2, "devices": 2, "leaseTimeoutSeconds": 1000 }
              {{extra}}
            }
            """);
        return path;
    }

    private string Timed => Config(""", "simulation": { "trainSeconds": 60, "measureSeconds": 10 }""");

    [Fact]
    public async Task Rows_give_the_makespan_utilisation_and_bottleneck_of_each_trainer_count_and_the_files_hold_them()
    {
        var outDir = _dir.File("out");
        var r = await InProcessCli.RunAsync("plan", "--config", Timed, "--trainers", "4,8,16", "--devices", "2", "--json", "--out", outDir);

        Assert.True(r.ExitCode == ExitCodes.Success, r.Error);
        using var json = JsonDocument.Parse(r.Output);
        var rows = json.RootElement.EnumerateArray().ToList();
        Assert.Equal([4, 8, 16], rows.Select(x => x.GetProperty("trainers").GetInt32()));
        Assert.All(rows, x => Assert.Equal(2, x.GetProperty("devices").GetInt32()));
        // max(32/T · 60 s of training, 32/2 · 10 s of measuring): 480, 240, then the devices' 160.
        Assert.Equal([480.0, 240.0, 160.0], rows.Select(x => x.GetProperty("makespanSeconds").GetDouble()));
        Assert.Equal([1.0, 1.0, 0.75], rows.Select(x => Math.Round(x.GetProperty("trainerUtilisation").GetDouble(), 9)));
        Assert.Equal([1 / 3.0, 2 / 3.0, 1.0], rows.Select(x => Math.Round(x.GetProperty("deviceUtilisation").GetDouble(), 9)), new ToleranceComparer(1e-9));
        Assert.Equal(["trainers", "trainers", "devices"], rows.Select(x => x.GetProperty("bottleneck").GetString()));
        Assert.Equal(32 * 3600 / 480.0, rows[0].GetProperty("trialsPerHour").GetDouble(), 9);
        Assert.All(rows, x => Assert.Equal(0, x.GetProperty("leaseExpiries").GetInt32()));

        Assert.Equal(r.Output.Trim(), File.ReadAllText(Path.Combine(outDir, "plan.json")).Trim());
        var png = File.ReadAllBytes(Path.Combine(outDir, "plan.png"));
        Assert.Equal([0x89, (byte)'P', (byte)'N', (byte)'G'], png[..4]);
    }

    [Fact]
    public async Task Text_rows_and_a_trial_budget_in_whole_batches()
    {
        var r = await InProcessCli.RunAsync("plan", "--config", Timed, "--trials", "40");

        Assert.True(r.ExitCode == ExitCodes.Success, r.Error);
        var line = Assert.Single(r.Output.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        // 40 trials → 2 batches of 32 on the config's 2 trainers: 2 · 16 · 60 s.
        Assert.Contains("trainers    2  devices    2  makespan      0:32:00", line);
        Assert.Contains("bottleneck trainers", line);
    }

    private sealed class ToleranceComparer(double tolerance) : IEqualityComparer<double>
    {
        public bool Equals(double x, double y) => Math.Abs(x - y) <= tolerance;

        public int GetHashCode(double obj) => 0;
    }

    [Theory]
    [InlineData("--trainers=,", "--trainers: the list is empty")]
    [InlineData("--trainers=0,4", "--trainers: '0' is not a node count from 1 to 1024")]
    [InlineData("--devices=2,x", "--devices: 'x' is not a node count")]
    [InlineData("--trials=0", "--trials must be at least 1")]
    [InlineData("--set=simulation.nope=1", "unknown key 'simulation.nope'")]
    [InlineData("--set=simulation.clock=real", "set mode to 'simulated' and simulation.clock to 'virtual'")]
    [InlineData("--set=simulation.clock=sundial", "simulation.clock 'sundial': expected one of virtual, real")]
    [InlineData("--set=simulation.cost.trainerSpeeds=48x1,16", "expected SHARE x SPEED pairs")]
    public async Task Bad_input_is_one_error_line_and_exit_code_3(string option, string message)
    {
        var r = await InProcessCli.RunAsync("plan", "--config", Timed, option);

        Assert.Equal(ExitCodes.InvalidInput, r.ExitCode);
        Assert.Contains(message, r.ErrorLine);
        Assert.Equal("", r.Output);
    }

    [Fact]
    public async Task An_empty_list_of_devices_is_refused()
    {
        var r = await InProcessCli.RunAsync("plan", "--config", Timed, "--devices", "");

        Assert.Equal(ExitCodes.InvalidInput, r.ExitCode);
        Assert.Contains("--devices: the list is empty", r.ErrorLine);
    }

    [Fact]
    public async Task A_config_with_an_unknown_key_a_real_search_or_no_file_is_refused()
    {
        var unknown = await InProcessCli.RunAsync("plan", "--config", Config(""", "simulation": { "costs": {} }"""));
        Assert.Equal(ExitCodes.InvalidInput, unknown.ExitCode);
        Assert.Contains("unknown key 'simulation.costs' (did you mean 'simulation.cost'?)", unknown.ErrorLine);

        var real = await InProcessCli.RunAsync("plan", "--config", Config(mode: "real"));
        Assert.Equal(ExitCodes.InvalidInput, real.ExitCode);
        Assert.Contains("plan runs simulated searches in virtual time", real.ErrorLine);

        var missing = await InProcessCli.RunAsync("plan", "--config", _dir.File("none.json"));
        Assert.Equal(ExitCodes.NotFound, missing.ExitCode);
        Assert.Contains("not found", missing.ErrorLine);
    }

    [Fact]
    public async Task Calibration_recovers_the_cost_model_of_a_journal_and_predicts_its_makespan()
    {
        // The journal to calibrate from: a virtual search whose durations come from known constants (no noise).
        var journal = _dir.File("journal");
        var source = _dir.File("measured.json");
        File.WriteAllText(source, """
            {
              "seed": 3, "strategy": "ppo-tabular", "mode": "simulated", "batchSize": 32, "batches": 3,
              "reward": { "preset": "soft", "targetMs": 80 },
              "training": { "epochs": 2 },
              "latency": { "backend": "simulated", "warmup": 2, "runs": 8 },
              "simulation": { "cost": { "enabled": true, "imagesPerEpoch": 1000, "trainerMacsPerSecond": 3e10, "trialOverheadSeconds": 45, "measureSetupSeconds": 7, "updateSeconds": 20 } },
              "workers": { "trainers": 2, "devices": 2, "leaseTimeoutSeconds": 100000 },
              "logging": { "console": false }
            }
            """);
        var run = await InProcessCli.RunAsync("search", "--config", source, "--id", "measured", "--plain", "--set", $"journal.directory={journal}");
        Assert.True(run.ExitCode == ExitCodes.Success, run.Error);

        var r = await InProcessCli.RunAsync("plan", "--calibrate-from", "measured", "--journal-dir", journal, "--json");

        Assert.True(r.ExitCode == ExitCodes.Success, r.Error);
        using var json = JsonDocument.Parse(r.Output);
        var root = json.RootElement;
        var cost = root.GetProperty("cost");
        Assert.Equal(3e10, cost.GetProperty("trainerMacsPerSecond").GetDouble(), 3e10 * 1e-6);
        Assert.Equal(45, cost.GetProperty("trialOverheadSeconds").GetDouble(), 1e-3);
        Assert.Equal(7, cost.GetProperty("measureSetupSeconds").GetDouble(), 1e-6);
        Assert.Equal(20, cost.GetProperty("updateSeconds").GetDouble(), 1e-6);
        Assert.Equal((96, 2, 2), (root.GetProperty("trainSamples").GetInt32(), root.GetProperty("trainers").GetInt32(), root.GetProperty("devices").GetInt32()));
        Assert.Equal("virtual", root.GetProperty("clock").GetString());
        // Same seed, strategy and durations: the prediction is the journal's own makespan.
        Assert.Equal(root.GetProperty("actualMakespanSeconds").GetDouble(), root.GetProperty("predictedMakespanSeconds").GetDouble(), 1e-3);
        Assert.True(Math.Abs(root.GetProperty("error").GetDouble()) < 1e-6);
    }

    [Fact]
    public async Task Calibrating_from_an_unknown_search_is_not_found()
    {
        var r = await InProcessCli.RunAsync("plan", "--calibrate-from", "nobody", "--journal-dir", _dir.Path);

        Assert.Equal(ExitCodes.NotFound, r.ExitCode);
        Assert.Contains("no search 'nobody'", r.ErrorLine);
    }
}
