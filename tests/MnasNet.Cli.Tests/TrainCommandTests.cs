using System.Text.Json;
using MnasNet.Cli;

namespace MnasNet.Cli.Tests;

public sealed class TrainCommandTests
{
    private static string[] Tiny(params string[] extra) =>
    [
        "train", "--arch", "mnasnet-b1", "--width", "0.25", "--data", $"cifar10:{SyntheticCifar10.Directory}", "--train-size", "64",
        "--val-size", "32", "--resolution", "16", "--batch", "32", "--threads", "1", .. extra,
    ];

    [Fact]
    public async Task Train_json_reports_accuracy_throughput_time_and_epochs()
    {
        var r = await InProcessCli.RunAsync(Tiny("--epochs", "2", "--json"));
        Assert.True(r.ExitCode == ExitCodes.Success, r.Error);
        using var doc = JsonDocument.Parse(r.Output);
        var root = doc.RootElement;
        Assert.InRange(root.GetProperty("valAccuracy").GetDouble(), 0, 1);
        Assert.True(root.GetProperty("trainImagesPerSecond").GetDouble() > 0);
        Assert.True(root.GetProperty("seconds").GetDouble() > 0);
        Assert.Equal(2, root.GetProperty("epochs").GetInt32());
        Assert.Equal(2, root.GetProperty("epochMetrics").GetArrayLength());
        Assert.Equal(4, root.GetProperty("stepLosses").GetArrayLength());
        Assert.Equal("Succeeded", root.GetProperty("outcome").GetString());
        Assert.Equal(32, root.GetProperty("validationCount").GetInt32());
    }

