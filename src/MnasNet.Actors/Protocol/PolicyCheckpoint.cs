using System.Buffers;
using System.Buffers.Binary;
using System.IO.Compression;
using System.Numerics;
using System.Runtime.InteropServices;
using System.Security.Cryptography;
using MnasNet.Controller;

namespace MnasNet.Actors.Protocol;

/// <summary>
/// A policy's whole saved state as journaled with search-started and every policy-updated, with the SHA-256 of the raw
/// state and the platform that computed it. To keep journals small, a state is stored as the XOR with the state
/// before it (<see cref="Base"/> names that state's hash), byte-shuffled by lane and Brotli-compressed: consecutive
/// float32 parameters and optimiser moments share sign, exponent and leading mantissa bits, which XOR turns into zero
/// bytes. Every <see cref="KeyframeEvery"/>-th update stores the whole state, so recovery decodes a short chain.
/// </summary>
public sealed record PolicyCheckpoint(string Encoding, string Data, string StateHash, int Bytes, ComputePlatform Platform, string? Base = null)
{
    public const string ShuffledBrotli = "shuffle4+brotli+base64";
    public const int KeyframeEvery = 16;

    // Quality 1: the XOR-ed float bytes barely compress beyond what every quality finds (~19 % at 5, ~17 % at 1 on a
    // 1 MB LSTM state), and 1 costs about a fifth of the time. The decoder reads any quality.
    private const int BrotliQuality = 1;
    private const int BrotliWindow = 22;

    /// <param name="previous">The state journaled just before (null: store the whole state).</param>
    public static PolicyCheckpoint Of(byte[] state, byte[]? previous, ComputePlatform platform)
    {
        var delta = previous is not null && previous.Length == state.Length;
        // Pooled buffers: a state is ~1 MB and this runs once per policy update.
        var shuffled = ArrayPool<byte>.Shared.Rent(state.Length);
        var compressed = ArrayPool<byte>.Shared.Rent(BrotliEncoder.GetMaxCompressedLength(state.Length));
        try
        {
            XorShuffle(state, delta ? previous : null, shuffled.AsSpan(0, state.Length));
            if (!BrotliEncoder.TryCompress(shuffled.AsSpan(0, state.Length), compressed, out var written, BrotliQuality, BrotliWindow))
            {
                throw new InvalidOperationException("Brotli compression failed");
            }
            return new PolicyCheckpoint(ShuffledBrotli, Convert.ToBase64String(compressed.AsSpan(0, written)), HashOf(state), state.Length, platform,
                delta ? HashOf(previous!) : null);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(compressed);
            ArrayPool<byte>.Shared.Return(shuffled);
        }
    }

    /// <summary>
    /// The raw state; <paramref name="previous"/> must be the state named by <see cref="Base"/> when there is one.
    /// Throws <see cref="InvalidDataException"/> when it does not decode to its own hash.
    /// </summary>
    public byte[] Decode(byte[]? previous)
    {
        if (Encoding != ShuffledBrotli)
        {
            throw new InvalidDataException($"policy state encoded as '{Encoding}' (this build reads {ShuffledBrotli})");
        }
        if (Base is not null && (previous is null || previous.Length != Bytes || HashOf(previous) != Base))
        {
            throw new InvalidDataException($"policy state {StateHash} is stored relative to state {Base}, which is not the state before it");
        }
        byte[] state;
        try
        {
            var plain = Unshuffle(Decompress(Convert.FromBase64String(Data), Bytes));
            state = Base is null ? plain : Xor(plain, previous!);
        }
        catch (Exception e) when (e is FormatException or InvalidOperationException or IOException)
        {
            throw new InvalidDataException($"policy state {StateHash} does not decode: {e.Message}", e);
        }
        var hash = HashOf(state);
        if (hash != StateHash)
        {
            throw new InvalidDataException($"policy state decodes to hash {hash}, journaled {StateHash}");
        }
        return state;
    }

    public static string HashOf(byte[] state) => Convert.ToHexStringLower(SHA256.HashData(state))[..16];

    private static byte[] Xor(byte[] a, byte[] b)
    {
        var result = new byte[a.Length];
        var i = 0;
        for (; i <= a.Length - Vector<byte>.Count; i += Vector<byte>.Count)
        {
            (new Vector<byte>(a, i) ^ new Vector<byte>(b, i)).CopyTo(result, i);
        }
        for (; i < a.Length; i++)
        {
            result[i] = (byte)(a[i] ^ b[i]);
        }
        return result;
    }

    // Lane k of the output holds byte k of every 4-byte word of input XOR previous (input alone without a previous);
    // the tail that is no whole word stays in place.
    private static void XorShuffle(byte[] input, byte[]? previous, Span<byte> output)
    {
        var words = input.Length / 4;
        var source = MemoryMarshal.Cast<byte, uint>(input.AsSpan(0, words * 4));
        var before = previous is null ? [] : MemoryMarshal.Cast<byte, uint>(previous.AsSpan(0, words * 4));
        var lane0 = output[..words];
        var lane1 = output.Slice(words, words);
        var lane2 = output.Slice(2 * words, words);
        var lane3 = output.Slice(3 * words, words);
        for (var w = 0; w < words; w++)
        {
            var word = previous is null ? source[w] : source[w] ^ before[w];
            word = BitConverter.IsLittleEndian ? word : BinaryPrimitives.ReverseEndianness(word);
            lane0[w] = (byte)word;
            lane1[w] = (byte)(word >> 8);
            lane2[w] = (byte)(word >> 16);
            lane3[w] = (byte)(word >> 24);
        }
        for (var i = words * 4; i < input.Length; i++)
        {
            output[i] = previous is null ? input[i] : (byte)(input[i] ^ previous[i]);
        }
    }

    private static byte[] Unshuffle(byte[] input)
    {
        var words = input.Length / 4;
        var output = new byte[input.Length];
        var target = MemoryMarshal.Cast<byte, uint>(output.AsSpan(0, words * 4));
        var lane0 = input.AsSpan(0, words);
        var lane1 = input.AsSpan(words, words);
        var lane2 = input.AsSpan(2 * words, words);
        var lane3 = input.AsSpan(3 * words, words);
        for (var w = 0; w < words; w++)
        {
            var word = lane0[w] | ((uint)lane1[w] << 8) | ((uint)lane2[w] << 16) | ((uint)lane3[w] << 24);
            target[w] = BitConverter.IsLittleEndian ? word : BinaryPrimitives.ReverseEndianness(word);
        }
        Array.Copy(input, words * 4, output, words * 4, input.Length - words * 4);
        return output;
    }

    private static byte[] Decompress(byte[] input, int length)
    {
        var output = new byte[length];
        using var decoder = new BrotliDecoder();
        var status = decoder.Decompress(input, output, out var consumed, out var written);
        if (status != OperationStatus.Done || written != length || consumed != input.Length)
        {
            throw new InvalidDataException($"Brotli stream gives {written} bytes ({status}), expected {length}");
        }
        return output;
    }
}
