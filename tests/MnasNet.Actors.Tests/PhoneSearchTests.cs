using MnasNet.Actors.Backends;
using MnasNet.Actors.Hosting;
using MnasNet.Actors.Journal;
using MnasNet.Actors.Protocol;
using MnasNet.Actors.Settings;
using MnasNet.Cli;
using MnasNet.SearchSpace;
using MnasNet.TestSupport.Adb;

namespace MnasNet.Actors.Tests;

/// <summary>
/// Searches measuring on a phone: the real adb server, the protocol-level phone attached with adb connect, TFLite
/// models from the real exporter, simulated training. Each journal passes replay --verify.
/// </summary>
public sealed class PhoneSearchTests(AdbServer server) : IClassFixture<AdbServer>
{
    /// <summary>Simulated training (fast, deterministic) with the phone as the device.</summary>
    private sealed class PhoneBackends(SearchSettings settings) : IBackendFactory
    {
        private readonly SimulatedBackendFactory _simulated = new(settings, MnasNetSearchSpace.Default);

        public ITrainerBackend CreateTrainer(int index) => _simulated.CreateTrainer(index);

        public IDeviceBackend CreateDevice(int index) => new RealBackendFactory(settings, MnasNetSearchSpace.Default, settings.Journal.Directory).CreateDevice(index);
    }

    private SearchSettings Settings(TempDir dir, FakePhone phone, string id, string target = "android:model=Pixel@40") =>
        SettingsValidation.Validate(new SearchSettings
        {
            Id = id,
            Seed = 5,
            Mode = SearchMode.Real,
            Strategy = "ppo-tabular",
            BatchSize = 3,
            Batches = 2,
            Reward = new RewardSettings { Preset = RewardExponents.Soft, TargetMs = 40 },
            Latency = new LatencySettings { Backend = $"adb:serial={phone.Serial},server=127.0.0.1:{server.Port}", Resolution = 32, Warmup = 1, Runs = 4, Target = target },
            Journal = new JournalSettings { Directory = dir.Path, SnapshotEvery = 1 },
            Workers = new WorkerSettings { Trainers = 1, Devices = 1, LeaseTimeoutSeconds = 120, RetryDelaySeconds = 0.2 },
            Logging = new LoggingSettings { Level = "Warning", Console = false },
        });

    private static List<ISearchEvent> Events(TempDir dir, string id) => [.. JournalReader.ReadEvents(dir.Path, id).Select(e => e.Event)];

    private static async Task AssertReplayVerifies(TempDir dir, string id)
    {
        var replay = await InProcessCli.RunAsync("replay", id, "--journal-dir", dir.Path, "--verify");
        Assert.True(replay.ExitCode == ExitCodes.Success, replay.Output + replay.Error);
    }

    [Fact]
    public async Task A_search_measures_every_trial_on_the_phone_and_journals_the_phone_with_it()
    {
        await using var phone = new FakePhone();
        await server.AttachAsync(phone);
        using var dir = new TempDir();
        var settings = Settings(dir, phone, "phone");
        var outcome = await SearchRunner.RunAsync(settings, resume: false, backends: new PhoneBackends(settings));
        Assert.Equal("completed", outcome.Status);

        var events = Events(dir, "phone");
        var measured = events.OfType<LatencyMeasured>().ToList();
        Assert.Equal(6, measured.Count);
        Assert.Empty(events.OfType<TrialFailed>());
        Assert.All(measured, m =>
        {
            var r = m.Record;
            Assert.Equal("adb", r.Backend);
            Assert.Equal($"adb:{phone.Serial}/t1", r.DeviceId);
            Assert.Equal(4, r.Runs);
            var device = r.Device!;
            Assert.Equal(("Pixel", "arm64-v8a", "29", "schedutil"), (device["model"], device["abi"], device["sdk"], device["governor"]));
            Assert.Equal(phone.Properties["ro.build.fingerprint"], device["fingerprint"]);
            Assert.Equal("35.0", device["temperatureC"]);
            // The median is what the phone printed for the very TFLite file it was sent.
            var model = phone.PushedModel(device);
            Assert.Equal(FakePhone.LatencyUs(model) / 1000, r.MedianMs, 1e-3);
            Assert.Equal("TFL3", System.Text.Encoding.ASCII.GetString(model, 4, 4));
        });
        Assert.Equal(events.OfType<BatchSampled>().SelectMany(b => b.Trials).Select(t => t.ArchitectureId).Distinct().Count(), phone.Pushes);
        Assert.All(events.OfType<RewardComputed>(), r => Assert.False(r.Inputs.Failed));
        await AssertReplayVerifies(dir, "phone");
    }

