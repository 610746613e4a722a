using System.Diagnostics;
using MnasNet.Actors.Journal;
using MnasNet.Actors.Settings;
using MnasNet.Actors.State;
using MnasNet.Cli;

namespace MnasNet.Actors.Tests;

/// <summary>A fresh temporary directory per test, deleted at the end.</summary>
public sealed class TempDir : IDisposable
{
    public TempDir() => Directory.CreateDirectory(Path);

    public string Path { get; } = System.IO.Path.Combine(System.IO.Path.GetTempPath(), $"mnasnet-actors-{Guid.NewGuid():N}");

    public string File(string name) => System.IO.Path.Combine(Path, name);

    public void Dispose()
    {
        try
        {
            Directory.Delete(Path, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}

internal static class Simulated
{
    /// <summary>Small simulated search settings; every test passes its own journal directory.</summary>
    public static SearchSettings Settings(string dir, string id = "sim", int batchSize = 8, int batches = 5, double trainSeconds = 0) =>
        SettingsValidation.Validate(new SearchSettings
        {
            Id = id,
            Seed = 11,
            Mode = "simulated",
            BatchSize = batchSize,
            Batches = batches,
            Reward = new RewardSettings { Preset = "soft", TargetMs = 80 },
            Latency = new LatencySettings { Backend = "simulated", Runs = 5 },
            Simulation = new SimulationSettings { TrainSeconds = trainSeconds },
            Journal = new JournalSettings { Directory = dir, SnapshotEvery = 2 },
            Workers = new WorkerSettings { Trainers = 2, Devices = 2, LeaseTimeoutSeconds = 30, PauseGraceSeconds = 10 },
            Logging = new LoggingSettings { Level = "Warning", Console = false },
        });

    public static string WriteConfig(TempDir dir, SearchSettings settings)
    {
        var path = dir.File($"{settings.Id}.json");
        System.IO.File.WriteAllText(path, SettingsLoader.ToJson(settings));
        return path;
    }

    /// <summary>What must be identical between an interrupted and an uninterrupted run.</summary>
    public static (string Trials, string Hash) Fingerprint(string dir, string id)
    {
        var s = SearchSummary.From(id, JournalReader.ReadEvents(dir, id));
        var trials = string.Join("\n", s.Trials.Select(t =>
            $"{t.TrialId}:{string.Join(",", t.Tokens)}:{BitConverter.DoubleToInt64Bits(t.LogProb)}:{t.Accuracy:R}:{t.LatencyMs:R}:{t.Reward:R}:{t.Failed}"));
        return (trials, $"{s.Status}/{s.FinalPolicyHash}/{string.Join(",", s.Batches.Select(b => $"{b.Step}:{b.ParameterHash}"))}");
    }
}

/// <summary>The real mnasnet binary as a child process (built beside the tests: mnasnet.dll).</summary>
internal sealed class MnasNetProcess : IDisposable
{
    private readonly Process _process;
    private readonly System.Text.StringBuilder _output = new();

    private MnasNetProcess(Process process) => _process = process;

    public static string Dll => System.IO.Path.Combine(AppContext.BaseDirectory, "mnasnet.dll");

    public static MnasNetProcess Start(string workingDirectory, params string[] args) => Start(workingDirectory, new Dictionary<string, string>(), args);

    public static MnasNetProcess Start(string workingDirectory, IReadOnlyDictionary<string, string> environment, params string[] args)
    {
        var info = new ProcessStartInfo("dotnet") { WorkingDirectory = workingDirectory, RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var (key, value) in environment)
        {
            info.Environment[key] = value;
        }
        info.ArgumentList.Add(Dll);
        foreach (var a in args)
        {
            info.ArgumentList.Add(a);
        }
        info.Environment["DOTNET_gcServer"] = "0";
        var process = Process.Start(info)!;
        var p = new MnasNetProcess(process);
        process.OutputDataReceived += (_, e) => { lock (p._output) { p._output.AppendLine(e.Data); } };
        process.ErrorDataReceived += (_, e) => { lock (p._output) { p._output.AppendLine(e.Data); } };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return p;
    }

    public int Id => _process.Id;

    public bool HasExited => _process.HasExited;

    public string Output
    {
        get
        {
            lock (_output)
            {
                return _output.ToString();
            }
        }
    }

    public void KillHard() => _process.Kill(entireProcessTree: false);

    public void Terminate()
    {
        using var kill = Process.Start("kill", ["-TERM", _process.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)]);
        kill.WaitForExit();
    }

    public async Task<int> WaitAsync(TimeSpan timeout)
    {
        using var cts = new CancellationTokenSource(timeout);
        try
        {
            await _process.WaitForExitAsync(cts.Token);
        }
        catch (OperationCanceledException)
        {
            KillHard();
            throw new TimeoutException($"mnasnet did not exit within {timeout}; output:\n{Output}");
        }
        _process.WaitForExit();
        return _process.ExitCode;
    }

    /// <summary>Waits (by observing the journal, not by sleeping a fixed time) until it holds at least n events or the process exits.</summary>
    public async Task<long> WaitForEventsAsync(string database, long n, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (DateTime.UtcNow < deadline)
        {
            var count = System.IO.File.Exists(database) ? JournalReader.CountEvents(database) : 0;
            if (count >= n || _process.HasExited)
            {
                return count;
            }
            await Task.Delay(20);
        }
        throw new TimeoutException($"journal {database} did not reach {n} events; output:\n{Output}");
    }

    public void Dispose()
    {
        if (!_process.HasExited)
        {
            _process.Kill();
            _process.WaitForExit();
        }
        _process.Dispose();
    }
}

/// <summary>Runs the real command tree in-process.</summary>
internal static class Cli
{
    public sealed record Result(int ExitCode, string Output, string Error);

    public static async Task<Result> RunAsync(params string[] args)
    {
        using var output = new StringWriter();
        using var error = new StringWriter();
        var code = await MnasNetCli.RunAsync(args, output, error, TestContext.Current.CancellationToken);
        return new Result(code, output.ToString(), error.ToString());
    }
}
