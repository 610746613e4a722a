using MnasNet.Actors.Hosting;
using MnasNet.Actors.Journal;
using MnasNet.Actors.Protocol;
using MnasNet.Actors.Settings;
using MnasNet.Latency.Table;
using MnasNet.SearchSpace;

namespace MnasNet.Actors.Tests;

/// <summary>
/// Searches with a latency predictor (<c>latency.predictor: table:FILE</c>, <c>latency.measureTop: F</c>) on the
/// virtual clock: the simulated device, and a table built from MnasNet.Latency's simulated backend.
/// </summary>
public sealed class PredictorSearchTests
{
    private const double TargetMs = 80;

    private static SearchSettings Predicting(string dir, string id, string table, double measureTop, int batches = 3) =>
        SettingsValidation.Validate(Simulated.Settings(dir, id, batchSize: 8, batches: batches) with
        {
            Strategy = "ppo-tabular",
            Latency = new LatencySettings { Backend = "simulated", Runs = 5, Predictor = $"table:{table}", MeasureTop = measureTop },
            Simulation = new SimulationSettings { TrainSeconds = 60, MeasureSeconds = 10 },
            Workers = new WorkerSettings { Trainers = 3, Devices = 2, LeaseTimeoutSeconds = 700, PauseGraceSeconds = 10 },
        });

    private static async Task<SearchOutcome> Run(SearchSettings settings, bool resume = false)
    {
        var outcome = await SearchRunner.RunAsync(settings, resume).WaitAsync(TimeSpan.FromMinutes(3));
        Assert.True(outcome.Status == "completed", $"{outcome.Status}: {outcome.Reason}");
        return outcome;
    }

    private static IReadOnlyList<ISearchEvent> Events(string dir, string id) => [.. JournalReader.ReadEvents(dir, id).Select(e => e.Event)];

    /// <summary>The soft reward (α = β = −0.07) of the test's settings, written out.</summary>
    private static double Reward(double accuracy, double latencyMs) => accuracy * Math.Pow(latencyMs / TargetMs, -0.07);

    private static void AssertClose(double expected, double actual) =>
        Assert.True(Math.Abs(expected - actual) <= 1e-12 * Math.Abs(expected), $"expected {expected:R}, got {actual:R}");

    [Fact]
    public void A_search_without_a_predictor_journals_the_definition_it_journaled_before_predictors_existed()
    {
        var settings = Simulated.Settings("searches");
        var all = System.Text.Json.JsonSerializer.Serialize(settings.Definition, new System.Text.Json.JsonSerializerOptions { PropertyNamingPolicy = System.Text.Json.JsonNamingPolicy.CamelCase, WriteIndented = true });
        var before = all.Replace("\"target\": \"\",\n    \"predictor\": \"\",\n    \"measureTop\": 1\n", "\"target\": \"\"\n", StringComparison.Ordinal);
        Assert.NotEqual(all, before);
        Assert.Equal(before, SettingsLoader.DefinitionJson(settings));
        var predicting = settings with { Latency = settings.Latency with { Predictor = "table:t.json", MeasureTop = 0.5 } };
        Assert.Contains("\"predictor\": \"table:t.json\"", SettingsLoader.DefinitionJson(predicting), StringComparison.Ordinal);
        Assert.Equal(predicting.Latency, SettingsLoader.DefinitionFromJson(SettingsLoader.DefinitionJson(predicting)).Latency);
    }

    [Theory]
    [InlineData(0.25, 8, 2)]
    [InlineData(0.25, 7, 2)]
    [InlineData(0.3, 10, 3)]
    [InlineData(0.1, 10, 1)]
    [InlineData(1, 5, 5)]
    [InlineData(0.01, 3, 1)]
    [InlineData(0.5, 0, 0)]
    public void The_selection_measures_the_ceiling_of_F_times_n(double fraction, int trained, int measured) =>
        Assert.Equal(measured, Decisions.MeasurementSelection.Count(fraction, trained));

    [Fact]
    public void The_selection_ranks_by_predicted_reward_with_ties_to_the_lower_trial_id()
    {
        // Trials 5 and 2 tie (same accuracy and prediction); 9 is best, 7 worst.
        var (ranked, chosen) = Decisions.MeasurementSelection.Select([(5, 0.7, 60.0), (9, 0.8, 60.0), (2, 0.7, 60.0), (7, 0.6, 90.0)], 0.75, TargetMs, -0.07, -0.07);
        Assert.Equal([9L, 2, 5, 7], ranked.Select(r => r.TrialId));
        Assert.Equal([2L, 5, 9], chosen);
        Assert.Equal(Reward(0.6, 90), ranked[^1].PredictedReward, 12);
    }

