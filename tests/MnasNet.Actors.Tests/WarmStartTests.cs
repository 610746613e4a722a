using System.Text.Json;
using MnasNet.Actors.Backends;
using MnasNet.Actors.Hosting;
using MnasNet.Actors.Journal;
using MnasNet.Actors.Policy;
using MnasNet.Actors.Protocol;
using MnasNet.Actors.Settings;
using MnasNet.Cli;
using MnasNet.Controller;
using MnasNet.SearchSpace;

namespace MnasNet.Actors.Tests;

/// <summary><c>search --warm-start</c>: real simulated searches on SQLite, a second one started from the first.</summary>
public sealed class WarmStartTests : IDisposable
{
    private readonly TempDir _dir = new();

    public void Dispose() => _dir.Dispose();

    private SearchSettings Source(string strategy, string id = "source", int batches = 8) =>
        Simulated.Settings(_dir.Path, id, batchSize: 8, batches: batches) with { Strategy = strategy };

    // The second search: another seed and a tighter latency target.
    private SearchSettings Warm(string strategy, string id) =>
        Simulated.Settings(_dir.Path, id, batchSize: 8, batches: 4) with { Strategy = strategy, Seed = 5, Reward = new RewardSettings { Preset = RewardExponents.Soft, TargetMs = 60 } };

    private async Task RunAsync(SearchSettings settings, WarmStartPlan? warm = null) =>
        Assert.Equal("completed", (await SearchRunner.RunAsync(settings, resume: false, warmStart: warm)).Status);

    private WarmStartPlan Plan(SearchSettings settings, string source = "source") =>
        WarmStartPlanner.Plan(settings, source, JournalReader.ReadEvents(_dir.Path, source));

    /// <summary>Paused after the first batch, resumed: must end exactly like the same warm start run straight through.</summary>
    private async Task AssertResumesLikeStraightAsync(SearchSettings settings)
    {
        using (var pause = new CancellationTokenSource())
        {
            var first = await SearchRunner.RunAsync(settings, resume: false, onProgress: p =>
            {
                if (p.TrialsDone >= 8)
                {
                    pause.Cancel();
                }
            }, pauseToken: pause.Token, warmStart: Plan(settings));
            Assert.Equal("paused", first.Status);
        }
        Assert.Equal("completed", (await SearchRunner.RunAsync(settings, resume: true)).Status);
        var straight = settings with { Id = settings.Id + "-straight" };
        await RunAsync(straight, Plan(straight));
        Assert.Equal(Simulated.Fingerprint(_dir.Path, straight.Id), Simulated.Fingerprint(_dir.Path, settings.Id));
    }

