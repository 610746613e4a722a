using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace MnasNet.Controller.Managed;

/// <summary>
/// exp, log, sigmoid and tanh from + − × ÷, floor and bit operations only, in double precision (about 1 ulp), so they
/// give the same bits on every machine: the platform libm (glibc, Windows, macOS) does not. The vector forms do the
/// same operations lane by lane as the scalar forms, so a lane equals the scalar result bit for bit.
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

    /// <summary>Arguments of <see cref="ExpClamped(double)"/> below this are raised to it: e^−700 ≈ 1e−304 already rounds
    /// every float32 sigmoid and tanh to its limit, and the scaling stays in the normal range.</summary>
    public const double ClampLow = -700.0;

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

    /// <summary>e^max(x, <see cref="ClampLow"/>) for x ≤ 0; the twin of the vector form.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static double ExpClamped(double x)
    {
        x = x < ClampLow ? ClampLow : x;
        var t = x * Log2E + Shifter;
        var k = t - Shifter;
        var p = Polynomial(Reduce(x, k));
        return p * BitConverter.Int64BitsToDouble((BitConverter.DoubleToInt64Bits(t) - ShifterBits + 1023) << 52);
    }

    public static Vector256<double> ExpClamped(Vector256<double> x)
    {
        x = Vector256.Max(x, Vector256.Create(ClampLow));
        var t = x * Vector256.Create(Log2E) + Vector256.Create(Shifter);
        var k = t - Vector256.Create(Shifter);
        var r = (x - k * Vector256.Create(Ln2High)) - k * Vector256.Create(Ln2Low);
        var p = Vector256.Create(C13);
        p = p * r + Vector256.Create(C12);
        p = p * r + Vector256.Create(C11);
        p = p * r + Vector256.Create(C10);
        p = p * r + Vector256.Create(C9);
        p = p * r + Vector256.Create(C8);
        p = p * r + Vector256.Create(C7);
        p = p * r + Vector256.Create(C6);
        p = p * r + Vector256.Create(C5);
        p = p * r + Vector256.Create(C4);
        p = p * r + Vector256.Create(C3);
        p = p * r + Vector256.Create(C2);
        p = p * r + Vector256<double>.One;
        p = p * r + Vector256<double>.One;
        var bits = (t.AsInt64() - Vector256.Create(ShifterBits) + Vector256.Create(1023L)) << 52;
        return p * bits.AsDouble();
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

    /// <summary>1/(1 + e^−x) from e^−|x| (no overflow, no cancellation).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static double Sigmoid(double x)
    {
        var e = ExpClamped(-Math.Abs(x));
        return x >= 0 ? 1.0 / (1.0 + e) : e / (1.0 + e);
    }

    public static Vector256<double> Sigmoid(Vector256<double> x)
    {
        var e = ExpClamped(-Vector256.Abs(x));
        var denominator = Vector256<double>.One + e;
        return Vector256.ConditionalSelect(Vector256.GreaterThanOrEqual(x, Vector256<double>.Zero), Vector256<double>.One / denominator, e / denominator);
    }

    /// <summary>(1 − e^−2|x|)/(1 + e^−2|x|) with the sign of x.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static double Tanh(double x)
    {
        var e = ExpClamped(-2.0 * Math.Abs(x));
        var magnitude = (1.0 - e) / (1.0 + e);
        return x >= 0 ? magnitude : -magnitude;
    }

    public static Vector256<double> Tanh(Vector256<double> x)
    {
        var e = ExpClamped(Vector256.Create(-2.0) * Vector256.Abs(x));
        var magnitude = (Vector256<double>.One - e) / (Vector256<double>.One + e);
        return Vector256.ConditionalSelect(Vector256.GreaterThanOrEqual(x, Vector256<double>.Zero), magnitude, -magnitude);
    }
}
