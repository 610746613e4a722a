using System.Diagnostics;
using System.Globalization;

namespace MnasNet.Bench;

/// <summary>How to start this same mnasnet program again as a child process: the file and the arguments before the command's own.</summary>
public sealed record MnasNetLauncher(string FileName, IReadOnlyList<string> LeadingArguments)
{
    /// <summary>
    /// The apphost when this process is it; otherwise <c>dotnet mnasnet.dll</c> (with this process's dotnet host when
    /// it is one, e.g. under <c>dotnet mnasnet.dll</c> or a test host).
    /// </summary>
    public static MnasNetLauncher For(string cliAssemblyPath, string? processPath)
    {
        var apphost = Path.Combine(Path.GetDirectoryName(cliAssemblyPath)!, Path.GetFileNameWithoutExtension(cliAssemblyPath));
        if (processPath is not null && Path.GetFullPath(processPath) == Path.GetFullPath(apphost))
        {
            return new MnasNetLauncher(apphost, []);
        }
        var dotnet = processPath is not null && Path.GetFileNameWithoutExtension(processPath) == "dotnet"
            ? processPath
            : Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } host ? host : "dotnet";
        return new MnasNetLauncher(dotnet, [cliAssemblyPath]);
    }
}

/// <summary>
/// A child mnasnet process (a cluster node): its output is kept (the last lines) to wait on and to quote in errors.
/// It never outlives its owner: disposed → SIGKILL, and every live one is killed when this process exits.
/// </summary>
// Lives here, not in the tests, because `bench cluster` starts its nodes with it; the tests' process runner wraps it.
public sealed class NodeProcess : IDisposable
{
    public const int DefaultKeptLines = 400;
    private static readonly HashSet<NodeProcess> Live = [];

    private readonly Process _process;
    private readonly Queue<string> _lines = new();
    private readonly int _keptLines;
    private readonly List<(string Text, TaskCompletionSource Seen)> _waiters = [];
    private readonly TaskCompletionSource _outputClosed = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private int _openStreams = 2;

    static NodeProcess() => AppDomain.CurrentDomain.ProcessExit += (_, _) =>
    {
        lock (Live)
        {
            foreach (var p in Live.ToList())
            {
                p.Dispose();
            }
        }
    };

    private NodeProcess(string name, Process process, int keptLines)
    {
        Name = name;
        _process = process;
        _keptLines = keptLines;
    }

    /// <summary>What the benchmark calls it (e.g. trainer-2): used in error messages.</summary>
    public string Name { get; }

    public int Id => _process.Id;

    public bool HasExited => _process.HasExited;

    public int ExitCode => _process.ExitCode;

    /// <param name="environment">Variables to set (a null value removes one inherited from this process).</param>
    /// <param name="keptLines">How many of the last output lines are kept.</param>
    public static NodeProcess Start(MnasNetLauncher launcher, string name, string workingDirectory, IReadOnlyDictionary<string, string?> environment, IEnumerable<string> arguments,
        int keptLines = DefaultKeptLines)
    {
        var info = new ProcessStartInfo(launcher.FileName)
        {
            WorkingDirectory = workingDirectory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
        };
        foreach (var a in launcher.LeadingArguments.Concat(arguments))
        {
            info.ArgumentList.Add(a);
        }
        foreach (var (key, value) in environment)
        {
            if (value is null)
            {
                info.Environment.Remove(key);
            }
            else
            {
                info.Environment[key] = value;
            }
        }
        var process = new Process { StartInfo = info };
        var node = new NodeProcess(name, process, keptLines);
        process.OutputDataReceived += (_, e) => node.OnLine(e.Data);
        process.ErrorDataReceived += (_, e) => node.OnLine(e.Data);
        lock (Live)
        {
            process.Start();
            Live.Add(node);
        }
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return node;
    }

    /// <summary>The last <paramref name="lines"/> lines of stdout and stderr.</summary>
    public string Tail(int lines = 40)
    {
        lock (_lines)
        {
            return string.Join(Environment.NewLine, _lines.Skip(Math.Max(0, _lines.Count - lines)));
        }
    }

    /// <summary>Waits for a line containing <paramref name="text"/>; fails when the process ends first or after the timeout.</summary>
    public async Task WaitForLineAsync(string text, TimeSpan timeout, CancellationToken cancellationToken)
    {
        var seen = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        lock (_lines)
        {
            if (_lines.Any(l => l.Contains(text, StringComparison.Ordinal)))
            {
                return;
            }
            _waiters.Add((text, seen));
        }
        Task done;
        try
        {
            done = await Task.WhenAny(seen.Task, _outputClosed.Task).WaitAsync(timeout, cancellationToken);
        }
        catch (TimeoutException)
        {
            throw new ClusterBenchmarkException($"{Name} (pid {Id}) did not print '{text}' within {timeout.TotalSeconds:F0} s; its last output:{Environment.NewLine}{Tail()}");
        }
        if (done != seen.Task)
        {
            throw new ClusterBenchmarkException($"{Name} (pid {Id}) ended before printing '{text}'; its last output:{Environment.NewLine}{Tail()}");
        }
    }

    /// <summary>Waits for the process to exit; null when it is still running after <paramref name="timeout"/>.</summary>
    public async Task<int?> WaitForExitAsync(TimeSpan timeout, CancellationToken cancellationToken)
    {
        using var timer = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timer.CancelAfter(timeout);
        try
        {
            await _process.WaitForExitAsync(timer.Token);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            return null;
        }
        return _process.ExitCode;
    }

    /// <summary>SIGKILL: the process dies at once, without leaving the cluster.</summary>
    public void Kill()
    {
        try
        {
            _process.Kill(entireProcessTree: false);
        }
        catch (InvalidOperationException)
        {
            // Already exited.
        }
    }

    /// <summary>SIGTERM (the node leaves the cluster gracefully), then SIGKILL if it is still running after <paramref name="grace"/>.</summary>
    public async Task StopAsync(TimeSpan grace)
    {
        if (_process.HasExited)
        {
            return;
        }
        Terminate();
        if (await WaitForExitAsync(grace, CancellationToken.None) is null)
        {
            Kill();
            await _process.WaitForExitAsync();
        }
    }

    /// <summary>SIGTERM: the node leaves the cluster gracefully (a hosted app blocked in an Ask may ignore it).</summary>
    public void Terminate()
    {
        try
        {
            using var term = Process.Start(new ProcessStartInfo("kill", ["-TERM", Id.ToString(CultureInfo.InvariantCulture)]) { UseShellExecute = false, RedirectStandardError = true });
            term!.WaitForExit();
        }
        catch (System.ComponentModel.Win32Exception)
        {
        }
    }

    public void Dispose()
    {
        lock (Live)
        {
            if (!Live.Remove(this))
            {
                return;
            }
        }
        if (!_process.HasExited)
        {
            Kill();
            _process.WaitForExit(TimeSpan.FromSeconds(10));
        }
        _process.Dispose();
    }

    private void OnLine(string? line)
    {
        List<TaskCompletionSource> seen;
        lock (_lines)
        {
            if (line is null)
            {
                if (--_openStreams == 0)
                {
                    _outputClosed.TrySetResult();
                }
                return;
            }
            _lines.Enqueue(line);
            if (_lines.Count > _keptLines)
            {
                _lines.Dequeue();
            }
            seen = [.. _waiters.Where(w => line.Contains(w.Text, StringComparison.Ordinal)).Select(w => w.Seen)];
            _waiters.RemoveAll(w => seen.Contains(w.Seen));
        }
        foreach (var s in seen)
        {
            s.TrySetResult();
        }
    }
}