    [Fact]
    public async Task Evolution_starts_from_the_best_trials_rescored_mutates_them_at_once_and_resumes_bit_identically()
    {
        await RunAsync(Source(SearchStrategies.Evolution));
        var source = JournalReader.ReadEvents(_dir.Path, "source");
        var sourceRewards = source.Select(e => e.Event).OfType<RewardComputed>().ToDictionary(r => r.TrialId, r => r.Inputs);
        var warm = Warm(SearchStrategies.Evolution, "warm");

        await AssertResumesLikeStraightAsync(warm);

        var events = JournalReader.ReadEvents(_dir.Path, "warm");
        var started = Assert.IsType<SearchStarted>(events[0].Event);
        var record = started.WarmStart!;
        Assert.Equal(("source", WarmStartKind.Trials, "completed", 64), (record.SourceSearchId, record.Taken, record.SourceStatus, record.SourceTrials));
        Assert.Equal(source.Count, record.SourceEvents);
        Assert.Equal(source[^1].Event is JournaledEvent { Link: { } link } ? link : null, record.SourceLastLink);
        // The population's worth of trials (64), each re-scored at T = 60 from what the source measured, best last.
        Assert.Equal(EvolutionOptions.Default.PopulationSize, record.Trials!.Count);
        Assert.Equal(record.Trials.Select(t => t.Reward).Order(), record.Trials.Select(t => t.Reward));
        foreach (var t in record.Trials)
        {
            var inputs = sourceRewards[t.SourceTrialId];
            Assert.Equal((inputs.Accuracy, inputs.LatencyMs, inputs.Reward), (t.Accuracy, Assert.Single(t.LatenciesMs), t.SourceReward));
            Assert.Equal(MnasNetReward.Compute(inputs.Accuracy, inputs.LatencyMs, 60, -0.07, -0.07, inputs.Failed).Reward, t.Reward);
        }
        Assert.Contains(record.Trials, t => t.Reward != t.SourceReward);
        // No random warm-up: every proposal of the first batch is a seeded trial with one decision changed.
        var firstBatch = events.Select(e => e.Event).OfType<BatchSampled>().First();
        Assert.All(firstBatch.Trials, p => Assert.Contains(record.Trials, t => t.Tokens.Zip(p.Tokens, (a, b) => a != b).Count(d => d) == 1));

        var replay = await InProcessCli.RunAsync("replay", "warm", "--journal-dir", _dir.Path, "--verify", "--rows", "0");
        Assert.True(replay.ExitCode == ExitCodes.Success, replay.Output + replay.Error);
        Assert.Contains("warm-started from 64 trials of search source (re-derived from the journaled trials)", replay.Output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Tabular_ppo_starts_from_the_last_policy_state_with_its_own_sampling_stream_and_resumes_bit_identically()
    {
        await RunAsync(Source(SearchStrategies.PpoTabular, batches: 20));
        var source = JournalReader.ReadEvents(_dir.Path, "source").Select(e => e.Event).ToList();
        var warm = Warm(SearchStrategies.PpoTabular, "warm");

        await AssertResumesLikeStraightAsync(warm);

        var started = Assert.IsType<SearchStarted>(JournalReader.ReadEvents(_dir.Path, "warm")[0].Event);
        var last = source.OfType<PolicyUpdated>().Last();
        Assert.Equal((WarmStartKind.PolicyState, 20L, last.Policy!.StateHash), (started.WarmStart!.Taken, started.WarmStart.SourceStep, started.WarmStart.SourceStateHash));
        // The learned logits carry over (same policy version: it hashes the logits); the random stream and baseline do not.
        Assert.Equal(last.ParameterHash, started.PolicyVersion);
        var initial = JsonDocument.Parse(started.Policy!.Decode(null)).RootElement;
        Assert.Equal(JsonValueKind.Null, initial.GetProperty("Baseline").ValueKind);
        Assert.Equal(new SeededRandom(SearchPolicies.PolicySeed(warm)).State, initial.GetProperty("Random").EnumerateArray().Select(w => w.GetUInt64()));
        Assert.Equal(20, initial.GetProperty("Step").GetInt64());

        var replay = await InProcessCli.RunAsync("replay", "warm", "--journal-dir", _dir.Path, "--verify", "--rows", "0");
        Assert.True(replay.ExitCode == ExitCodes.Success, replay.Output + replay.Error);
        Assert.Contains($"warm-started from search source's policy state of step 20 ({last.Policy.StateHash}", replay.Output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Bad_sources_are_refused_with_the_reason_and_journal_nothing()
    {
        await RunAsync(Source(SearchStrategies.Evolution, batches: 2));
        var config = Simulated.WriteConfig(_dir, Warm(SearchStrategies.Evolution, "new"));

        async Task Refused(int exitCode, string message, params string[] extra)
        {
            var r = await InProcessCli.RunAsync(["search", "--config", config, "--plain", .. extra]);
            Assert.Equal(exitCode, r.ExitCode);
            Assert.Contains(message, r.ErrorLine, StringComparison.Ordinal);
            Assert.False(File.Exists(JournalFiles.Database(_dir.Path, "new")));
        }

        await Refused(ExitCodes.NotFound, "no search 'nothere'", "--warm-start", "nothere");
        await Refused(ExitCodes.InvalidInput, "that search used strategy evolution, this one uses tpe; a warm start needs the same strategy", "--warm-start", "source", "--set", "strategy=tpe");
        await Refused(ExitCodes.InvalidInput, "strategy random learns nothing from earlier trials, so there is nothing to take", "--warm-start", "source", "--set", "strategy=random");
        await Refused(ExitCodes.InvalidInput, "a search cannot warm-start from itself", "--warm-start", "new");
        await Refused(ExitCodes.InvalidInput, "--warm-start applies to a new search only", "--warm-start", "source", "--cluster", "--resume");
    }

    [Fact]
    public async Task A_source_that_has_learned_nothing_yet_is_refused()
    {
        await RunAsync(Source(SearchStrategies.PpoTabular, batches: 2));
        var events = JournalReader.ReadEvents(_dir.Path, "source");
        var beforeFirstUpdate = events.TakeWhile(e => e.Event is not PolicyUpdated).ToList();
        var beforeFirstReward = events.TakeWhile(e => e.Event is not RewardComputed).ToList();

        var ppo = Assert.Throws<WarmStartException>(() => WarmStartPlanner.Plan(Warm(SearchStrategies.PpoTabular, "new"), "source", beforeFirstUpdate));
        Assert.Contains("it has not finished a batch yet (running, ", ppo.Message, StringComparison.Ordinal);
        var evolution = Assert.Throws<WarmStartException>(() => WarmStartPlanner.Plan(Warm(SearchStrategies.Evolution, "new"), "source", beforeFirstReward.Select(e =>
            e.Event is SearchStarted s ? e with { Event = s with { Strategy = SearchStrategies.Evolution, SettingsJson = s.SettingsJson.Replace("ppo-tabular", "evolution", StringComparison.Ordinal) } } : e).ToList()));
        Assert.Contains("it has no rewarded trial yet", evolution.Message, StringComparison.Ordinal);
        var otherDevice = Assert.Throws<WarmStartException>(() => WarmStartPlanner.Plan(Warm(SearchStrategies.PpoTabular, "new") with { Strategy = SearchStrategies.Evolution, Latency = new LatencySettings { Backend = "simulated", Target = "onnxruntime:threads=1" } },
            "source", [.. events.Select(e => e.Event is SearchStarted s ? e with { Event = s with { Strategy = SearchStrategies.Evolution } } : e)]));
        Assert.Contains("its latencies do not carry over", otherDevice.Message, StringComparison.Ordinal);
    }
}