    [Fact]
    public async Task A_phone_that_drops_off_mid_measurement_is_retried_and_the_trial_is_not_failed()
    {
        await using var phone = new FakePhone();
        await server.AttachAsync(phone);
        var drops = 0;
        phone.Intercept = c => c.Contains("benchmark_model", StringComparison.Ordinal) && Interlocked.Increment(ref drops) is 2 or 3 ? FakeShellResult.Dropped : null;
        using var dir = new TempDir();
        var settings = Settings(dir, phone, "drop");
        var outcome = await SearchRunner.RunAsync(settings, resume: false, backends: new PhoneBackends(settings));
        Assert.Equal("completed", outcome.Status);

        var events = Events(dir, "drop");
        Assert.Empty(events.OfType<TrialFailed>());
        Assert.Equal(6, events.OfType<LatencyMeasured>().Count());
        Assert.All(events.OfType<RewardComputed>(), r => Assert.False(r.Inputs.Failed));
        Assert.True(drops >= 8, $"benchmark_model ran {drops} times: the dropped runs were retried");
        Assert.True(phone.Connections >= 3, $"{phone.Connections} transport connections: the phone was reconnected after each drop");
        await AssertReplayVerifies(dir, "drop");
    }

    [Fact]
    public async Task A_model_that_fails_on_the_phone_is_a_journaled_failure_with_benchmark_model_s_message()
    {
        await using var phone = new FakePhone();
        await server.AttachAsync(phone);
        var runs = 0;
        phone.Intercept = c => c.Contains("benchmark_model", StringComparison.Ordinal) && Interlocked.Increment(ref runs) == 1
            ? new FakeShellResult("INFO: STARTING!\n", "ERROR: Node number 12 (CONV_2D) failed to prepare.\nERROR: Failed to allocate tensors!\n", 1)
            : null;
        using var dir = new TempDir();
        var settings = Settings(dir, phone, "fail");
        var outcome = await SearchRunner.RunAsync(settings, resume: false, backends: new PhoneBackends(settings));
        Assert.Equal("completed", outcome.Status);

        var events = Events(dir, "fail");
        var failed = Assert.Single(events.OfType<TrialFailed>());
        Assert.Equal(WorkKind.Measure, failed.Kind);
        Assert.Contains("benchmark_model failed (exit 1)", failed.Reason, StringComparison.Ordinal);
        Assert.Contains("Failed to allocate tensors", failed.Reason, StringComparison.Ordinal);
        Assert.True(Assert.Single(events.OfType<RewardComputed>(), r => r.TrialId == failed.TrialId).Inputs.Failed);
        Assert.Equal(5, events.OfType<LatencyMeasured>().Count());
        Assert.Equal(6, runs);
        await AssertReplayVerifies(dir, "fail");
    }

    [Fact]
    public async Task A_phone_that_stays_away_fails_the_trial_as_infrastructure_after_the_configured_attempts()
    {
        await using var phone = new FakePhone();
        await server.AttachAsync(phone);
        string? away = null;
        // Every run of the first model measured is dropped: the device worker tries twice per dispatch, the controller dispatches twice.
        phone.Intercept = c =>
        {
            if (!c.Contains("benchmark_model", StringComparison.Ordinal))
            {
                return null;
            }
            var graph = c.Split(' ').First(t => t.StartsWith("--graph=", StringComparison.Ordinal));
            Interlocked.CompareExchange(ref away, graph, null);
            return graph == away ? FakeShellResult.Dropped : null;
        };
        using var dir = new TempDir();
        var settings = Settings(dir, phone, "away") with { Workers = new WorkerSettings { Trainers = 1, Devices = 1, LeaseTimeoutSeconds = 120, MaxAttempts = 2, RetryDelaySeconds = 0.1 } };
        var outcome = await SearchRunner.RunAsync(settings, resume: false, backends: new PhoneBackends(settings));
        Assert.Equal("completed", outcome.Status);
        var events = Events(dir, "away");
        // Seen once in CI (not reproduced alone): no retry journaled. Say what happened instead.
        var expiries = events.OfType<TrialLeaseExpired>().ToList();
        Assert.True(expiries.Count == 1, $"expected one infrastructure retry; lease expiries and failures: {string.Join("; ", events.Where(e => e is TrialLeaseExpired or TrialFailed))}; phone commands: {string.Join(" | ", phone.Commands)}");
        var retried = expiries[0];
        Assert.StartsWith("infrastructure fault, attempt 1 of 2: device unavailable after 2 attempts: ", retried.Reason, StringComparison.Ordinal);
        var failed = Assert.Single(events.OfType<TrialFailed>());
        Assert.Equal((retried.TrialId, FailureCause.Infrastructure), (failed.TrialId, failed.Cause));
        Assert.StartsWith("infrastructure fault on every one of 2 attempts: device unavailable after 2 attempts: ", failed.Reason, StringComparison.Ordinal);
        Assert.DoesNotContain(events, e => e is RewardComputed r && r.TrialId == failed.TrialId);
        await AssertReplayVerifies(dir, "away");
    }

