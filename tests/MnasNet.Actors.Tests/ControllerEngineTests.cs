using MnasNet.Actors.Hosting;
using MnasNet.Actors.Journal;
using MnasNet.Actors.Policy;
using MnasNet.Actors.Protocol;
using MnasNet.Actors.Settings;
using MnasNet.Cli;
using MnasNet.Controller;
using MnasNet.Controller.Managed;

namespace MnasNet.Actors.Tests;

/// <summary>
/// <c>policy.engine</c>: a new search without it runs the managed LSTM PPO and journals "managed"; a journal without it
/// (written before it existed) means libtorch; a libtorch policy warm-starts a managed search.
/// </summary>
public sealed class ControllerEngineTests : IDisposable
{
    private static readonly Dictionary<string, string> NoEnvironment = [];
    private readonly TempDir _dir = new();

    public void Dispose() => _dir.Dispose();

    [Fact]
    public void A_new_config_without_the_key_journals_managed_and_an_old_journal_without_it_means_libtorch()
    {
        var settings = SettingsLoader.Load(null, ["strategy=ppo"], NoEnvironment);
        Assert.Equal(ControllerEngines.Managed, settings.Policy.Engine);
        var journaled = SettingsLoader.DefinitionJson(settings);
        Assert.Contains("\"engine\": \"managed\"", journaled, StringComparison.Ordinal);
        Assert.Equal(ControllerEngines.Managed, SettingsLoader.DefinitionFromJson(journaled).Policy.Engine);
        using (var sampler = SearchPolicies.Create(settings, MnasNet.SearchSpace.MnasNetSearchSpace.Default))
        {
            Assert.IsType<ManagedPpoController>(sampler);
        }

        var old = System.Text.Json.Nodes.JsonNode.Parse(journaled)!.AsObject();
        old["policy"]!.AsObject().Remove("engine");
        var resumed = SettingsLoader.FromJson(old.ToJsonString());
        Assert.Equal(ControllerEngines.Libtorch, resumed.Policy.Engine);
        using (var sampler = SearchPolicies.Create(resumed, MnasNet.SearchSpace.MnasNetSearchSpace.Default))
        {
            Assert.IsType<PpoController>(sampler);
        }
        old.Remove("policy");
        Assert.Equal(ControllerEngines.Libtorch, SettingsLoader.FromJson(old.ToJsonString()).Policy.Engine);

        Assert.Equal(ControllerEngines.Libtorch, SettingsLoader.Load(null, ["policy.engine=libtorch"], NoEnvironment).Policy.Engine);
        var bad = Assert.Throws<SettingsException>(() => SettingsLoader.Load(null, ["policy.engine=cuda"], NoEnvironment));
        Assert.Equal("policy.engine must be one of managed, libtorch, got 'cuda'", bad.Message);
    }

    [Fact]
    public async Task A_bad_engine_exits_with_invalid_input_naming_the_key()
    {
        var r = await InProcessCli.RunAsync("search", "--set", "policy.engine=gpu", "--set", $"journal.directory={_dir.Path}", "--plain");
        Assert.Equal(ExitCodes.InvalidInput, r.ExitCode);
        Assert.Contains("policy.engine must be one of managed, libtorch, got 'gpu'", r.Output + r.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_libtorch_policy_warm_starts_a_managed_search_that_resumes_and_verifies()
    {
        var source = Simulated.Settings(_dir.Path, "source", batchSize: 8, batches: 2) with
        {
            Strategy = SearchStrategies.Ppo,
            Policy = new PolicySettings { Engine = ControllerEngines.Libtorch },
        };
        Assert.Equal("completed", (await SearchRunner.RunAsync(source, resume: false)).Status);
        var sourceStarted = Assert.IsType<SearchStarted>(JournalReader.ReadEvents(_dir.Path, "source")[0].Event);
        Assert.Contains("\"engine\": \"libtorch\"", sourceStarted.SettingsJson, StringComparison.Ordinal);

        var warm = Simulated.Settings(_dir.Path, "warm", batchSize: 8, batches: 3) with { Strategy = SearchStrategies.Ppo, Seed = 5 };
        Assert.Equal(ControllerEngines.Managed, warm.Policy.Engine);
        using (var pause = new CancellationTokenSource())
        {
            var first = await SearchRunner.RunAsync(warm, resume: false, onProgress: p =>
            {
                if (p.TrialsDone >= 8)
                {
                    pause.Cancel();
                }
            }, pauseToken: pause.Token, warmStart: WarmStartPlanner.Plan(warm, "source", JournalReader.ReadEvents(_dir.Path, "source")));
            Assert.Equal("paused", first.Status);
        }
        Assert.Equal("completed", (await SearchRunner.RunAsync(warm, resume: true)).Status);
        var started = Assert.IsType<SearchStarted>(JournalReader.ReadEvents(_dir.Path, "warm")[0].Event);
        var lastSource = JournalReader.ReadEvents(_dir.Path, "source").Select(e => e.Event).OfType<PolicyUpdated>().Last();
        // Same parameters on the other engine: the policy version (parameter hash) carries over.
        Assert.Equal(lastSource.ParameterHash, started.PolicyVersion);

        var replay = await InProcessCli.RunAsync("replay", "warm", "--journal-dir", _dir.Path, "--verify", "--rows", "0");
        Assert.True(replay.ExitCode == ExitCodes.Success, replay.Output + replay.Error);
        Assert.Contains("3/3 updates reproduced", replay.Output, StringComparison.Ordinal);
        var status = await InProcessCli.RunAsync("status", "warm", "--journal-dir", _dir.Path);
        Assert.Contains("policy      ppo (managed engine)", status.Output, StringComparison.Ordinal);
        var sourceStatus = await InProcessCli.RunAsync("status", "source", "--journal-dir", _dir.Path);
        Assert.Contains("policy      ppo (libtorch engine)", sourceStatus.Output, StringComparison.Ordinal);
    }
}
