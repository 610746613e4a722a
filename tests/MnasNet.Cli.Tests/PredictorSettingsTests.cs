using MnasNet.Latency;
using MnasNet.Latency.Measurement;
using MnasNet.Latency.Table;
using MnasNet.SearchSpace;

namespace MnasNet.Cli.Tests;

/// <summary>
/// <c>latency.predictor</c> and <c>latency.measureTop</c> given badly to <c>mnasnet search</c> (config, <c>--set</c>):
/// one error line naming the key or the file, its exit code, and no journal.
/// </summary>
public sealed class PredictorSettingsTests : IDisposable
{
    private readonly TempDir _dir = new();

    public void Dispose() => _dir.Dispose();

    private string Config()
    {
        var path = _dir.File("search.json");
        File.WriteAllText(path, """
            {
              "seed": 3, "strategy": "ppo-tabular", "mode": "simulated", "batchSize": 4, "batches": 1,
              "reward": { "preset": "soft", "targetMs": 80 },
              "latency": { "backend": "simulated", "runs": 5 },
              "workers": { "trainers": 2, "devices": 2, "leaseTimeoutSeconds": 60 }
            }
            """);
        return path;
    }

    private async Task<InProcessCli.Result> Search(params string[] sets)
    {
        return await InProcessCli.RunAsync(["search", "--config", Config(), "--id", "bad", "--plain", "--set", $"journal.directory={_dir.File("searches")}", .. sets.SelectMany(s => new[] { "--set", s })]);
    }

    private async Task AssertRefused(int exitCode, string[] mentions, params string[] sets)
    {
        var r = await Search(sets);
        Assert.True(r.ExitCode == exitCode, $"exit {r.ExitCode}: {r.Error}");
        Assert.StartsWith("error: ", r.ErrorLine, StringComparison.Ordinal);
        Assert.All(mentions, m => Assert.Contains(m, r.ErrorLine, StringComparison.Ordinal));
        Assert.False(File.Exists(Path.Combine(_dir.File("searches"), "bad.db")) && Actors.Journal.JournalReader.ReadEvents(_dir.File("searches"), "bad").Count > 0, "something was journaled");
    }

    private Task<string> Table(string name) => SimulatedTable.WriteAsync(_dir.File(name));

    [Theory]
    [InlineData("0")]
    [InlineData("-0.25")]
    [InlineData("1.5")]
    public async Task A_fraction_outside_0_to_1_is_refused_naming_the_key(string fraction) =>
        await AssertRefused(ExitCodes.InvalidInput, ["latency.measureTop"], $"latency.predictor=table:{await Table("t.json")}", $"latency.measureTop={fraction}");

    [Fact]
    public Task A_fraction_without_a_predictor_is_refused() => AssertRefused(ExitCodes.InvalidInput, ["latency.measureTop", "latency.predictor"], "latency.measureTop=0.5");

    [Theory]
    [InlineData("onnxruntime")]
    [InlineData("table:")]
    [InlineData("tables:x.json")]
    public Task A_predictor_that_is_not_table_FILE_is_refused_naming_the_key(string predictor) =>
        AssertRefused(ExitCodes.InvalidInput, ["latency.predictor", "table:FILE"], $"latency.predictor={predictor}");

    [Fact]
    public Task A_missing_table_is_not_found_naming_the_file() =>
        AssertRefused(ExitCodes.NotFound, ["latency.predictor", "nowhere.json", "not found"], $"latency.predictor=table:{_dir.File("nowhere.json")}", "latency.measureTop=0.25");

    [Fact]
    public async Task An_invalid_table_is_refused_naming_the_key_and_the_file()
    {
        var path = _dir.File("broken.json");
        await File.WriteAllTextAsync(path, "{ \"format\": \"mnasnet-latency-table/v1\", \"entries\": ", TestContext.Current.CancellationToken);
        await AssertRefused(ExitCodes.InvalidInput, ["latency.predictor", "broken.json"], $"latency.predictor=table:{path}");
    }

