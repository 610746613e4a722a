using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace MnasNet.Controller.Managed;

/// <summary>
/// exp and log in double precision (about 1 ulp) and the float32 σ and tanh of the LSTM gates, from + − × ÷, fma-free
/// products and bit operations only, so they give the same bits on every machine: the platform libm (glibc, Windows,
/// macOS) does not. The vector forms do the same operations lane by lane as the scalar forms, so a lane equals the
/// scalar result bit for bit.
/// </summary>
public static class ExactMath
{
    // fdlibm's split of ln 2: the high part has trailing zero bits, so k · Ln2High is exact for |k| < 2^11.
    private const double Ln2High = 6.93147180369123816490e-01;
    private const double Ln2Low = 1.90821492927058770002e-10;
    private const double Log2E = 1.44269504088896338700e+00;
    // 1.5 · 2^52: adding it rounds to an integer held in the low mantissa bits.
    private const double Shifter = 6755399441055744.0;
    private const long ShifterBits = 0x4338000000000000;
    private const double Sqrt2 = 1.41421356237309504880;

    // 1/n! for n = 2..13: the Taylor series of e^r on |r| ≤ ln2/2 truncated after r^13 (remainder < 5e-18).
    private const double C2 = 1.0 / 2, C3 = 1.0 / 6, C4 = 1.0 / 24, C5 = 1.0 / 120, C6 = 1.0 / 720, C7 = 1.0 / 5040,
        C8 = 1.0 / 40320, C9 = 1.0 / 362880, C10 = 1.0 / 3628800, C11 = 1.0 / 39916800, C12 = 1.0 / 479001600,
        C13 = 1.0 / 6227020800;

