using System.Globalization;
using System.Text.Json;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;
using MnasNet.Actors.Journal;
using MnasNet.Actors.Protocol;
using MnasNet.Actors.Settings;
using MnasNet.Latency.Tflite;
using MnasNet.SearchSpace;
using MnasNet.Torch;
using MnasNet.Training.Models;
using TorchSharp;

namespace MnasNet.Actors.Tests;

/// <summary>
/// <c>mnasnet train-final</c> from the command line: selection errors, a real run with its export (ONNX and TFLite run
/// in ONNX Runtime and the TFLite interpreter against the trained TorchSharp model, model card), status/report/replay,
/// and a killed run resumed.
/// </summary>
public sealed class TrainFinalCommandTests
{
    private static string Inv(long v) => v.ToString(CultureInfo.InvariantCulture);

    private static async Task<SearchSettings> SearchAsync(TempDir dir, string id)
    {
        var settings = Simulated.Settings(dir.Path, id, batchSize: 4, batches: 2) with { Threads = 1, Training = new TrainingSettings { Width = 0.25 } };
        var run = await InProcessCli.RunAsync("search", "--config", Simulated.WriteConfig(dir, settings), "--plain");
        Assert.True(run.ExitCode == 0, run.Error + run.Output);
        return settings;
    }

    private static string[] Final(TempDir dir, string id, int epochs, params string[] more)
    {
        var recipe = dir.File($"recipe-{epochs}.json");
        File.WriteAllText(recipe, $$"""{ "batchSize": 32, "epochs": {{epochs}} }""");
        return ["train-final", id, "--journal-dir", dir.Path, "--recipe", recipe, "--dataset", $"cifar10:{SyntheticCifar10.Directory}",
            "--resolution", "16", "--train-size", "128", .. more];
    }

    [Fact]
    public async Task Bad_selections_are_named_with_their_exit_codes_and_leave_the_journal_as_it_was()
    {
        using var dir = new TempDir();
        await SearchAsync(dir, "sel");
        var before = JournalReader.ReadEvents(dir.Path, "sel").Count;

        var missing = await InProcessCli.RunAsync("train-final", "nope", "--journal-dir", dir.Path);
        Assert.Equal(4, missing.ExitCode);
        Assert.Contains("no search 'nope'", missing.ErrorLine);
        var zero = await InProcessCli.RunAsync(Final(dir, "sel", 1, "--top", "0"));
        Assert.Equal((3, "error: --top must be at least 1, got 0"), (zero.ExitCode, zero.ErrorLine));
        var unknown = await InProcessCli.RunAsync(Final(dir, "sel", 1, "--trials", "2,99"));
        Assert.Equal(4, unknown.ExitCode);
        Assert.Contains("search 'sel' has no trial 99 (trials 0..7)", unknown.ErrorLine);
        var garbage = await InProcessCli.RunAsync(Final(dir, "sel", 1, "--trials", "2,x"));
        Assert.Equal(3, garbage.ExitCode);
        Assert.Contains("'x' is not a trial id", garbage.ErrorLine);
        var both = await InProcessCli.RunAsync(Final(dir, "sel", 1, "--top", "2", "--pareto"));
        Assert.Equal(3, both.ExitCode);
        Assert.Contains("one way", both.ErrorLine);
        var badEpochs = await InProcessCli.RunAsync(Final(dir, "sel", 1, "--epochs", "0"));
        Assert.Equal(3, badEpochs.ExitCode);
        Assert.Contains("epochs must be between 1 and 1000", badEpochs.ErrorLine);

        Assert.Equal(before, JournalReader.ReadEvents(dir.Path, "sel").Count);
    }

