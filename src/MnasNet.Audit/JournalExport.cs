using System.Text.Json;
using System.Text.Json.Nodes;
using MnasNet.Actors.Journal;
using MnasNet.Actors.Serialization;

namespace MnasNet.Audit;

/// <summary>Every event as one JSON line: sequence number, manifest, timestamp (UTC, when the journal has one), event fields.</summary>
public static class JournalExport
{
    public static string Line(string searchId, JournalEntry record)
    {
        var line = new JsonObject
        {
            ["searchId"] = searchId,
            ["sequenceNr"] = record.SequenceNr,
            ["manifest"] = record.Manifest,
            ["timestamp"] = record.WrittenAt?.ToString("O", System.Globalization.CultureInfo.InvariantCulture),
            ["event"] = JsonSerializer.SerializeToNode(record.Event, record.Event.GetType(), SearchJson.Options),
        };
        return line.ToJsonString();
    }

    public static async Task<int> WriteAsync(JournalRead read, TextWriter writer, CancellationToken cancellationToken = default)
    {
        foreach (var r in read.Records)
        {
            cancellationToken.ThrowIfCancellationRequested();
            await writer.WriteLineAsync(Line(read.SearchId, r));
        }
        return read.Records.Count;
    }
}
