using System.Globalization;
using System.Text.Json;
using MnasNet.Actors.Backends;
using MnasNet.Actors.Journal;
using MnasNet.Actors.Protocol;
using MnasNet.Actors.Settings;
using MnasNet.Cli;
using MnasNet.TestSupport.Adb;

namespace MnasNet.Cluster.Tests;

/// <summary>
/// A clustered search measuring on a phone: real `mnasnet` processes (a controller node, a trainer node training
/// for real on generated CIFAR-10 data, a device node), a real PostgreSQL journal, and Debian's real adb server on a
/// private port with the protocol-level phone attached by <c>adb connect</c>. The device node finds the phone through
/// that adb server and measures every trial with its recorded benchmark_model output.
/// </summary>
public sealed class ClusterPhoneTests(PostgresServer postgres, AdbServer adb) : IClassFixture<PostgresServer>, IClassFixture<AdbServer>, IDisposable
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(120);
    private readonly TempDir _dir = new();
    private readonly List<MnasNetProcess> _processes = [];

    private static string P(int port) => port.ToString(CultureInfo.InvariantCulture);

    private MnasNetProcess Start(params string[] args)
    {
        var p = MnasNetProcess.Start(_dir.Path, new Dictionary<string, string> { [PostgresJournal.ConnectionEnvironmentVariable] = postgres.ConnectionString }, args);
        _processes.Add(p);
        return p;
    }

    /// <summary>The platform <c>mnasnet devices</c> prints for the phone: what an operator copies into latency.target.</summary>
    private async Task<string> PlatformOfAsync(FakePhone phone)
    {
        var devices = await InProcessCli.RunAsync("devices", "--server", $"127.0.0.1:{P(adb.Port)}", "--json");
        Assert.True(devices.ExitCode == ExitCodes.Success, devices.Error);
        using var json = JsonDocument.Parse(devices.Output);
        return json.RootElement.GetProperty("devices").EnumerateArray().Single(d => d.GetProperty("serial").GetString() == phone.Serial).GetProperty("platform").GetString()!;
    }

    [Fact]
    public async Task A_clustered_search_measures_every_trial_on_the_phone_of_its_device_node_and_replay_verifies_it()
    {
        await using var phone = new FakePhone();
        await adb.AttachAsync(phone);
        var platform = await PlatformOfAsync(phone);
        Assert.Equal($"android:abi=arm64-v8a,model=Pixel,sdk=29,serial={phone.Serial},threads=1,xnnpack=on", platform);

        const string id = "cluster-phone";
        var settings = SettingsValidation.Validate(new SearchSettings
        {
            Id = id,
            Seed = 7,
            Mode = SearchMode.Real,
            // The factorised policy: no libtorch in the controller node.
            Strategy = "ppo-tabular",
            BatchSize = 3,
            Batches = 2,
            Reward = new RewardSettings { Preset = RewardExponents.Soft, TargetMs = 40 },
            Dataset = new DatasetSettings { Spec = $"cifar10:{SyntheticCifar10.Directory}", TrainSize = 128, ValidationSize = 64 },
            Training = new TrainingSettings { Epochs = 1, BatchSize = 64, Width = 0.25, KeepWeights = false },
            // Every node reads this file: the device node takes its phones from latency.backend (no --device).
            Latency = new LatencySettings { Backend = $"adb:server=127.0.0.1:{P(adb.Port)}", Resolution = 32, Warmup = 1, Runs = 4, Target = $"{platform}@40" },
            Journal = new JournalSettings { Directory = _dir.Path, SnapshotEvery = 1, Provider = "postgresql" },
            Workers = new WorkerSettings { Trainers = 1, Devices = 1, LeaseTimeoutSeconds = 60, PauseGraceSeconds = 5, RetryDelaySeconds = 0.2 },
            Logging = new LoggingSettings { Level = "Information", Console = true },
            Cluster = new ClusterSettings { StableAfterSeconds = 7, HeartbeatIntervalSeconds = 0.5, AcceptableHeartbeatPauseSeconds = 5, WorkRequestIntervalSeconds = 0.5 },
        });
        var config = _dir.File($"{id}.json");
        await File.WriteAllTextAsync(config, SettingsLoader.ToJson(settings));

        var seedPort = PostgresServer.FreePort();
        var seed = $"akka.tcp://mnasnet@127.0.0.1:{P(seedPort)}";
        var controller = Start("search", "--cluster", "--config", config, "--id", id, "--port", P(seedPort), "--seed-nodes", seed);
        var trainer = Start("node", "--roles", "trainer", "--config", config, "--seed-nodes", seed, "--port", P(PostgresServer.FreePort()), "--trainers", "1");
        var devicePort = PostgresServer.FreePort();
        var device = Start("node", "--roles", "device", "--config", config, "--seed-nodes", seed, "--port", P(devicePort));

        var exit = await controller.WaitAsync(Bound);
        Assert.True(exit == 0, $"controller exited {exit}:\n{controller.Output}\ndevice node:\n{device.Output}\ntrainer node:\n{trainer.Output}");
        Assert.Contains("completed: 6 trials", controller.Output, StringComparison.Ordinal);

        var events = PostgresJournal.ReadEvents(postgres.ConnectionString, id).Select(e => e.Event).ToList();
        Assert.Empty(events.OfType<TrialFailed>());
        Assert.All(events.OfType<TrialTrained>(), t => Assert.Equal("torchsharp-proxy", t.Record.Backend));
        var measured = events.OfType<LatencyMeasured>().ToList();
        Assert.Equal(6, measured.Count);
        Assert.All(measured, m =>
        {
            Assert.Equal(0, m.Target);
            Assert.StartsWith("device-", m.Worker, StringComparison.Ordinal);
            Assert.EndsWith($"-{P(devicePort)}-0", m.Worker, StringComparison.Ordinal);
            var r = m.Record;
            Assert.Equal(("adb", $"adb:{phone.Serial}/t1", 32, 4), (r.Backend, r.DeviceId, r.Resolution, r.Runs));
            var d = r.Device!;
            Assert.Equal(("Pixel", "arm64-v8a", "29", "median"), (d["model"], d["abi"], d["sdk"], d["statistic"]));
            Assert.Equal(phone.Properties["ro.build.fingerprint"], d["fingerprint"]);
            // The journaled median is what the phone printed for the very TFLite file the device node pushed to it.
            var model = phone.PushedModel(d);
            Assert.Equal("TFL3", System.Text.Encoding.ASCII.GetString(model, 4, 4));
            Assert.Equal(FakePhone.LatencyUs(model) / 1000, r.MedianMs, 1e-3);
        });
        Assert.Contains(phone.Commands, c => c.StartsWith("taskset c /data/local/tmp/benchmark_model --graph=", StringComparison.Ordinal));
        var rewards = events.OfType<RewardComputed>().ToList();
        Assert.Equal(6, rewards.Count);
        Assert.All(rewards, r =>
        {
            Assert.False(r.Inputs.Failed);
            Assert.Equal(measured.Single(m => m.TrialId == r.TrialId).Record.MedianMs, r.Inputs.LatencyMs);
            Assert.Equal(40, r.Inputs.TargetMs);
        });
        var started = Assert.IsType<SearchStarted>(events[0]);
        var target = Assert.Single(DevicePlatform.TargetsOf(SettingsLoader.FromJson(started.SettingsJson)));
        Assert.Equal(platform, target.Platform.ToString());

        var connection = _dir.File("pg.conn");
        await File.WriteAllTextAsync(connection, postgres.ConnectionString);
        var replay = await InProcessCli.RunAsync("replay", id, "--provider", "postgresql", "--connection-string-file", connection, "--verify");
        Assert.True(replay.ExitCode == ExitCodes.Success, replay.Output + replay.Error);
        Assert.Contains("VERIFIED: every reward and every policy update reproduces from the journal", replay.Output, StringComparison.Ordinal);
        Assert.False(device.HasExited, device.Output);
    }

    public void Dispose()
    {
        foreach (var p in _processes)
        {
            p.Dispose();
        }
        _dir.Dispose();
    }
}
