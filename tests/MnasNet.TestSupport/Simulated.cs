using MnasNet.Actors.Journal;
using MnasNet.Actors.Settings;
using MnasNet.Actors.State;

namespace MnasNet.TestSupport;

/// <summary>Small simulated searches (no libtorch, no data): their settings, config files and fingerprints.</summary>
public static class Simulated
{
    /// <summary>
    /// Small simulated search settings; every test passes its own journal directory. <paramref name="clock"/>: real
    /// where a test needs work to take wall time (a process killed or paused while trials run).
    /// </summary>
    public static SearchSettings Settings(string dir, string id = "sim", int batchSize = 8, int batches = 5, double trainSeconds = 0, SimulationClock clock = SimulationClock.Virtual) =>
        SettingsValidation.Validate(new SearchSettings
        {
            Id = id,
            Seed = 11,
            Mode = SearchMode.Simulated,
            BatchSize = batchSize,
            Batches = batches,
            Reward = new RewardSettings { Preset = RewardExponents.Soft, TargetMs = 80 },
            Latency = new LatencySettings { Backend = "simulated", Runs = 5 },
            Simulation = new SimulationSettings { TrainSeconds = trainSeconds, Clock = clock },
            Journal = new JournalSettings { Directory = dir, SnapshotEvery = 2 },
            Workers = new WorkerSettings { Trainers = 2, Devices = 2, LeaseTimeoutSeconds = 30, PauseGraceSeconds = 10 },
            Logging = new LoggingSettings { Level = "Warning", Console = false },
        });

    public static string WriteConfig(TempDir dir, SearchSettings settings)
    {
        var path = dir.File($"{settings.Id}.json");
        File.WriteAllText(path, SettingsLoader.ToJson(settings));
        return path;
    }

    /// <summary>What must be identical between an interrupted and an uninterrupted run.</summary>
    public static (string Trials, string Hash) Fingerprint(string dir, string id) => Fingerprint(id, JournalReader.ReadEvents(dir, id));

    public static (string Trials, string Hash) Fingerprint(string id, IReadOnlyList<JournalEntry> events)
    {
        var s = SearchSummary.From(id, events);
        var trials = string.Join("\n", s.Trials.Select(t =>
            $"{t.TrialId}:{string.Join(",", t.Tokens)}:{BitConverter.DoubleToInt64Bits(t.LogProb)}:{t.Accuracy:R}:{t.LatencyMs:R}:{t.Reward:R}:{t.Failed}"));
        return (trials, $"{s.Status}/{s.FinalPolicyHash}/{string.Join(",", s.Batches.Select(b => $"{b.Step}:{b.ParameterHash}"))}");
    }
}
