using MnasNet.Actors.Journal;
using MnasNet.Bench;

namespace MnasNet.TestSupport;

/// <summary>
/// The real mnasnet binary (mnasnet.dll, built beside the tests) as a child process: the bench's <see cref="NodeProcess"/>
/// keeping its whole output, with waits that fail the test with that output.
/// </summary>
public sealed class MnasNetProcess : IDisposable
{
    private const int KeptLines = 1_000_000;
    private static readonly TimeSpan StopGrace = TimeSpan.FromSeconds(5);
    private readonly NodeProcess _process;

    private MnasNetProcess(NodeProcess process) => _process = process;

    public static string Dll => Path.Combine(AppContext.BaseDirectory, "mnasnet.dll");

    public static MnasNetProcess Start(string workingDirectory, params string[] args) => Start(workingDirectory, new Dictionary<string, string>(), args);

    public static MnasNetProcess Start(string workingDirectory, IReadOnlyDictionary<string, string> environment, params string[] args)
    {
        var variables = environment.ToDictionary(e => e.Key, e => (string?)e.Value);
        // Workstation GC: several children on 2 shared cores.
        variables["DOTNET_gcServer"] = "0";
        return new MnasNetProcess(NodeProcess.Start(MnasNetLauncher.For(Dll, Environment.ProcessPath), "mnasnet", workingDirectory, variables, args, KeptLines));
    }

    public int Id => _process.Id;

    public bool HasExited => _process.HasExited;

    /// <summary>Everything it printed so far, stdout and stderr interleaved.</summary>
    public string Output => _process.Tail(KeptLines);

    /// <summary>SIGKILL: dies at once (a crash).</summary>
    public void KillHard() => _process.Kill();

    /// <summary>SIGTERM: a graceful stop.</summary>
    public void Terminate() => _process.Terminate();

    /// <summary>Its exit code; killed, and the test failed with its output, when it runs longer than <paramref name="timeout"/>.</summary>
    public async Task<int> WaitAsync(TimeSpan timeout)
    {
        if (await _process.WaitForExitAsync(timeout, TestContext.Current.CancellationToken) is { } code)
        {
            return code;
        }
        KillHard();
        throw new TimeoutException($"mnasnet did not exit within {timeout}; output:\n{Output}");
    }

    /// <summary>Waits until a line of the output contains <paramref name="text"/> (e.g. "member up").</summary>
    public Task WaitForOutputAsync(string text, TimeSpan timeout) => _process.WaitForLineAsync(text, timeout, TestContext.Current.CancellationToken);

    /// <summary>Waits (by observing the journal, not by sleeping a fixed time) until it holds at least n events or the process exits.</summary>
    public async Task<long> WaitForEventsAsync(string database, long n, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (DateTime.UtcNow < deadline)
        {
            var count = File.Exists(database) ? JournalReader.CountEvents(database) : 0;
            if (count >= n || _process.HasExited)
            {
                return count;
            }
            await Task.Delay(20, TestContext.Current.CancellationToken);
        }
        throw new TimeoutException($"journal {database} did not reach {n} events; output:\n{Output}");
    }

    /// <summary>SIGTERM (graceful leave), then SIGKILL after a grace period: no child outlives the test.</summary>
    public void Dispose()
    {
        _process.StopAsync(StopGrace).GetAwaiter().GetResult();
        _process.Dispose();
    }
}
