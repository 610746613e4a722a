using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using MnasNet.Actors.Protocol;
using MnasNet.Actors.Serialization;

namespace MnasNet.Actors.Journal;

/// <summary>
/// The journal's hash chain: link(n) = H(link(n−1), n, manifest, the event's canonical bytes), with H SHA-256, or
/// HMAC-SHA-256 under a key. Any changed, removed, inserted or reordered event breaks every link from it on; under a
/// key, nobody without it can write links that verify, so even a consistent rewrite (a reward and everything derived
/// from it) shows. The canonical bytes are the event's own serialized form without its link: fields added later are
/// optional and left out when absent, so an old event serializes to the same bytes.
/// </summary>
public static class JournalChain
{
    public const string Sha256 = "sha256";
    public const string HmacSha256 = "hmac-sha256";

    /// <summary>The environment variable holding the key itself (UTF-8); a key file is the alternative.</summary>
    public const string KeyVariable = "MNASNET_JOURNAL_KEY";

    public static string Algorithm(byte[]? key) => key is null ? Sha256 : HmacSha256;

    public static string Link(string? previous, long sequenceNr, ISearchEvent e, byte[]? key) =>
        LinkOf(previous, sequenceNr, SearchJson.Manifest(e), Canonical(e), key);

    public static ISearchEvent WithLink(ISearchEvent e, string? previous, long sequenceNr, byte[]? key) =>
        e is JournaledEvent j ? j with { Link = Link(previous, sequenceNr, e, key) } : e;

    /// <summary>
    /// <see cref="WithLink"/> and the event's stored payload from one serialization: the canonical bytes with the link
    /// appended as their last property, which is where the serializer writes it (a base-record property), so the
    /// payload is byte for byte what <see cref="SearchJson.ToBinary"/> gives for the linked event.
    /// </summary>
    public static (ISearchEvent Event, byte[] Payload) Seal(ISearchEvent e, string? previous, long sequenceNr, byte[]? key)
    {
        if (e is not JournaledEvent j)
        {
            return (e, SearchJson.ToBinary(e));
        }
        var canonical = Canonical(e);
        var link = LinkOf(previous, sequenceNr, SearchJson.Manifest(e), canonical, key);
        return (j with { Link = link }, WithLinkProperty(canonical, link));
    }

    private static ReadOnlySpan<byte> LinkProperty => "\"link\":\""u8;

    private static byte[] WithLinkProperty(byte[] canonical, string link)
    {
        // canonical is a JSON object: "{…}"; "{}" takes no separating comma.
        var comma = canonical.Length > 2 ? 1 : 0;
        var payload = new byte[canonical.Length + comma + LinkProperty.Length + link.Length + 1];
        canonical.AsSpan(0, canonical.Length - 1).CopyTo(payload);
        var at = canonical.Length - 1;
        if (comma == 1)
        {
            payload[at++] = (byte)',';
        }
        LinkProperty.CopyTo(payload.AsSpan(at));
        at += LinkProperty.Length;
        at += Encoding.ASCII.GetBytes(link, payload.AsSpan(at));
        payload[at++] = (byte)'"';
        payload[at] = (byte)'}';
        return payload;
    }

    private static string LinkOf(string? previous, long sequenceNr, string manifest, byte[] canonical, byte[]? key)
    {
        var header = string.Create(CultureInfo.InvariantCulture, $"{previous}\n{sequenceNr}\n{manifest}\n");
        var headerLength = Encoding.UTF8.GetByteCount(header);
        var input = new byte[headerLength + canonical.Length];
        Encoding.UTF8.GetBytes(header, input);
        canonical.CopyTo(input, headerLength);
        return Convert.ToHexStringLower(key is null ? SHA256.HashData(input) : HMACSHA256.HashData(key, input));
    }

    /// <summary>Seals a journal head (what a snapshot ends at); null without a key, where anyone could recompute it.</summary>
    public static string? HeadMac(long eventCount, string? lastLink, byte[]? key) => key is null
        ? null
        : Convert.ToHexStringLower(HMACSHA256.HashData(key, Encoding.UTF8.GetBytes(string.Create(CultureInfo.InvariantCulture, $"head\n{eventCount}\n{lastLink}"))));

    public static byte[] Canonical(ISearchEvent e) => SearchJson.ToBinary(e is JournaledEvent { Link: not null } j ? j with { Link = null } : e);

    /// <summary>
    /// The chain key: from <paramref name="keyFile"/> when given (its bytes, trailing newline trimmed), else from
    /// <see cref="KeyVariable"/>, else none. Never from the command line: it would show in process lists.
    /// </summary>
    public static byte[]? LoadKey(string? keyFile)
    {
        if (!string.IsNullOrWhiteSpace(keyFile))
        {
            if (!File.Exists(keyFile))
            {
                throw new JournalKeyException($"journal key file '{keyFile}' does not exist");
            }
            var text = File.ReadAllText(keyFile).TrimEnd('\r', '\n');
            return text.Length == 0 ? throw new JournalKeyException($"journal key file '{keyFile}' is empty") : Encoding.UTF8.GetBytes(text);
        }
        var value = Environment.GetEnvironmentVariable(KeyVariable);
        return string.IsNullOrEmpty(value) ? null : Encoding.UTF8.GetBytes(value);
    }
}

/// <summary>The journal key cannot be read, or a keyed journal is used without its key.</summary>
public sealed class JournalKeyException(string message) : Exception(message);
