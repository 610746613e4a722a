using System.IO.Compression;
using System.Security.Cryptography;
using MnasNet.Controller;

namespace MnasNet.Actors.Protocol;

/// <summary>
/// A policy's whole saved state as journaled with search-started and every policy-updated: Brotli-compressed,
/// base64, with the SHA-256 of the raw state and the platform that computed it.
/// </summary>
public sealed record PolicyCheckpoint(string Encoding, string Data, string StateHash, int Bytes, ComputePlatform Platform)
{
    public const string BrotliBase64 = "brotli+base64";

    public static PolicyCheckpoint Of(byte[] state, ComputePlatform platform)
    {
        using var buffer = new MemoryStream();
        using (var brotli = new BrotliStream(buffer, CompressionLevel.Fastest, leaveOpen: true))
        {
            brotli.Write(state);
        }
        return new PolicyCheckpoint(BrotliBase64, Convert.ToBase64String(buffer.GetBuffer(), 0, (int)buffer.Length), HashOf(state), state.Length, platform);
    }

    /// <summary>The raw state; throws <see cref="InvalidDataException"/> when it does not decode to its own hash.</summary>
    public byte[] Decode()
    {
        if (Encoding != BrotliBase64)
        {
            throw new InvalidDataException($"policy state encoded as '{Encoding}' (this build reads {BrotliBase64})");
        }
        byte[] state;
        try
        {
            using var input = new MemoryStream(Convert.FromBase64String(Data));
            using var brotli = new BrotliStream(input, CompressionMode.Decompress);
            using var output = new MemoryStream(Bytes);
            brotli.CopyTo(output);
            state = output.ToArray();
        }
        catch (Exception e) when (e is FormatException or InvalidOperationException or IOException)
        {
            throw new InvalidDataException($"policy state does not decode: {e.Message}", e);
        }
        var hash = HashOf(state);
        if (hash != StateHash || state.Length != Bytes)
        {
            throw new InvalidDataException($"policy state decodes to {state.Length} bytes with hash {hash}, journaled {Bytes} bytes with hash {StateHash}");
        }
        return state;
    }

    public static string HashOf(byte[] state) => Convert.ToHexStringLower(SHA256.HashData(state))[..16];
}
