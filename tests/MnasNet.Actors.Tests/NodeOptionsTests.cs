using MnasNet.Actors.Hosting;
using MnasNet.Actors.Journal;
using MnasNet.Actors.Protocol;
using MnasNet.Actors.Settings;
using MnasNet.Actors.State;

namespace MnasNet.Actors.Tests;

/// <summary>The search's journaled definition and this node's options: apart, and resume may change only the latter.</summary>
public sealed class NodeOptionsTests : IDisposable
{
    private static readonly Dictionary<string, string> NoEnvironment = [];

    private readonly TempDir _dir = new();

    public void Dispose() => _dir.Dispose();

    [Fact]
    public void The_journaled_definition_holds_no_node_option()
    {
        var settings = Simulated.Settings(_dir.Path, "def");
        var json = SettingsLoader.DefinitionJson(settings);

        foreach (var section in NodeOptions.Sections)
        {
            Assert.DoesNotContain($"\"{section}\"", json, StringComparison.Ordinal);
        }
        Assert.Equal(settings.Definition, SettingsLoader.DefinitionFromJson(json));
        var node = settings.Node with { Workers = settings.Workers with { Trainers = 5 } };
        Assert.Equal(SearchSettings.Of(settings.Definition, node), SettingsLoader.FromJson(json, node));
    }

    [Fact]
    public void A_definition_journaled_with_node_options_before_the_split_reads_without_them()
    {
        var settings = Simulated.Settings(_dir.Path, "old") with { Workers = new WorkerSettings { Trainers = 7 } };

        var read = SettingsLoader.FromJson(SettingsLoader.ToJson(settings));

        Assert.Equal(settings.Definition, read.Definition);
        Assert.Equal(new NodeOptions(), read.Node);
    }

    [Fact]
    public void Node_options_layer_previous_run_file_environment_and_set()
    {
        var previous = _dir.File("prev.node.json");
        File.WriteAllText(previous, """{ "workers": { "trainers": 3, "devices": 4 }, "logging": { "level": "Debug" } }""");
        var file = _dir.File("node.json");
        File.WriteAllText(file, """{ "workers": { "devices": 5 }, "journal": { "snapshotEvery": 7 } }""");
        var environment = new Dictionary<string, string> { ["MNASNET_NODE__logging__level"] = "Warning", ["OTHER"] = "x" };

        var node = NodeOptionsLoader.Load(file, ["journal.snapshotEvery=9"], environment, previous);

        Assert.Equal((3, 5), (node.Workers.Trainers, node.Workers.Devices));
        Assert.Equal("Warning", node.Logging.Level);
        Assert.Equal(9, node.Journal.SnapshotEvery);
        Assert.Equal(new WorkerSettings().LeaseTimeoutSeconds, node.Workers.LeaseTimeoutSeconds);
    }

    [Fact]
    public void Controller_threads_of_this_node_override_the_searchs_threads_for_the_policy_only()
    {
        var node = NodeOptionsLoader.Load(null, ["controller.threads=3"], NoEnvironment);
        var settings = SearchSettings.Of(Simulated.Settings(_dir.Path, "threads").Definition, node);

        Assert.Equal((1, 3), (settings.Threads, settings.PolicyThreads));
        Assert.Equal(1, SearchSettings.Of(settings.Definition, new NodeOptions()).PolicyThreads);
        Assert.DoesNotContain("controller", SettingsLoader.DefinitionJson(settings), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("seed=5", "'seed' is part of the search's definition")]
    [InlineData("reward.targetMs=20", "'reward' is part of the search's definition")]
    [InlineData("bogus=1", "unknown key 'bogus'")]
    [InlineData("workers.nope=1", "unknown key 'workers.nope' (known keys: workers.trainers")]
    [InlineData("workers.trainers=two", "'workers.trainers'")]
    [InlineData("workers.trainers=0", "workers.trainers")]
    [InlineData("trainers", "expected key=value")]
    [InlineData("controller.threads=0", "controller.threads must be between 1 and 256, got 0")]
    [InlineData("threads=2", "'threads' is part of the search's definition")]
    [InlineData("workers.deviceCores=4096", "workers.deviceCores '4096': core 4096 does not exist")]
    [InlineData("workers.trainerCores=0-x", "workers.trainerCores '0-x': expected core numbers")]
    public void Bad_node_options_name_the_problem(string set, string expected)
    {
        var e = Assert.Throws<SettingsException>(() => NodeOptionsLoader.Load(null, [set], NoEnvironment));
        Assert.Contains(expected, e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Resume_runs_the_journaled_definition_with_the_node_options_it_is_given()
    {
        var settings = Simulated.Settings(_dir.Path, "again", batchSize: 6, batches: 4) with { Workers = new WorkerSettings { Trainers = 1, Devices = 1, LeaseTimeoutSeconds = 30 } };
        using (var pause = new CancellationTokenSource())
        {
            var first = await SearchRunner.RunAsync(settings, resume: false, onProgress: p =>
            {
                if (p.TrialsDone >= 6)
                {
                    pause.Cancel();
                }
            }, pauseToken: pause.Token);
            Assert.Equal("paused", first.Status);
        }
        Assert.True(File.Exists(JournalFiles.NodeOptionsFile(_dir.Path, "again")));

        var refused = await InProcessCli.RunAsync("resume", "again", "--journal-dir", _dir.Path, "--plain", "--set", "seed=12");
        Assert.Equal(3, refused.ExitCode);
        Assert.Contains("'seed' is part of the search's definition", refused.Error, StringComparison.Ordinal);
        Assert.Equal("paused", SearchSummary.From("again", JournalReader.ReadEvents(_dir.Path, "again")).Status);

        var resumed = await InProcessCli.RunAsync("resume", "again", "--journal-dir", _dir.Path, "--plain", "--set", "workers.trainers=3");
        Assert.True(resumed.ExitCode == 0, resumed.Error);
        var events = JournalReader.ReadEvents(_dir.Path, "again").ToList();
        var resumedAt = events.FindIndex(e => e.Event is SearchResumed);
        var trainersAfter = events.Skip(resumedAt).Select(e => e.Event).OfType<TrialDispatched>().Where(d => d.Kind == WorkKind.Train).Select(d => d.Worker).Distinct().Count();
        var trainersBefore = events.Take(resumedAt).Select(e => e.Event).OfType<TrialDispatched>().Where(d => d.Kind == WorkKind.Train).Select(d => d.Worker).Distinct().Count();
        Assert.Equal(1, trainersBefore);
        Assert.Equal(3, trainersAfter);
        Assert.Equal("completed", SearchSummary.From("again", events).Status);
        var started = Assert.IsType<SearchStarted>(events[0].Event);
        Assert.Equal(settings.Definition, SettingsLoader.DefinitionFromJson(started.SettingsJson));

        Assert.Equal("completed", (await SearchRunner.RunAsync(settings with { Id = "straight" }, resume: false)).Status);
        Assert.Equal(Simulated.Fingerprint(_dir.Path, "straight"), Simulated.Fingerprint(_dir.Path, "again"));
    }
}