    [Fact]
    public async Task Train_is_bit_identical_in_another_process()
    {
        var args = Tiny("--epochs", "1", "--seed", "5", "--json");
        var inProcess = await InProcessCli.RunAsync(args);
        Assert.True(inProcess.ExitCode == ExitCodes.Success, inProcess.Error);

        var start = new System.Diagnostics.ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true };
        start.ArgumentList.Add("exec");
        start.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "mnasnet.dll"));
        foreach (var a in args)
        {
            start.ArgumentList.Add(a);
        }
        using var child = System.Diagnostics.Process.Start(start)!;
        var stdout = child.StandardOutput.ReadToEndAsync(TestContext.Current.CancellationToken);
        var stderr = child.StandardError.ReadToEndAsync(TestContext.Current.CancellationToken);
        await child.WaitForExitAsync(TestContext.Current.CancellationToken);
        Assert.True(child.ExitCode == 0, await stderr);

        using var a1 = JsonDocument.Parse(inProcess.Output);
        using var b1 = JsonDocument.Parse(await stdout);
        foreach (var field in new[] { "stepLosses", "valAccuracy", "valLoss" })
        {
            Assert.Equal(a1.RootElement.GetProperty(field).GetRawText(), b1.RootElement.GetProperty(field).GetRawText());
        }
    }

    [Fact]
    public async Task Train_prints_a_line_per_epoch_then_the_result()
    {
        var r = await InProcessCli.RunAsync(Tiny("--epochs", "2", "--seed", "3"));
        Assert.True(r.ExitCode == ExitCodes.Success, r.Error);
        Assert.Contains("epoch 1/2: train loss", r.Output);
        Assert.Contains("epoch 2/2: train loss", r.Output);
        Assert.Contains("val accuracy", r.Output);
        Assert.Contains("training images/s", r.Output);
    }

    [Theory]
    [InlineData(ExitCodes.NotFound, "CIFAR-10 directory '/no/such/dir' does not exist", "--arch", "mnasnet-b1", "--data", "cifar10:/no/such/dir")]
    [InlineData(ExitCodes.NotFound, "apt-get install dataset-fashion-mnist", "--arch", "mnasnet-b1", "--data", "fashion-mnist:/no/such/dir")]
    [InlineData(ExitCodes.InvalidInput, "unknown dataset 'imagenet'", "--arch", "mnasnet-b1", "--data", "imagenet:/x")]
    [InlineData(ExitCodes.InvalidInput, "epochs must be between 1 and 1000, got 0", "--arch", "mnasnet-b1", "--data", "cifar10:/x", "--epochs", "0")]
    [InlineData(ExitCodes.InvalidInput, "--optimizer must be rmsprop or sgd", "--arch", "mnasnet-b1", "--optimizer", "adam")]
    [InlineData(ExitCodes.InvalidInput, "unknown architecture 'resnet'", "--arch", "resnet")]
    [InlineData(ExitCodes.UsageError, "Option '--arch' is required", "--data", "cifar10:/x")]
    public async Task Bad_train_input_gives_a_clear_error_and_exit_code(int code, string message, params string[] args)
    {
        var r = await InProcessCli.RunAsync(["train", .. args]);
        Assert.Equal(code, r.ExitCode);
        Assert.StartsWith("error: ", r.Error);
        Assert.Contains(message, r.Error);
    }

    [Fact]
    public async Task Train_takes_a_recipe_file_and_explicit_options_override_it()
    {
        using var dir = new TempDir();
        var file = dir.File("recipe.json");
        File.WriteAllText(file, """{ "optimizer": "rmsprop", "learningRatePer256": 0.016, "schedule": "exponential", "epochs": 2, "batchSize": 16 }""");
        string[] noBatch =
        [
            "train", "--arch", "mnasnet-b1", "--width", "0.25", "--data", $"cifar10:{SyntheticCifar10.Directory}", "--train-size", "64",
            "--val-size", "32", "--resolution", "16", "--threads", "1", "--recipe", file, "--json",
        ];
        var fromFile = await InProcessCli.RunAsync(noBatch);
        Assert.True(fromFile.ExitCode == ExitCodes.Success, fromFile.Error);
        using (var doc = JsonDocument.Parse(fromFile.Output))
        {
            Assert.Equal(2, doc.RootElement.GetProperty("epochs").GetInt32());
            Assert.Equal(8, doc.RootElement.GetProperty("stepLosses").GetArrayLength());
        }
        var overridden = await InProcessCli.RunAsync(Tiny("--recipe", file, "--epochs", "1", "--json"));
        Assert.True(overridden.ExitCode == ExitCodes.Success, overridden.Error);
        using (var doc = JsonDocument.Parse(overridden.Output))
        {
            Assert.Equal(1, doc.RootElement.GetProperty("epochs").GetInt32());
            Assert.Equal(2, doc.RootElement.GetProperty("stepLosses").GetArrayLength());
        }

        File.WriteAllText(file, """{ "schedule": "steps" }""");
        var bad = await InProcessCli.RunAsync(Tiny("--recipe", file));
        Assert.Equal(ExitCodes.InvalidInput, bad.ExitCode);
        Assert.Contains("schedule must be cosine, exponential or constant, got 'steps'", bad.Error);
        var missing = await InProcessCli.RunAsync(Tiny("--recipe", dir.File("none.json")));
        Assert.Equal(ExitCodes.InvalidInput, missing.ExitCode);
        Assert.Contains("none.json' does not exist", missing.Error);
    }

    [Fact]
    public async Task Bench_proxy_fidelity_reports_both_accuracies_per_architecture_and_kendall_tau()
    {
        static string[] Args(string parallel) =>
        [
            "bench", "proxy-fidelity", "--dataset", $"cifar10:{SyntheticCifar10.Directory}", "--architectures", "3", "--proxy-epochs", "1",
            "--final-epochs", "2", "--train-size", "64", "--val-size", "32", "--resolution", "16", "--width", "0.25", "--parallel", parallel, "--json",
        ];
        var r = await InProcessCli.RunAsync(Args("2"));
        Assert.True(r.ExitCode == ExitCodes.Success, r.Error);
        using var doc = JsonDocument.Parse(r.Output);
        var rows = doc.RootElement.GetProperty("rows").EnumerateArray().ToArray();
        Assert.Equal(3, rows.Length);
        Assert.Equal(3, rows.Select(x => x.GetProperty("architectureId").GetString()).Distinct().Count());
        Assert.All(rows, x => Assert.Equal("Succeeded", x.GetProperty("finalOutcome").GetString()));
        Assert.InRange(doc.RootElement.GetProperty("kendallTau").GetDouble(), -1, 1);

        // The same sample and results when the runs are trained one at a time.
        var serial = await InProcessCli.RunAsync(Args("1"));
        Assert.True(serial.ExitCode == ExitCodes.Success, serial.Error);
        using var doc2 = JsonDocument.Parse(serial.Output);
        Assert.Equal(
            rows.Select(x => (x.GetProperty("proxyAccuracy").GetDouble(), x.GetProperty("finalAccuracy").GetDouble())),
            doc2.RootElement.GetProperty("rows").EnumerateArray().Select(x => (x.GetProperty("proxyAccuracy").GetDouble(), x.GetProperty("finalAccuracy").GetDouble())));

        var tooFew = await InProcessCli.RunAsync("bench", "proxy-fidelity", "--dataset", $"cifar10:{SyntheticCifar10.Directory}", "--architectures", "1");
        Assert.Equal(ExitCodes.InvalidInput, tooFew.ExitCode);
        Assert.Contains("architectures must be at least 2", tooFew.Error);
    }

    [Fact]
    public async Task A_diverging_run_exits_non_zero_with_its_reason()
    {
        var r = await InProcessCli.RunAsync(Tiny("--optimizer", "sgd", "--lr", "1e12", "--json"));
        Assert.Equal(ExitCodes.Failure, r.ExitCode);
        Assert.Contains("training failed (Diverged)", r.Error);
        using var doc = JsonDocument.Parse(r.Output);
        Assert.Equal("Diverged", doc.RootElement.GetProperty("outcome").GetString());
    }

    [Fact]
    public async Task Bench_train_prints_images_per_second_and_peak_memory_for_the_stated_setup()
    {
        var r = await InProcessCli.RunAsync("bench", "train", "--width", "0.25", "--resolution", "16", "--batch", "16", "--images", "64", "--threads", "1", "--json");
        Assert.True(r.ExitCode == ExitCodes.Success, r.Error);
        using var doc = JsonDocument.Parse(r.Output);
        var root = doc.RootElement;
        Assert.Equal("mnasnet-b1", root.GetProperty("arch").GetString());
        Assert.Equal(16, root.GetProperty("batch").GetInt32());
        Assert.True(root.GetProperty("trainImagesPerSecond").GetDouble() > 0);
        Assert.True(root.GetProperty("peakRssMiB").GetDouble() > 10);

        var text = await InProcessCli.RunAsync("bench", "train", "--images", "8", "--batch", "16");
        Assert.Equal(ExitCodes.InvalidInput, text.ExitCode);
        Assert.Contains("--images must be at least two batches", text.Error);
    }

    [Fact]
    public async Task Bench_train_compare_without_pytorch_says_how_to_install_it_before_training()
    {
        var r = await InProcessCli.RunAsync("bench", "train", "--compare", "--python", "/nonexistent/python3", "--width", "0.25", "--resolution", "16", "--batch", "16", "--images", "64", "--threads", "1");
        Assert.Equal(ExitCodes.NotFound, r.ExitCode);
        Assert.Contains("deploy/setup.sh --bench", r.Error);
        Assert.DoesNotContain("round 1", r.Output);
    }

    // PyTorch is a benchmark-only dependency (deploy/setup.sh --bench), so this runs where it is installed.
    [Fact]
    public async Task Bench_train_compare_trains_the_same_network_in_pytorch_and_prints_the_ratio()
    {
        var python = MnasNet.Bench.PyTorchReference.DefaultPython;
        var probe = System.Diagnostics.Process.Start(new System.Diagnostics.ProcessStartInfo(python, ["-c", "import torch"]) { RedirectStandardError = true });
        probe!.WaitForExit();
        Assert.SkipUnless(probe.ExitCode == 0, $"PyTorch is not installed for {python} (deploy/setup.sh --bench)");

        var r = await InProcessCli.RunAsync("bench", "train", "--compare", "--width", "0.25", "--resolution", "16", "--batch", "16", "--images", "64", "--threads", "1", "--json");
        Assert.True(r.ExitCode == ExitCodes.Success, r.Error);
        using var doc = JsonDocument.Parse(r.Output);
        var root = doc.RootElement;
        // The command refuses a PyTorch network whose parameter count differs from ours.
        Assert.True(root.GetProperty("parameters").GetInt64() > 1000);
        var ours = Assert.Single(root.GetProperty("oursImagesPerSecond").EnumerateArray()).GetDouble();
        var theirs = Assert.Single(root.GetProperty("pytorchImagesPerSecond").EnumerateArray()).GetDouble();
        Assert.True(ours > 0 && theirs > 0);
        Assert.Equal(ours / theirs, root.GetProperty("medianRatio").GetDouble(), 9);
    }
}
