using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using MnasNet.Training.Models;
using MnasNet.Training.Proxy;

namespace MnasNet.Bench;

/// <summary>What the PyTorch reference measured (one JSON line of <c>src/MnasNet.Bench/pytorch_reference.py</c>).</summary>
public sealed record PyTorchReferenceResult(double ImagesPerSecond, long Parameters, string TorchVersion, int Threads, bool Finite);

/// <summary>PyTorch is not installed where <see cref="PyTorchReference"/> looked for it.</summary>
public sealed class PyTorchMissingException(string message) : Exception(message);

/// <summary>
/// Runs <c>src/MnasNet.Bench/pytorch_reference.py</c> (embedded in this assembly) with a Python that has PyTorch: the same network
/// as ours (its layers written as JSON by <see cref="Describe"/>), optimiser, batch, threads and images per epoch. A
/// benchmark-only dependency: Debian's <c>python3-torch</c> (<c>deploy/setup.sh --bench</c>).
/// </summary>
public static class PyTorchReference
{
    public const string InstallHint = "install it with `deploy/setup.sh --bench` (Debian: apt-get install python3-torch python3-torchvision), or pass --python PATH to a Python that has torch";

    /// <summary>Debian's interpreter (where <c>python3-torch</c> installs) when present, else <c>python3</c> on the PATH.</summary>
    public static string DefaultPython => File.Exists("/usr/bin/python3") ? "/usr/bin/python3" : "python3";

    /// <summary>The network as the reference script builds it: every convolution, BatchNorm, squeeze-excite and skip.</summary>
    public static JsonObject Describe(MnasNetModel model)
    {
        ArgumentNullException.ThrowIfNull(model);
        static JsonObject Conv(ConvBnAct c) => new()
        {
            ["in"] = c.InChannels,
            ["out"] = c.OutChannels,
            ["kernel"] = c.Kernel,
            ["stride"] = c.Stride,
            ["groups"] = c.Groups,
            ["activation"] = c.Activation,
        };
        var layers = new JsonArray();
        foreach (var layer in model.layers)
        {
            layers.Add(new JsonObject
            {
                ["convs"] = new JsonArray([.. layer.convs.Select(c => (JsonNode)Conv(c))]),
                ["se"] = layer.se is { } se ? new JsonObject { ["channels"] = se.Channels, ["reduced"] = se.Reduced } : null,
                ["seAfter"] = layer.SeAfter,
                ["residual"] = layer.HasResidual,
                ["skip"] = layer.Skip.ToString().ToLowerInvariant(),
                ["stride"] = layer.Cost.Stride,
                ["in"] = layer.Cost.InputChannels,
                ["out"] = layer.Cost.OutputChannels,
            });
        }
        return new JsonObject
        {
            ["stem"] = Conv(model.stem),
            ["layers"] = layers,
            ["head"] = Conv(model.head),
            ["classes"] = model.Options.Classes,
            ["dropout"] = model.Options.Dropout,
            ["batchNormEps"] = model.stem.bn.eps,
        };
    }

    /// <summary>Throws <see cref="PyTorchMissingException"/> (with how to install it) when <paramref name="python"/> cannot import torch.</summary>
    public static void EnsureAvailable(string python, CancellationToken cancellation)
    {
        var check = RunPython(python, ["-c", "import torch"], cancellation);
        if (check.ExitCode != 0)
        {
            throw new PyTorchMissingException($"PyTorch is not available to {python} ({LastLine(check.Error)}): {InstallHint}");
        }
    }

    /// <summary>Trains <paramref name="model"/>'s network in PyTorch as <paramref name="options"/> says and returns its images/s.</summary>
    /// <exception cref="PyTorchMissingException">The interpreter is missing.</exception>
    public static PyTorchReferenceResult Run(string python, MnasNetModel model, ProxyTrainingOptions options, int resolution, bool channelsLast, string scratch, CancellationToken cancellation)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(options);
        var script = Path.Combine(scratch, "pytorch_reference.py");
        using (var resource = typeof(PyTorchReference).Assembly.GetManifestResourceStream("pytorch_reference.py")
            ?? throw new InvalidOperationException("pytorch_reference.py is not embedded in MnasNet.Bench"))
        using (var file = File.Create(script))
        {
            resource.CopyTo(file);
        }
        var net = Path.Combine(scratch, "net.json");
        File.WriteAllText(net, Describe(model).ToJsonString());
        var inv = CultureInfo.InvariantCulture;
        string[] arguments =
        [
            script, "--net", net,
            "--resolution", resolution.ToString(inv),
            "--batch", options.BatchSize.ToString(inv),
            "--threads", options.Threads.ToString(inv),
            "--images", options.TrainSize!.Value.ToString(inv),
            "--epochs", options.Epochs.ToString(inv),
            "--optimizer", options.Optimizer == OptimizerKind.Sgd ? "sgd" : "rmsprop",
            "--lr", options.LearningRate.ToString("R", inv),
            "--momentum", options.Momentum.ToString("R", inv),
            "--weight-decay", options.WeightDecay.ToString("R", inv),
            "--rms-decay", options.RmsDecay.ToString("R", inv),
            "--rms-epsilon", options.RmsEpsilon.ToString("R", inv),
            "--label-smoothing", options.LabelSmoothing.ToString("R", inv),
            "--clip", (options.GradientClipNorm ?? 0).ToString("R", inv),
            "--seed", options.Seed.ToString(inv),
            .. channelsLast ? ["--channels-last"] : Array.Empty<string>(),
        ];
        var run = RunPython(python, arguments, cancellation);
        if (run.ExitCode != 0)
        {
            throw new InvalidOperationException($"the PyTorch reference failed (exit code {run.ExitCode}): {run.Error.Trim()}");
        }
        var line = run.Output.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).LastOrDefault()
            ?? throw new InvalidOperationException("the PyTorch reference printed nothing");
        using var json = JsonDocument.Parse(line);
        var root = json.RootElement;
        return new PyTorchReferenceResult(root.GetProperty("imagesPerSecond").GetDouble(), root.GetProperty("parameters").GetInt64(),
            root.GetProperty("torch").GetString() ?? "?", root.GetProperty("threads").GetInt32(), root.GetProperty("finite").GetBoolean());
    }

    private sealed record PythonRun(int ExitCode, string Output, string Error);

    private static PythonRun RunPython(string python, IEnumerable<string> arguments, CancellationToken cancellation)
    {
        var start = new ProcessStartInfo(python) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in arguments)
        {
            start.ArgumentList.Add(a);
        }
        Process process;
        try
        {
            process = Process.Start(start) ?? throw new PyTorchMissingException($"{python} did not start: {InstallHint}");
        }
        catch (System.ComponentModel.Win32Exception e)
        {
            throw new PyTorchMissingException($"{python} cannot be run ({e.Message}): {InstallHint}");
        }
        using (process)
        using (cancellation.Register(() => process.Kill(entireProcessTree: true)))
        {
            var output = process.StandardOutput.ReadToEndAsync(cancellation);
            var error = process.StandardError.ReadToEndAsync(cancellation);
            process.WaitForExit();
            cancellation.ThrowIfCancellationRequested();
            return new PythonRun(process.ExitCode, output.GetAwaiter().GetResult(), error.GetAwaiter().GetResult());
        }
    }

    private static string LastLine(string text) =>
        text.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).LastOrDefault() ?? "no output";
}