    [Fact]
    public async Task With_a_quarter_measured_two_trials_of_each_batch_of_8_go_to_the_device_the_top_two_by_predicted_reward()
    {
        using var dir = new TempDir();
        var table = await SimulatedTable.WriteAsync(dir.File("sim-table.json"));
        await Run(Predicting(dir.Path, "quarter", table, 0.25));

        var events = Events(dir.Path, "quarter");
        var sampled = events.OfType<BatchSampled>().SelectMany(b => b.Trials).ToDictionary(t => t.TrialId);
        var accuracy = events.OfType<TrialTrained>().ToDictionary(t => t.TrialId, t => t.Record.Accuracy);
        var predicted = events.OfType<LatencyPredicted>().ToDictionary(p => p.TrialId);
        var measured = events.OfType<LatencyMeasured>().ToDictionary(m => m.TrialId, m => m.Record.MedianMs);
        var rewards = events.OfType<RewardComputed>().ToDictionary(r => r.TrialId, r => r.Inputs);
        var lookup = LatencyTable.Load(table);

        Assert.Equal(24, predicted.Count);
        var started = (SearchStarted)events[0];
        Assert.Equal("sim-table.json", started.Predictor!.File);
        Assert.Equal(Backends.LatencyPredictor.Sha256Of(table), started.Predictor.Sha256);
        foreach (var (id, p) in predicted)
        {
            Assert.Equal(started.Predictor, p.Table);
            Assert.Equal(lookup.Predict(MnasNetSearchSpace.Default.Decode(sampled[id].Tokens), new NetworkOptions(Resolution: 224)).TotalMs, p.PredictedMs);
        }
        // The surrogate-model table predicts the simulated device's noise-free latency; the device adds its noise (2 %).
        foreach (var (id, ms) in measured)
        {
            var noiseFree = new Controller.SurrogateObjective().Evaluate(sampled[id].Tokens).LatencyMs;
            Assert.Equal(noiseFree, predicted[id].PredictedMs, noiseFree * 1e-9);
            Assert.InRange(ms / predicted[id].PredictedMs, 0.9, 1.1);
        }

        var selections = events.OfType<MeasurementSelected>().ToList();
        Assert.Equal([0, 1, 2], selections.Select(s => s.Batch));
        foreach (var selection in selections)
        {
            var batch = sampled.Values.Where(t => t.TrialId / 8 == selection.Batch).Select(t => t.TrialId).ToList();
            var expectedTop = batch.OrderByDescending(id => Reward(accuracy[id], predicted[id].PredictedMs)).ThenBy(id => id).Take(2).Order().ToList();
            Assert.Equal(expectedTop, selection.Chosen);
            Assert.Equal(0.25, selection.Fraction);
            Assert.Equal(8, selection.Ranked.Count);
            var dispatched = events.OfType<TrialDispatched>().Where(d => d.Kind == WorkKind.Measure && batch.Contains(d.TrialId)).Select(d => d.TrialId).Order().ToList();
            Assert.Equal(expectedTop, dispatched);
            foreach (var id in batch)
            {
                var inputs = rewards[id];
                if (expectedTop.Contains(id))
                {
                    Assert.Equal(LatencySources.Measured, inputs.LatencySource);
                    Assert.Equal(measured[id], inputs.LatencyMs);
                    AssertClose(Reward(accuracy[id], measured[id]), inputs.Reward);
                }
                else
                {
                    Assert.Equal(LatencySources.Predicted, inputs.LatencySource);
                    Assert.Equal(predicted[id].PredictedMs, inputs.LatencyMs);
                    AssertClose(Reward(accuracy[id], predicted[id].PredictedMs), inputs.Reward);
                    Assert.False(measured.ContainsKey(id));
                }
            }
        }
    }