    [Fact]
    public async Task Train_final_exports_the_trained_network_and_status_report_and_replay_see_the_finalists()
    {
        using var dir = new TempDir();
        await SearchAsync(dir, "cli");
        var export = dir.File("export");
        var run = await InProcessCli.RunAsync(Final(dir, "cli", 2, "--top", "2", "--export", export));
        Assert.True(run.ExitCode == 0, run.Error + run.Output);
        Assert.Contains("proxy fidelity: Kendall tau", run.Output);

        var events = JournalReader.ReadEvents(dir.Path, "cli").Select(e => e.Event).ToList();
        var trained = events.OfType<FinalTrained>().ToList();
        var tokens = events.OfType<FinalTrainingStarted>().ToDictionary(e => e.TrialId, e => e.Tokens);
        Assert.Equal(2, trained.Count);
        foreach (var t in trained)
        {
            var trialDir = Path.Combine(export, $"trial-{t.TrialId}");
            using var card = JsonDocument.Parse(File.ReadAllText(Path.Combine(trialDir, "model-card.json")));
            var c = card.RootElement;
            Assert.Equal(("cli", t.TrialId), (c.GetProperty("searchId").GetString(), c.GetProperty("trial").GetInt64()));
            Assert.Equal(t.Record.Accuracy, c.GetProperty("finalAccuracy").GetDouble());
            Assert.True(c.GetProperty("proxyAccuracy").GetDouble() > 0);
            Assert.Equal((t.Record.Parameters, t.Record.Macs), (c.GetProperty("parameters").GetInt64(), c.GetProperty("macs").GetInt64()));
            Assert.Equal($"cifar10:{SyntheticCifar10.Directory}", c.GetProperty("dataset").GetString());
            Assert.Equal(2, c.GetProperty("recipe").GetProperty("epochs").GetInt32());
            Assert.True(c.GetProperty("latency")[0].GetProperty("latencyMs").GetDouble() > 0);
            Assert.Equal(t.Record.BestCheckpointSha256, c.GetProperty("checkpointSha256").GetString());
            AssertExportsMatchTheTrainedModel(Path.Combine(trialDir, $"trial-{t.TrialId}"), tokens[t.TrialId], t.Record);
        }

        var status = await InProcessCli.RunAsync("status", "cli", "--journal-dir", dir.Path);
        Assert.Contains("final       completed: 2/2 finalists trained, 0 failed", status.Output);
        var report = await InProcessCli.RunAsync("report", "cli", "--journal-dir", dir.Path, "--out", dir.File("report"), "--json");
        Assert.Equal(0, report.ExitCode);
        using (var doc = JsonDocument.Parse(report.Output))
        {
            Assert.Equal(trained.Select(t => t.TrialId).Order(), doc.RootElement.GetProperty("finalists").EnumerateArray().Select(f => f.GetProperty("trialId").GetInt64()).Order());
            Assert.True(doc.RootElement.TryGetProperty("proxyFidelityTau", out _));
        }
        Assert.True(File.Exists(Path.Combine(dir.File("report"), "proxy-vs-final.png")));
        var replay = await InProcessCli.RunAsync("replay", "cli", "--journal-dir", dir.Path, "--verify");
        Assert.True(replay.ExitCode == 0, replay.Error + replay.Output);
        Assert.Contains("finalists (train-final), 2:", replay.Output);

        // export-trial of a finalist writes the trained network too.
        var one = trained[0];
        var again = await InProcessCli.RunAsync("export-trial", "cli", "--journal-dir", dir.Path, "--trial", Inv(one.TrialId), "--out", dir.File("one"));
        Assert.True(again.ExitCode == 0, again.Error + again.Output);
        Assert.True(File.Exists(dir.File(Path.Combine("one", "model-card.json"))));
        foreach (var format in new[] { "onnx", "tflite" })
        {
            Assert.Equal(File.ReadAllBytes(Path.Combine(export, $"trial-{one.TrialId}", $"trial-{one.TrialId}.{format}")), File.ReadAllBytes(Path.Combine(dir.File("one"), $"trial-{one.TrialId}.{format}")));
        }
        AssertExportsMatchTheTrainedModel(Path.Combine(dir.File("one"), $"trial-{one.TrialId}"), tokens[one.TrialId], one.Record);
    }