    [Fact]
    public async Task A_target_naming_another_phone_model_is_refused_before_the_journal_is_touched()
    {
        await using var phone = new FakePhone();
        await server.AttachAsync(phone);
        using var dir = new TempDir();
        var settings = Settings(dir, phone, "other", target: "android:model=Galaxy-S9@40");
        var e = await Assert.ThrowsAsync<SettingsException>(() => SearchRunner.RunAsync(settings, resume: false, backends: new PhoneBackends(settings)));
        Assert.Contains("android:model=Galaxy-S9", e.Message, StringComparison.Ordinal);
        Assert.Contains("model=Pixel", e.Message, StringComparison.Ordinal);
        Assert.False(File.Exists(JournalFiles.Database(dir.Path, "other")));
    }

    [Fact]
    public async Task Mnasnet_devices_lists_each_phone_with_the_platform_a_search_targets()
    {
        await using var phone = new FakePhone(model: "Pixel 3a");
        await using var locked = new FakePhone(unauthorized: true);
        await server.AttachAsync(phone);
        await server.AttachAsync(locked, state: "unauthorized");
        var text = await InProcessCli.RunAsync("devices", "--server", $"127.0.0.1:{server.Port}");
        Assert.True(text.ExitCode == ExitCodes.Success, text.Error);
        Assert.Contains($"target: android:abi=arm64-v8a,model=Pixel-3a,sdk=29,serial={phone.Serial},threads=1,xnnpack=on", text.Output, StringComparison.Ordinal);
        Assert.Contains("big cores 2-3 (mask c)", text.Output, StringComparison.Ordinal);
        Assert.Contains($"{locked.Serial}  unauthorized", text.Output, StringComparison.Ordinal);
        Assert.Contains("Allow USB debugging", text.Output, StringComparison.Ordinal);

        var json = await InProcessCli.RunAsync("devices", "--server", $"127.0.0.1:{server.Port}", "--json", "--threads", "2");
        using var doc = System.Text.Json.JsonDocument.Parse(json.Output);
        var row = doc.RootElement.GetProperty("devices").EnumerateArray().Single(d => d.GetProperty("serial").GetString() == phone.Serial);
        Assert.Equal("device", row.GetProperty("state").GetString());
        Assert.Equal("Pixel 3a", row.GetProperty("model").GetString());
        Assert.Equal("2-3", row.GetProperty("bigCores").GetString());
        var platform = DevicePlatform.Parse(row.GetProperty("platform").GetString()!);
        var targets = DevicePlatform.TargetsOf(new SearchSettings { Latency = new LatencySettings { Target = "android:model=Pixel-3a@75;tflite:threads=1@20" } });
        Assert.True(platform.Satisfies(targets[0].Platform));
        Assert.False(platform.Satisfies(targets[1].Platform));
        Assert.Equal(2, platform.Threads);
    }

    [Fact]
    public async Task No_adb_server_is_a_clear_error_from_mnasnet_devices()
    {
        var result = await InProcessCli.RunAsync("devices", "--server", "127.0.0.1:1");
        Assert.Equal(ExitCodes.Failure, result.ExitCode);
        Assert.Contains("no adb server at 127.0.0.1:1", result.Error, StringComparison.Ordinal);
    }

    [Fact]
    public void An_adb_backend_with_several_device_workers_is_refused()
    {
        var e = Assert.Throws<SettingsException>(() => SettingsValidation.Validate(new SearchSettings
        {
            Mode = SearchMode.Real,
            Latency = new LatencySettings { Backend = "adb:serial=127.0.0.1:5555" },
            Workers = new WorkerSettings { Devices = 2 },
        }));
        Assert.Contains("is one phone", e.Message, StringComparison.Ordinal);
        Assert.Contains("cores 'xyz'", Assert.Throws<SettingsException>(() => SettingsValidation.Validate(new SearchSettings
        {
            Mode = SearchMode.Real,
            Latency = new LatencySettings { Backend = "adb:cores=xyz" },
        })).Message, StringComparison.Ordinal);
        Assert.Equal("android:serial=127.0.0.1:5555,threads=1", DevicePlatform.TargetsOf(new SearchSettings { Latency = new LatencySettings { Backend = "adb:serial=127.0.0.1:5555" } })[0].Platform.ToString());
    }
}