    /// <summary>e^x over the whole double range (0 below −745.2, +∞ above 709.8).</summary>
    public static double Exp(double x)
    {
        if (double.IsNaN(x))
        {
            return x;
        }
        if (x > 709.782712893384)
        {
            return double.PositiveInfinity;
        }
        if (x < -745.2)
        {
            return 0.0;
        }
        var t = x * Log2E + Shifter;
        var k = t - Shifter;
        var p = Polynomial(Reduce(x, k));
        var ki = BitConverter.DoubleToInt64Bits(t) - ShifterBits;
        if (ki > 1023)
        {
            return p * Pow2(ki - 1) * 2.0;
        }
        if (ki < -1021)
        {
            return p * Pow2(ki + 1000) * Pow2(-1000);
        }
        return p * Pow2(ki);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static double Reduce(double x, double k) => (x - k * Ln2High) - k * Ln2Low;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static double Polynomial(double r)
    {
        var p = C13;
        p = p * r + C12;
        p = p * r + C11;
        p = p * r + C10;
        p = p * r + C9;
        p = p * r + C8;
        p = p * r + C7;
        p = p * r + C6;
        p = p * r + C5;
        p = p * r + C4;
        p = p * r + C3;
        p = p * r + C2;
        p = p * r + 1.0;
        return p * r + 1.0;
    }

    private static double Pow2(long k) => BitConverter.Int64BitsToDouble((k + 1023) << 52);

    /// <summary>Natural logarithm: x = m · 2^e with m in [√½, √2), log m = 2 atanh((m − 1)/(m + 1)) by its series.</summary>
    public static double Log(double x)
    {
        if (double.IsNaN(x) || x < 0)
        {
            return double.NaN;
        }
        if (x == 0)
        {
            return double.NegativeInfinity;
        }
        if (double.IsPositiveInfinity(x))
        {
            return x;
        }
        long e = 0;
        if (x < 2.2250738585072014e-308)
        {
            x *= 18014398509481984.0; // 2^54: subnormals become normal
            e = -54;
        }
        var bits = BitConverter.DoubleToInt64Bits(x);
        e += ((bits >> 52) & 0x7FF) - 1023;
        var m = BitConverter.Int64BitsToDouble((bits & 0x000FFFFFFFFFFFFF) | 0x3FF0000000000000);
        if (m > Sqrt2)
        {
            m *= 0.5;
            e++;
        }
        var s = (m - 1.0) / (m + 1.0);
        var z = s * s;
        // 2s · (1 + z/3 + z²/5 + … + z^10/21): |s| ≤ 0.1716, the remainder is below 1e−17.
        var q = 1.0 / 21;
        q = q * z + 1.0 / 19;
        q = q * z + 1.0 / 17;
        q = q * z + 1.0 / 15;
        q = q * z + 1.0 / 13;
        q = q * z + 1.0 / 11;
        q = q * z + 1.0 / 9;
        q = q * z + 1.0 / 7;
        q = q * z + 1.0 / 5;
        q = q * z + 1.0 / 3;
        var logM = 2.0 * s + 2.0 * s * (z * q);
        return e * Ln2High + (e * Ln2Low + logM);
    }

    // The float32 gate functions: e^x by the same reduction in float (ln 2 split for float), the series to r^7
    // (remainder below 6e−9, so about 1 ulp), arguments clamped at −87 so 2^k stays a normal float.
    private const float ClampLowF = -87f;
    private const float Log2EF = 1.44269504f;
    private const float Ln2HighF = 0.693145751953125f;
    private const float Ln2LowF = 1.42860677e-06f;
    private const float ShifterF = 12582912f; // 1.5 · 2^23
    private const int ShifterBitsF = 0x4B400000;
    private const float F2 = 1f / 2, F3 = 1f / 6, F4 = 1f / 24, F5 = 1f / 120, F6 = 1f / 720, F7 = 1f / 5040;

    /// <summary>e^max(x, −87) for x ≤ 0 in float32; the twin of the vector forms.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float ExpNegative(float x)
    {
        x = x < ClampLowF ? ClampLowF : x;
        var t = x * Log2EF + ShifterF;
        var k = t - ShifterF;
        var r = (x - k * Ln2HighF) - k * Ln2LowF;
        var p = F7;
        p = p * r + F6;
        p = p * r + F5;
        p = p * r + F4;
        p = p * r + F3;
        p = p * r + F2;
        p = p * r + 1f;
        p = p * r + 1f;
        return p * BitConverter.Int32BitsToSingle((BitConverter.SingleToInt32Bits(t) - ShifterBitsF + 127) << 23);
    }

    /// <summary>σ(x) = 1/(1 + e^−x) in float32, from e^−|x| (no overflow, no cancellation).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Sigmoid(float x)
    {
        var e = ExpNegative(-MathF.Abs(x));
        return (x >= 0 ? 1f : e) / (1f + e);
    }

    /// <summary>tanh(x) = 2σ(2x) − 1 in float32 (absolute error about 1e−7).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Tanh(float x) => Sigmoid(2f * x) * 2f - 1f;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> ExpNegative(Vector256<float> x)
    {
        x = Vector256.Max(x, Vector256.Create(ClampLowF));
        var t = x * Vector256.Create(Log2EF) + Vector256.Create(ShifterF);
        var k = t - Vector256.Create(ShifterF);
        var r = (x - k * Vector256.Create(Ln2HighF)) - k * Vector256.Create(Ln2LowF);
        var p = Vector256.Create(F7);
        p = p * r + Vector256.Create(F6);
        p = p * r + Vector256.Create(F5);
        p = p * r + Vector256.Create(F4);
        p = p * r + Vector256.Create(F3);
        p = p * r + Vector256.Create(F2);
        p = p * r + Vector256<float>.One;
        p = p * r + Vector256<float>.One;
        var bits = (t.AsInt32() - Vector256.Create(ShifterBitsF) + Vector256.Create(127)) << 23;
        return p * bits.AsSingle();
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Sigmoid(Vector256<float> x)
    {
        var e = ExpNegative(-Vector256.Abs(x));
        var numerator = Vector256.ConditionalSelect(Vector256.GreaterThanOrEqual(x, Vector256<float>.Zero), Vector256<float>.One, e);
        return numerator / (Vector256<float>.One + e);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> ExpNegative(Vector512<float> x)
    {
        x = Vector512.Max(x, Vector512.Create(ClampLowF));
        var t = x * Vector512.Create(Log2EF) + Vector512.Create(ShifterF);
        var k = t - Vector512.Create(ShifterF);
        var r = (x - k * Vector512.Create(Ln2HighF)) - k * Vector512.Create(Ln2LowF);
        var p = Vector512.Create(F7);
        p = p * r + Vector512.Create(F6);
        p = p * r + Vector512.Create(F5);
        p = p * r + Vector512.Create(F4);
        p = p * r + Vector512.Create(F3);
        p = p * r + Vector512.Create(F2);
        p = p * r + Vector512<float>.One;
        p = p * r + Vector512<float>.One;
        var bits = (t.AsInt32() - Vector512.Create(ShifterBitsF) + Vector512.Create(127)) << 23;
        return p * bits.AsSingle();
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> Sigmoid(Vector512<float> x)
    {
        var e = ExpNegative(-Vector512.Abs(x));
        var numerator = Vector512.ConditionalSelect(Vector512.GreaterThanOrEqual(x, Vector512<float>.Zero), Vector512<float>.One, e);
        return numerator / (Vector512<float>.One + e);
    }
}