    /// <summary>
    /// The exported ONNX (NCHW input) and TFLite (NHWC input, run in the TFLite 2.9 interpreter with XNNPACK) give the
    /// trained TorchSharp network's logits for the same image; <paramref name="stem"/> is the export's path without extension.
    /// </summary>
    private static void AssertExportsMatchTheTrainedModel(string stem, IReadOnlyList<int> tokens, FinalTrainingRecord r)
    {
        var (onnxPath, tflitePath, statePath) = (stem + ".onnx", stem + ".tflite", stem + ".pt");
        TorchRuntime.EnsureLoaded(1);
        var input = new float[r.Channels * r.Resolution * r.Resolution];
        var random = new SeededRandom(3);
        for (var i = 0; i < input.Length; i++)
        {
            input[i] = (float)(random.NextDouble() * 2 - 1);
        }
        float[] expected;
        using (var model = MnasNetModel.Build(MnasNetSearchSpace.Default.Decode(tokens), new NetworkOptions(r.Resolution, r.Channels, r.Classes, r.Width)))
        {
            model.load(statePath);
            model.eval();
            using var inference = torch.inference_mode();
            using var x = torch.tensor(input, [1, r.Channels, r.Resolution, r.Resolution]);
            using var y = model.call(x);
            expected = y.data<float>().ToArray();
        }
        using var session = new InferenceSession(onnxPath);
        using var results = session.Run([NamedOnnxValue.CreateFromTensor("input", new DenseTensor<float>(input, [1, r.Channels, r.Resolution, r.Resolution]))]);
        var onnx = results.First().AsEnumerable<float>().ToArray();
        var nhwc = new float[input.Length];
        var pixels = r.Resolution * r.Resolution;
        for (var c = 0; c < r.Channels; c++)
        {
            for (var p = 0; p < pixels; p++)
            {
                nhwc[(p * r.Channels) + c] = input[(c * pixels) + p];
            }
        }
        var tflite = TfliteInterpreter.Run(File.ReadAllBytes(tflitePath), nhwc);
        Assert.Equal(r.Classes, onnx.Length);
        Assert.Equal(r.Classes, tflite.Length);
        // Trained logits, not a constant: the image decides them.
        Assert.True(expected.Max() - expected.Min() > 1e-3, $"logits {string.Join(", ", expected)}");
        for (var i = 0; i < r.Classes; i++)
        {
            Assert.Equal(expected[i], onnx[i], 1e-4);
            Assert.Equal(expected[i], tflite[i], 1e-4);
        }
    }

    [Fact]
    public async Task A_killed_train_final_continues_from_its_last_journaled_epoch()
    {
        using var dir = new TempDir();
        await SearchAsync(dir, "kill");
        var args = Final(dir, "kill", 4, "--top", "1");
        using (var process = MnasNetProcess.Start(dir.Path, args))
        {
            // The progress line is printed once the epoch is journaled.
            await process.WaitForOutputAsync("epoch 1/4", TimeSpan.FromMinutes(3));
            process.KillHard();
            await process.WaitAsync(TimeSpan.FromSeconds(30));
        }
        var killed = JournalReader.ReadEvents(dir.Path, "kill").Select(e => e.Event).OfType<FinalEpochCompleted>().Select(e => e.Epoch.Epoch).ToList();
        Assert.InRange(killed.Count, 1, 3);

        var run = await InProcessCli.RunAsync(args);
        Assert.True(run.ExitCode == 0, run.Error + run.Output);
        var events = JournalReader.ReadEvents(dir.Path, "kill").Select(e => e.Event).ToList();
        var epochs = events.OfType<FinalEpochCompleted>().ToList();
        Assert.Equal([1, 2, 3, 4], epochs.Select(e => e.Epoch.Epoch));
        Assert.All(epochs.Skip(killed.Count), e => Assert.Equal(2, e.Attempt));
        Assert.Equal(1, events.OfType<FinalRunStarted>().Last().RequeuedInFlight);
        var trained = Assert.Single(events.OfType<FinalTrained>());
        Assert.Equal(epochs.Select(e => e.Epoch.Accuracy), trained.Record.AccuracyCurve);
    }
}