    [Fact]
    public async Task Measuring_every_trial_still_journals_every_prediction_and_each_reward_uses_the_measured_latency()
    {
        using var dir = new TempDir();
        var table = await SimulatedTable.WriteAsync(dir.File("table.json"));
        await Run(Predicting(dir.Path, "all", table, 1, batches: 2));

        var events = Events(dir.Path, "all");
        Assert.Equal(16, events.OfType<LatencyPredicted>().Count());
        Assert.Equal(16, events.OfType<TrialDispatched>().Count(d => d.Kind == WorkKind.Measure));
        Assert.All(events.OfType<MeasurementSelected>(), s => Assert.Equal(8, s.Chosen.Count));
        var measured = events.OfType<LatencyMeasured>().ToDictionary(m => m.TrialId, m => m.Record.MedianMs);
        Assert.All(events.OfType<RewardComputed>(), r =>
        {
            Assert.Equal(LatencySources.Measured, r.Inputs.LatencySource);
            Assert.Equal(measured[r.TrialId], r.Inputs.LatencyMs);
        });
        // The barrier: no measurement of a batch starts before its last training is journaled.
        foreach (var batch in events.OfType<BatchSampled>())
        {
            var ids = batch.Trials.Select(t => t.TrialId).ToHashSet();
            var lastTrained = events.OfType<TrialTrained>().Where(t => ids.Contains(t.TrialId)).Max(t => t.At!.Value);
            Assert.All(events.OfType<TrialDispatched>().Where(d => d.Kind == WorkKind.Measure && ids.Contains(d.TrialId)), d => Assert.True(d.At >= lastTrained));
        }
    }

    [Fact]
    public async Task A_search_killed_mid_batch_resumes_with_its_selection_journaled_once_and_the_journal_of_an_uninterrupted_run()
    {
        using var dir = new TempDir();
        var table = await SimulatedTable.WriteAsync(dir.File("table.json"));
        var settings = Predicting(dir.Path, "killed", table, 0.25);
        await Run(settings);
        var straight = Simulated.Fingerprint(dir.Path, "killed");

        // The process dies right after batch 0's selection and three rewards of its skipped trials: the two chosen
        // trials are being measured, nothing after that point is journaled.
        var entries = JournalReader.ReadEvents(dir.Path, "killed");
        var selectedAt = entries.First(e => e.Event is MeasurementSelected).SequenceNr;
        using var killed = new TempDir();
        JournalCut.CopyUpTo(dir.Path, killed.Path, "killed", entries.Where(e => e.Event is RewardComputed && e.SequenceNr > selectedAt).ElementAt(2).SequenceNr);
        var before = Events(killed.Path, "killed");
        Assert.Single(before.OfType<MeasurementSelected>());
        Assert.Equal(3, before.OfType<RewardComputed>().Count());
        Assert.Equal(2, before.OfType<TrialDispatched>().Count(d => d.Kind == WorkKind.Measure));
        Assert.Empty(before.OfType<LatencyMeasured>());

        await Run(SearchRunner.SettingsOf(killed.Path, "killed", settings.Node), resume: true);
        var after = Events(killed.Path, "killed");
        Assert.Single(after.OfType<SearchResumed>());
        Assert.Equal([0, 1, 2], after.OfType<MeasurementSelected>().Select(s => s.Batch));
        Assert.Equal(Serialization.SearchJson.ToBinary(before.OfType<MeasurementSelected>().Single()), Serialization.SearchJson.ToBinary(after.OfType<MeasurementSelected>().First()));
        Assert.Equal(24, after.OfType<LatencyPredicted>().Count());
        Assert.Equal(24, after.OfType<LatencyPredicted>().Select(p => p.TrialId).Distinct().Count());
        Assert.Equal(straight, Simulated.Fingerprint(killed.Path, "killed"));
    }

    [Fact]
    public async Task Resume_refuses_a_changed_or_missing_table_and_journals_nothing()
    {
        using var dir = new TempDir();
        var table = await SimulatedTable.WriteAsync(dir.File("table.json"));
        await Run(Predicting(dir.Path, "changed", table, 0.5));
        using var killed = new TempDir();
        JournalCut.CopyUpTo(dir.Path, killed.Path, "changed", JournalReader.ReadEvents(dir.Path, "changed").First(e => e.Event is MeasurementSelected).SequenceNr);
        var journaled = ((SearchStarted)Events(killed.Path, "changed")[0]).Predictor!.Sha256;
        var count = Events(killed.Path, "changed").Count;

        await SimulatedTable.WriteAsync(table, seed: 7);
        var now = Backends.LatencyPredictor.Sha256Of(table);
        Assert.NotEqual(journaled, now);
        var r = await InProcessCli.RunAsync("resume", "changed", "--journal-dir", killed.Path);
        Assert.Equal(3, r.ExitCode);
        Assert.Contains("table.json", r.ErrorLine);
        Assert.Contains(journaled, r.ErrorLine);
        Assert.Contains(now, r.ErrorLine);
        Assert.Equal(count, Events(killed.Path, "changed").Count);

        File.Delete(table);
        r = await InProcessCli.RunAsync("resume", "changed", "--journal-dir", killed.Path);
        Assert.Equal(4, r.ExitCode);
        Assert.Contains("table.json", r.ErrorLine);
        Assert.Contains("not found", r.ErrorLine);
        Assert.Equal(count, Events(killed.Path, "changed").Count);
    }
}