    [Fact]
    public async Task A_table_of_another_resolution_is_refused_naming_latency_resolution()
    {
        var path = await SimulatedTable.WriteAsync(_dir.File("t96.json"), resolution: 96);
        await AssertRefused(ExitCodes.InvalidInput, ["latency.predictor", "t96.json", "resolution 96", "latency.resolution"], $"latency.predictor=table:{path}");
    }

    [Fact]
    public async Task A_table_of_a_few_sampled_architectures_is_refused_as_incomplete()
    {
        var options = new NetworkOptions();
        var space = MnasNetSearchSpace.Default;
        var random = new SeededRandom(1);
        await using var device = LatencyBackends.CreateLayerBackend("simulated");
        var table = await LatencyTableBuilder.BuildAsync(device, LatencyTableBuilder.DistinctLayers([space.Decode(space.Sample(random))], options), options, new MeasurementProtocol(1, 3),
            cancellationToken: TestContext.Current.CancellationToken);
        var path = _dir.File("partial.json");
        table.Save(path);
        await AssertRefused(ExitCodes.InvalidInput, ["latency.predictor", "partial.json", "lacks"], $"latency.predictor=table:{path}");
    }

    [Fact]
    public async Task A_predictor_needs_a_device_that_measures()
    {
        var path = await Table("t.json");
        await AssertRefused(ExitCodes.InvalidInput, ["latency.backend"], $"latency.predictor=table:{path}", $"latency.backend=table:{path}");
    }

    [Fact]
    public async Task A_predictor_predicts_for_one_target_platform_only()
    {
        var path = await Table("t.json");
        await AssertRefused(ExitCodes.InvalidInput, ["latency.predictor", "latency.target"], $"latency.predictor=table:{path}", "latency.target=simulated:name=big@80;simulated:name=little@40");
    }

    [Fact]
    public async Task A_good_predictor_runs_and_the_status_says_which_latencies_were_predicted()
    {
        var path = await Table("t.json");
        var r = await Search($"latency.predictor=table:{path}", "latency.measureTop=0.5");
        Assert.True(r.ExitCode == ExitCodes.Success, r.Error);
        var status = await InProcessCli.RunAsync("status", "bad", "--journal-dir", _dir.File("searches"), "--json");
        Assert.True(status.ExitCode == ExitCodes.Success, status.Error);
        using var json = System.Text.Json.JsonDocument.Parse(status.Output);
        var predictor = json.RootElement.GetProperty("predictor");
        Assert.Equal("t.json", predictor.GetProperty("table").GetString());
        Assert.Equal(2, predictor.GetProperty("measured").GetInt32());
        Assert.Equal(2, predictor.GetProperty("predicted").GetInt32());
        Assert.Equal(2, predictor.GetProperty("pairs").GetInt32());
        Assert.True(predictor.GetProperty("mapePercent").GetDouble() > 0);

        var outDir = _dir.File("report");
        var report = await InProcessCli.RunAsync("report", "bad", "--journal-dir", _dir.File("searches"), "--out", outDir, "--json", "--html", "--top", "4");
        Assert.True(report.ExitCode == ExitCodes.Success, report.Error);
        using var reportJson = System.Text.Json.JsonDocument.Parse(report.Output);
        Assert.Equal(2, reportJson.RootElement.GetProperty("predictor").GetProperty("pairs").GetInt32());
        var sources = reportJson.RootElement.GetProperty("top").EnumerateArray().Select(t => t.GetProperty("latencySource").GetString()).ToList();
        Assert.Equal(4, sources.Count);
        Assert.Equal(2, sources.Count(x => x == "predicted"));
        Assert.Equal(2, sources.Count(x => x == "measured"));
        var html = await File.ReadAllTextAsync(Path.Combine(outDir, "report.html"), TestContext.Current.CancellationToken);
        Assert.Contains("latency predictor", html, StringComparison.Ordinal);
        Assert.Contains("(predicted)", html, StringComparison.Ordinal);
        Assert.Contains("(measured)", html, StringComparison.Ordinal);
    }
}
