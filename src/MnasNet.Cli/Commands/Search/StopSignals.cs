using System.Runtime.InteropServices;

namespace MnasNet.Cli.Commands.Search;

/// <summary>
/// SIGINT/SIGTERM → a graceful stop (pause a search, leave the cluster): the first signal cancels the token source; a
/// second gets the default handling.
/// </summary>
internal sealed class StopSignals : IDisposable
{
    private readonly List<PosixSignalRegistration> _registrations = [];

    public static StopSignals Cancel(CancellationTokenSource stop)
    {
        var s = new StopSignals();
        foreach (var signal in new[] { PosixSignal.SIGINT, PosixSignal.SIGTERM })
        {
            s._registrations.Add(PosixSignalRegistration.Create(signal, context =>
            {
                if (!stop.IsCancellationRequested)
                {
                    context.Cancel = true;
                    stop.Cancel();
                }
            }));
        }
        return s;
    }

    public void Dispose()
    {
        foreach (var r in _registrations)
        {
            r.Dispose();
        }
    }
}
