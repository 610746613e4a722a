using System.Security.Cryptography;
using System.Text;

namespace MnasNet.Controller;

/// <summary>
/// Framing of saved sampler states: an 8-byte ASCII magic, a format version, the payload, and a SHA-256 of all of it,
/// so a truncated or altered blob fails with a clear error instead of restoring something else.
/// </summary>
internal static class StateCodec
{
    private const int HashLength = 32;

    /// <param name="capacity">Expected size in bytes (a hint that saves the stream's regrowth copies).</param>
    public static byte[] Write(string magic, int version, Action<BinaryWriter> payload, int capacity = 0)
    {
        using var stream = new MemoryStream(capacity);
        using (var writer = new BinaryWriter(stream, Encoding.UTF8, leaveOpen: true))
        {
            writer.Write(Encoding.ASCII.GetBytes(magic));
            writer.Write(version);
            payload(writer);
        }
        var body = stream.GetBuffer().AsSpan(0, (int)stream.Length);
        var result = new byte[body.Length + HashLength];
        body.CopyTo(result);
        SHA256.HashData(body, result.AsSpan(body.Length));
        return result;
    }

    public static T Read<T>(byte[] state, string magic, int version, string what, Func<BinaryReader, T> payload)
    {
        ArgumentNullException.ThrowIfNull(state);
        if (state.Length < ArchitectureSamplers.MagicLength + sizeof(int) + HashLength)
        {
            throw new ControllerException($"{what} state: too short ({state.Length} bytes)");
        }
        if (Encoding.ASCII.GetString(state, 0, ArchitectureSamplers.MagicLength) != magic)
        {
            throw new ControllerException($"{what} state: not a {what} state (wrong header)");
        }
        var body = state.AsSpan(0, state.Length - HashLength);
        if (!SHA256.HashData(body).AsSpan().SequenceEqual(state.AsSpan(state.Length - HashLength)))
        {
            throw new ControllerException($"{what} state: checksum mismatch (corrupt or truncated)");
        }
        using var reader = new BinaryReader(new MemoryStream(state, 0, body.Length), Encoding.UTF8);
        reader.ReadBytes(ArchitectureSamplers.MagicLength);
        var found = reader.ReadInt32();
        if (found != version)
        {
            throw new ControllerException($"{what} state: format version {found} is not supported (this build reads {version})");
        }
        try
        {
            var result = payload(reader);
            if (reader.BaseStream.Position != body.Length)
            {
                throw new ControllerException($"{what} state: {body.Length - reader.BaseStream.Position} unexpected trailing bytes");
            }
            return result;
        }
        catch (EndOfStreamException e)
        {
            throw new ControllerException($"{what} state: ends early", e);
        }
    }

    public static void WriteRandom(BinaryWriter writer, MnasNet.SearchSpace.SeededRandom random)
    {
        foreach (var word in random.State)
        {
            writer.Write(word);
        }
    }

    public static MnasNet.SearchSpace.SeededRandom ReadRandom(BinaryReader reader) =>
        MnasNet.SearchSpace.SeededRandom.FromState([reader.ReadUInt64(), reader.ReadUInt64(), reader.ReadUInt64(), reader.ReadUInt64()]);

    public static void WriteTokens(BinaryWriter writer, IReadOnlyList<int> tokens)
    {
        writer.Write(tokens.Count);
        foreach (var t in tokens)
        {
            writer.Write(t);
        }
    }

    public static int[] ReadTokens(BinaryReader reader)
    {
        var count = reader.ReadInt32();
        if (count is < 0 or > 10_000)
        {
            throw new ControllerException($"state: implausible token count {count}");
        }
        var tokens = new int[count];
        for (var i = 0; i < count; i++)
        {
            tokens[i] = reader.ReadInt32();
        }
        return tokens;
    }
}
