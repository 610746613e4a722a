using Akka.Actor;
using MnasNet.Actors.Backends;
using MnasNet.Actors.Journal;
using MnasNet.Actors.Protocol;
using MnasNet.Actors.Settings;
using MnasNet.Actors.State;
using MnasNet.Cli;
using MnasNet.Controller;

namespace MnasNet.Actors.Tests;

/// <summary>
/// A search with two target platforms: each trial is measured on a device of each, the reward is the multi-device
/// product, and the audit recomputes it from the journal.
/// </summary>
public sealed class MultiDeviceTests(TempDir root)
    : SearchControllerTestKit("multi-device-tests", root, dir => Simulated.Settings(dir, "multi", batchSize: 2, batches: 1) with
    {
        Latency = new LatencySettings { Target = "simulated:name=big@80; simulated:name=little@40" },
        Workers = new WorkerSettings { Trainers = 1, Devices = 1, LeaseTimeoutSeconds = 30, PauseGraceSeconds = 1 },
    }), IClassFixture<TempDir>
{
    [Fact]
    public void Targets_parse_with_their_own_latency_targets()
    {
        var targets = DevicePlatform.TargetsOf(Settings);
        Assert.Equal([("simulated:name=big", 80.0), ("simulated:name=little", 40.0)], targets.Select(t => (t.Platform.ToString(), t.TargetMs)));
        Assert.Contains("'@fast' is not a positive latency target", Assert.Throws<SettingsException>(() =>
            DevicePlatform.TargetsOf(Settings with { Latency = new LatencySettings { Target = "simulated@fast" } })).Message);
        Assert.Contains("names 'simulated' twice", Assert.Throws<SettingsException>(() =>
            DevicePlatform.TargetsOf(Settings with { Latency = new LatencySettings { Target = "simulated;simulated@3" } })).Message);
    }

    [Fact]
    public void The_multi_device_reward_is_the_product_over_targets_and_one_device_is_the_single_form()
    {
        var r = MnasNetReward.Compute(0.7, [new DeviceLatency("a", 100, 80, 0), new DeviceLatency("b", 30, 40, 0)], -0.07, -0.07, failed: false);
        Assert.Equal(0.7 * Math.Pow(100 / 80.0, -0.07) * Math.Pow(30 / 40.0, -0.07), r.Reward, 15);
        Assert.Equal([-0.07, -0.07], r.Devices!.Select(d => d.Exponent));
        var again = MnasNetReward.Recompute(r);
        Assert.Equal((r.Reward, r.Exponent, r.Failed), (again.Reward, again.Exponent, again.Failed));
        Assert.Equal(r.Devices, again.Devices);
        var single = MnasNetReward.Compute(0.7, [new DeviceLatency("a", 100, 80, 0)], -0.07, -0.07, failed: false);
        Assert.Equal(MnasNetReward.Compute(0.7, 100, 80, -0.07, -0.07, failed: false), single);
        Assert.Null(single.Devices);
        Assert.True(MnasNetReward.Compute(0.7, [new DeviceLatency("a", 100, 80, 0), new DeviceLatency("b", 0, 40, 0)], -0.07, -0.07, failed: false).Failed);
        Assert.Equal(RewardFormula.Compute(0.7, [100.0, 30.0], [new LatencyTarget("a", 80, -0.07, -0.07), new LatencyTarget("b", 40, -0.07, -0.07)]).Reward, r.Reward);
    }

    [Fact]
    public async Task Each_trial_is_measured_on_a_device_of_every_target_and_the_audit_verifies_the_product_reward()
    {
        var trainer = CreateTestProbe();
        var big = CreateTestProbe();
        var little = CreateTestProbe();
        var other = CreateTestProbe();
        other.Send(Controller, new RequestWork(WorkKind.Measure, "other", "simulated:name=medium"));
        big.Send(Controller, new RequestWork(WorkKind.Measure, "big", "simulated:name=big"));
        little.Send(Controller, new RequestWork(WorkKind.Measure, "little", "simulated:name=little,speed=4"));
        var latencies = new Dictionary<(long, int), double>();
        foreach (var (probe, name, ms) in new[] { (big, "big", 100.0), (little, "little", 30.0) })
        {
            for (var n = 0; n < 2; n++)
            {
                var offer = await probe.ExpectMsgAsync<WorkOffer>(TimeSpan.FromSeconds(10));
                Assert.Equal(name == "big" ? 0 : 1, offer.Target);
                latencies[(offer.TrialId, offer.Target)] = ms + offer.TrialId;
                probe.Send(Controller, new MeasurementDone("multi", offer.TrialId, offer.Attempt, name, Measured(ms + offer.TrialId), offer.Target));
                probe.Send(Controller, new RequestWork(WorkKind.Measure, name, name == "big" ? "simulated:name=big" : "simulated:name=little,speed=4"));
            }
        }
        await other.ExpectNoMsgAsync(TimeSpan.FromMilliseconds(100));
        trainer.Send(Controller, new RequestWork(WorkKind.Train, "t"));
        for (var n = 0; n < 2; n++)
        {
            var offer = await trainer.ExpectMsgAsync<WorkOffer>();
            trainer.Send(Controller, new TrainingDone("multi", offer.TrialId, offer.Attempt, "t", Trained(0.6)));
            trainer.Send(Controller, new RequestWork(WorkKind.Train, "t"));
        }

        await AwaitConditionAsync(() => Task.FromResult(Stopped() is not null), TimeSpan.FromSeconds(10));
        Assert.Equal("completed", Stopped()!.Status);
        var events = JournalReader.ReadEvents(JournalDirectory, "multi").Select(e => e.Event).ToList();
        Assert.Equal(4, events.OfType<LatencyMeasured>().Count());
        Assert.Equal([0, 0, 1, 1], events.OfType<LatencyMeasured>().Select(m => m.Target).Order());
        foreach (var reward in events.OfType<RewardComputed>())
        {
            var (a, b) = (latencies[(reward.TrialId, 0)], latencies[(reward.TrialId, 1)]);
            Assert.Equal([("simulated:name=big", a, 80.0), ("simulated:name=little", b, 40.0)], reward.Inputs.Devices!.Select(d => (d.Platform, d.LatencyMs, d.TargetMs)));
            Assert.Equal(0.6 * Math.Pow(a / 80, -0.07) * Math.Pow(b / 40, -0.07), reward.Inputs.Reward, 15);
        }

        var replay = await InProcessCli.RunAsync("replay", "multi", "--journal-dir", JournalDirectory, "--verify");
        Assert.True(replay.ExitCode == ExitCodes.Success, replay.Output + replay.Error);
        Assert.Contains("2/2", replay.Output);
        var hard = await InProcessCli.RunAsync("replay", "multi", "--journal-dir", JournalDirectory, "--what-if", "reward=hard");
        Assert.True(hard.ExitCode == ExitCodes.Success, hard.Output + hard.Error);
        var oneT = await InProcessCli.RunAsync("replay", "multi", "--journal-dir", JournalDirectory, "--what-if", "target-ms=50");
        Assert.Equal(ExitCodes.InvalidInput, oneT.ExitCode);
        Assert.Contains("2 target platforms", oneT.Error);

        // The second target's latency of one trial changed in the journal: the audit names that target's mismatch.
        var db = JournalFiles.Database(JournalDirectory, "multi");
        using (var connection = new Microsoft.Data.Sqlite.SqliteConnection($"Data Source={db};Pooling=False"))
        {
            connection.Open();
            using var read = connection.CreateCommand();
            read.CommandText = "SELECT sequence_number, message FROM journal WHERE manifest = 'latency-measured.v1'";
            var rows = new List<(long Seq, System.Text.Json.Nodes.JsonObject Payload)>();
            using (var reader = read.ExecuteReader())
            {
                while (reader.Read())
                {
                    rows.Add((reader.GetInt64(0), System.Text.Json.Nodes.JsonNode.Parse((byte[])reader.GetValue(1))!.AsObject()));
                }
            }
            var (seq, payload) = rows.First(r => (int?)r.Payload["target"] == 1);
            payload["record"]!["medianMs"] = 31.5;
            using var write = connection.CreateCommand();
            write.CommandText = "UPDATE journal SET message = $m WHERE sequence_number = $s";
            write.Parameters.AddWithValue("$m", System.Text.Encoding.UTF8.GetBytes(payload.ToJsonString()));
            write.Parameters.AddWithValue("$s", seq);
            Assert.Equal(1, write.ExecuteNonQuery());
        }
        var tampered = await InProcessCli.RunAsync("replay", "multi", "--journal-dir", JournalDirectory, "--verify");
        Assert.Equal(ExitCodes.VerificationFailed, tampered.ExitCode);
        Assert.Contains("simulated:name=little: LAT 31.5 ms", tampered.Output + tampered.Error);
    }

}
