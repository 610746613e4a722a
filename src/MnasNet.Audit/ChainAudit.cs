using System.Globalization;
using MnasNet.Actors.Journal;
using MnasNet.Actors.Protocol;

namespace MnasNet.Audit;

/// <summary>
/// The journal's hash chain, checked link by link (<see cref="JournalChain"/>). <see cref="Unlinked"/> counts the
/// events written before chains existed (a journal of an older version, or its part before a resume by this one).
/// <see cref="Head"/> says whether the head sealed when the search last stopped is still in the journal: a journal cut
/// short after it (e.g. a deleted last event) fails there.
/// </summary>
public sealed record ChainAudit(string Algorithm, int Linked, int Unlinked, ChainBreak? Break, string Head)
{
    public bool Intact => Break is null;

    public string Describe() => Break is { } b
        ? $"broken at {b}"
        : Linked == 0
            ? "none (journal written before hash chains)"
            : string.Create(CultureInfo.InvariantCulture, $"{Linked} links verified ({Algorithm}){(Unlinked > 0 ? $", {Unlinked} earlier events unlinked" : "")}; head {Head}");

    public static ChainAudit Verify(JournalRead read, JournalFacts facts, byte[]? key)
    {
        var algorithm = facts.Started.Chain ?? JournalChain.Sha256;
        if (algorithm == JournalChain.HmacSha256 && key is null)
        {
            return new ChainAudit(algorithm, 0, 0, new ChainBreak(read.Records[0].SequenceNr, "search-started",
                "the key of this HMAC-chained journal", $"no key: set {JournalChain.KeyVariable} or pass --key-file"), "not checked");
        }
        var chainKey = algorithm == JournalChain.HmacSha256 ? key : null;
        string? previous = null;
        var linked = 0;
        var unlinked = 0;
        var expectedSeq = read.Records.Count > 0 ? read.Records[0].SequenceNr : 1;
        foreach (var r in read.Records)
        {
            var link = (r.Event as JournaledEvent)?.Link;
            if (link is null)
            {
                if (linked > 0)
                {
                    return new ChainAudit(algorithm, linked, unlinked, new ChainBreak(r.SequenceNr, r.Manifest, "a link (every event after the first linked one has one)", "no link"), "not checked");
                }
                unlinked++;
                continue;
            }
            var expected = JournalChain.Link(previous, r.SequenceNr, r.Event, chainKey);
            if (expected != link)
            {
                var why = r.SequenceNr != expectedSeq
                    ? $"sequence {expectedSeq} next (events missing or reordered)"
                    : "the link of its own content and the previous link (the event, or one before it, was changed, removed, inserted or reordered)";
                return new ChainAudit(algorithm, linked, unlinked, new ChainBreak(r.SequenceNr, r.Manifest, $"link {expected[..16]}… ({why})", $"link {link[..Math.Min(16, link.Length)]}…"), "not checked");
            }
            previous = link;
            linked++;
            expectedSeq = r.SequenceNr + 1;
        }
        return new ChainAudit(algorithm, linked, unlinked, HeadBreak(read, chainKey, out var head), head);
    }

    /// <summary>The sealed head (written when the search last stopped) must be an event of the journal with the same link.</summary>
    private static ChainBreak? HeadBreak(JournalRead read, byte[]? key, out string head)
    {
        if (read.Head is not { LastLink: { } headLink } sealedHead)
        {
            head = "not sealed (the search has not stopped since chains exist)";
            return null;
        }
        var at = sealedHead.EventCount;
        if (key is not null && sealedHead.Mac != JournalChain.HeadMac(at, headLink, key))
        {
            head = "seal invalid";
            return new ChainBreak(at, "journal-head", "a head sealed under the journal's key", "a seal that does not verify (the head was changed)");
        }
        var record = read.Records.LastOrDefault(r => r.SequenceNr == at);
        if (record is null)
        {
            head = string.Create(CultureInfo.InvariantCulture, $"sequence {at} missing");
            var last = read.Records.Count > 0 ? read.Records[^1].SequenceNr : 0;
            return new ChainBreak(at, "journal-head", string.Create(CultureInfo.InvariantCulture, $"event {at} (the journal's head when the search last stopped)"),
                string.Create(CultureInfo.InvariantCulture, $"the journal ends at sequence {last}: cut short"));
        }
        if ((record.Event as JournaledEvent)?.Link != headLink)
        {
            head = "link differs";
            return new ChainBreak(at, record.Manifest, $"link {headLink[..16]}… (the journal's head when the search last stopped)", "another link: the journal was rewritten");
        }
        head = string.Create(CultureInfo.InvariantCulture, $"sealed at sequence {at}");
        return null;
    }
}

/// <summary>The first link that does not verify.</summary>
public sealed record ChainBreak(long SequenceNr, string Manifest, string Expected, string Found)
{
    public override string ToString() => $"sequence {SequenceNr} ({Manifest}): expected {Expected}, found {Found}";
}
