using System.Diagnostics.Tracing;
using System.Globalization;

namespace MnasNet.Cli.Commands.Search;

/// <summary>
/// The runtime's allocation sampling (one GCAllocationTick event per ~100 KB allocated, naming the type that crossed
/// it) and the reasons of the collections, in this process while it is alive: where a run's garbage comes from.
/// </summary>
internal sealed class AllocationSampler : EventListener
{
    private const int GcKeyword = 0x1;
    private readonly Dictionary<(string Type, bool Large), long> _bytes = [];
    private readonly Dictionary<string, int> _collections = [];

    protected override void OnEventSourceCreated(EventSource source)
    {
        if (source.Name == "Microsoft-Windows-DotNETRuntime")
        {
            EnableEvents(source, EventLevel.Verbose, (EventKeywords)GcKeyword);
        }
    }

    protected override void OnEventWritten(EventWrittenEventArgs e)
    {
        if (e.Payload is null || e.PayloadNames is null)
        {
            return;
        }
        lock (_bytes)
        {
            if (e.EventName == "GCAllocationTick_V4")
            {
                var type = (string?)e.Payload[e.PayloadNames.IndexOf("TypeName")] ?? "?";
                var amount = Convert.ToInt64(e.Payload[e.PayloadNames.IndexOf("AllocationAmount64")], CultureInfo.InvariantCulture);
                var large = Convert.ToInt32(e.Payload[e.PayloadNames.IndexOf("AllocationKind")], CultureInfo.InvariantCulture) == 1;
                _bytes[(type, large)] = _bytes.GetValueOrDefault((type, large)) + amount;
            }
            else if (e.EventName == "GCStart_V2")
            {
                var key = $"gen {e.Payload[e.PayloadNames.IndexOf("Depth")]}, {(GcReason)Convert.ToInt32(e.Payload[e.PayloadNames.IndexOf("Reason")], CultureInfo.InvariantCulture)}";
                _collections[key] = _collections.GetValueOrDefault(key) + 1;
            }
        }
    }

    public async Task PrintAsync(TextWriter output, int top)
    {
        List<((string Type, bool Large) Key, long Bytes)> bytes;
        List<(string Reason, int Count)> collections;
        lock (_bytes)
        {
            bytes = [.. _bytes.Select(p => (p.Key, p.Value)).OrderByDescending(p => p.Value).Take(top)];
            collections = [.. _collections.Select(p => (p.Key, p.Value)).OrderByDescending(p => p.Value)];
        }
        var c = CultureInfo.InvariantCulture;
        foreach (var (key, amount) in bytes)
        {
            await output.WriteLineAsync(string.Create(c, $"      {amount / 1e6,9:F1} MB {(key.Large ? "large-object heap" : "small-object heap"),-17} {key.Type}"));
        }
        foreach (var (reason, count) in collections)
        {
            await output.WriteLineAsync(string.Create(c, $"      {count,9} collections, {reason}"));
        }
    }

    // The runtime's GC reasons (gc.h), in its order.
    private enum GcReason
    {
        AllocSmall, Induced, LowMemory, Empty, AllocLarge, OutOfSpaceSmall, OutOfSpaceLarge, InducedNotForced, Internal, InducedLowMemory,
        InducedCompacting, LowMemoryHost, PmFullGc, LowMemoryHostBlocking,
    }
}
