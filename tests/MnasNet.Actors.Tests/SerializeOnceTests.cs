using System.Text;
using System.Text.Json;
using MnasNet.Actors.Journal;
using MnasNet.Actors.Protocol;
using MnasNet.Actors.Serialization;

namespace MnasNet.Actors.Tests;

/// <summary>
/// Each event is serialized once, when it is chained (<see cref="JournalChain.Seal"/>): its link and stored payload
/// must be exactly what the two serializations before gave (<see cref="JournalChain.Link"/> of the canonical bytes,
/// then <see cref="SearchJson.ToBinary"/> of the linked event).
/// </summary>
public sealed class SerializeOnceTests
{
    /// <summary>The key the HMAC fixture was written under (MNASNET_JOURNAL_KEY); a test key, not a secret.</summary>
    private static readonly byte[] FixtureKey = "fixture-key"u8.ToArray();

    /// <summary>
    /// Fixtures/journal-*.jsonl: every row (sequence number, manifest, stored bytes) of a virtual-clock search
    /// written by main before this change (commit f8104e2: <c>mnasnet bench simulate --trials 8 --batch-size 4
    /// --strategies ppo-tabular</c>, the second with MNASNET_JOURNAL_KEY set), see Fixtures/README.md.
    /// </summary>
    [Theory]
    [InlineData("journal-sha256", false)]
    [InlineData("journal-hmac", true)]
    public void Sealing_the_events_of_a_journal_written_before_gives_its_stored_bytes_and_links(string fixture, bool keyed)
    {
        var rows = File.ReadLines(Path.Combine(AppContext.BaseDirectory, "Fixtures", $"{fixture}.jsonl"))
            .Select(line => JsonSerializer.Deserialize<Row>(line, SearchJson.Options)!).ToList();
        Assert.Equal(46, rows.Count);
        Assert.Contains(rows, r => r.Manifest == "policy-updated.v1");
        string? previous = null;
        foreach (var row in rows)
        {
            var stored = Convert.FromBase64String(row.Payload);
            var read = (JournaledEvent)SearchJson.FromBinary(stored, row.Manifest);
            Assert.NotNull(read.Link);

            var (sealedEvent, payload) = JournalChain.Seal(read with { Link = null }, previous, row.SequenceNr, keyed ? FixtureKey : null);

            Assert.Equal(read.Link, ((JournaledEvent)sealedEvent).Link);
            Assert.Equal(Encoding.UTF8.GetString(stored), Encoding.UTF8.GetString(payload));
            Assert.Equal(stored, payload);
            Assert.Equal(stored, SearchJson.ToBinary(new SerializedEvent(sealedEvent, payload)));
            Assert.Equal(row.Manifest, SearchJson.Manifest(new SerializedEvent(sealedEvent, payload)));
            previous = read.Link;
        }
    }

    [Theory]
    [MemberData(nameof(SerializerTests.Messages), MemberType = typeof(SerializerTests))]
    public void A_sealed_event_is_what_the_serializer_writes_for_the_linked_event(ISearchMessage message)
    {
        if (message is not ISearchEvent e)
        {
            return;
        }
        foreach (var key in new[] { null, FixtureKey })
        {
            var (linked, payload) = JournalChain.Seal(e, "previous-link", 7, key);

            Assert.Equal(JournalChain.WithLink(e, "previous-link", 7, key), linked);
            Assert.Equal(SearchJson.ToBinary(linked), payload);
            Assert.Equal(JournalChain.Link("previous-link", 7, linked, key), ((JournaledEvent)linked).Link);
        }
    }

    [Fact]
    public void A_changed_previous_link_or_key_changes_the_seal()
    {
        var e = new SearchCompleted(10, "h", DateTimeOffset.UnixEpoch);

        var (a, _) = JournalChain.Seal(e, "x", 3, null);
        var (b, _) = JournalChain.Seal(e, "y", 3, null);
        var (c, _) = JournalChain.Seal(e, "x", 4, null);
        var (d, _) = JournalChain.Seal(e, "x", 3, FixtureKey);

        Assert.Equal(4, new[] { a, b, c, d }.Select(s => ((JournaledEvent)s).Link).Distinct().Count());
    }

    private sealed record Row(long SequenceNr, string Manifest, string Payload);
}
