using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace MnasNet.Controller.Managed;

/// <summary>
/// The one matrix kernel of the managed engine: C[i, j] ← fma chain over k = 0…K−1 of A(i, k) · B[k, j], starting from
/// C's value. Vectorised across the columns j only and each element reduced in ascending k with
/// <see cref="Vector256.FusedMultiplyAdd(Vector256{float}, Vector256{float}, Vector256{float})"/> (or
/// <see cref="MathF.FusedMultiplyAdd"/> in the scalar tail): IEEE fma is exact, so every element gets the same bits
/// whatever the vector width, the blocking or the thread that computes it. Threads split the rows only.
/// </summary>
internal static class ExactKernels
{
    private const int RowBlock = 4;
    private static readonly int Width = Vector256<float>.Count;

    /// <summary>A is read as a[i·rowStride + k·kStride] (kStride 1: row-major A; rowStride 1: Aᵀ stored row-major).</summary>
    public static void MultiplyAdd(float[] a, int aOffset, int rowStride, int kStride, float[] b, int bOffset, int bStride,
        float[] c, int cOffset, int cStride, int rows, int k, int columns, int threads = 1)
    {
        var blocks = (rows + RowBlock - 1) / RowBlock;
        if (threads <= 1 || blocks < 2 || (long)rows * k * columns < 200_000)
        {
            RowRange(a, aOffset, rowStride, kStride, b, bOffset, bStride, c, cOffset, cStride, 0, rows, k, columns);
            return;
        }
        var parts = Math.Min(threads, blocks);
        Parallel.For(0, parts, new ParallelOptions { MaxDegreeOfParallelism = parts }, part =>
        {
            var first = (int)((long)blocks * part / parts) * RowBlock;
            var last = Math.Min(rows, (int)((long)blocks * (part + 1) / parts) * RowBlock);
            RowRange(a, aOffset, rowStride, kStride, b, bOffset, bStride, c, cOffset, cStride, first, last, k, columns);
        });
    }

    private static void RowRange(float[] a, int aOffset, int rowStride, int kStride, float[] b, int bOffset, int bStride,
        float[] c, int cOffset, int cStride, int firstRow, int lastRow, int k, int columns)
    {
        var vectorColumns = columns / Width * Width;
        var i = firstRow;
        for (; i + RowBlock <= lastRow; i += RowBlock)
        {
            var j = 0;
            for (; j + 2 * Width <= vectorColumns; j += 2 * Width)
            {
                Block4x2(a, aOffset + i * rowStride, rowStride, kStride, b, bOffset + j, bStride, c, cOffset + i * cStride + j, cStride, k);
            }
            for (; j < vectorColumns; j += Width)
            {
                for (var r = 0; r < RowBlock; r++)
                {
                    Row1x1(a, aOffset + (i + r) * rowStride, kStride, b, bOffset + j, bStride, c, cOffset + (i + r) * cStride + j, k);
                }
            }
            for (var r = 0; r < RowBlock; r++)
            {
                ScalarTail(a, aOffset + (i + r) * rowStride, kStride, b, bOffset, bStride, c, cOffset + (i + r) * cStride, vectorColumns, columns, k);
            }
        }
        for (; i < lastRow; i++)
        {
            for (var j = 0; j < vectorColumns; j += Width)
            {
                Row1x1(a, aOffset + i * rowStride, kStride, b, bOffset + j, bStride, c, cOffset + i * cStride + j, k);
            }
            ScalarTail(a, aOffset + i * rowStride, kStride, b, bOffset, bStride, c, cOffset + i * cStride, vectorColumns, columns, k);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Block4x2(float[] a, int aRow, int rowStride, int kStride, float[] b, int bAt, int bStride, float[] c, int cAt, int cStride, int k)
    {
        ref var ra = ref MemoryMarshal.GetArrayDataReference(a);
        ref var rb = ref MemoryMarshal.GetArrayDataReference(b);
        ref var rc = ref MemoryMarshal.GetArrayDataReference(c);
        var w = (nuint)Width;
        nuint c0 = (nuint)cAt, c1 = (nuint)(cAt + cStride), c2 = (nuint)(cAt + 2 * cStride), c3 = (nuint)(cAt + 3 * cStride);
        var s00 = Vector256.LoadUnsafe(ref rc, c0);
        var s01 = Vector256.LoadUnsafe(ref rc, c0 + w);
        var s10 = Vector256.LoadUnsafe(ref rc, c1);
        var s11 = Vector256.LoadUnsafe(ref rc, c1 + w);
        var s20 = Vector256.LoadUnsafe(ref rc, c2);
        var s21 = Vector256.LoadUnsafe(ref rc, c2 + w);
        var s30 = Vector256.LoadUnsafe(ref rc, c3);
        var s31 = Vector256.LoadUnsafe(ref rc, c3 + w);
        var a0 = aRow;
        var bk = (nuint)bAt;
        for (var p = 0; p < k; p++)
        {
            var b0 = Vector256.LoadUnsafe(ref rb, bk);
            var b1 = Vector256.LoadUnsafe(ref rb, bk + w);
            var x0 = Vector256.Create(Unsafe.Add(ref ra, a0));
            var x1 = Vector256.Create(Unsafe.Add(ref ra, a0 + rowStride));
            var x2 = Vector256.Create(Unsafe.Add(ref ra, a0 + 2 * rowStride));
            var x3 = Vector256.Create(Unsafe.Add(ref ra, a0 + 3 * rowStride));
            s00 = Vector256.FusedMultiplyAdd(x0, b0, s00);
            s01 = Vector256.FusedMultiplyAdd(x0, b1, s01);
            s10 = Vector256.FusedMultiplyAdd(x1, b0, s10);
            s11 = Vector256.FusedMultiplyAdd(x1, b1, s11);
            s20 = Vector256.FusedMultiplyAdd(x2, b0, s20);
            s21 = Vector256.FusedMultiplyAdd(x2, b1, s21);
            s30 = Vector256.FusedMultiplyAdd(x3, b0, s30);
            s31 = Vector256.FusedMultiplyAdd(x3, b1, s31);
            a0 += kStride;
            bk += (nuint)bStride;
        }
        s00.StoreUnsafe(ref rc, c0);
        s01.StoreUnsafe(ref rc, c0 + w);
        s10.StoreUnsafe(ref rc, c1);
        s11.StoreUnsafe(ref rc, c1 + w);
        s20.StoreUnsafe(ref rc, c2);
        s21.StoreUnsafe(ref rc, c2 + w);
        s30.StoreUnsafe(ref rc, c3);
        s31.StoreUnsafe(ref rc, c3 + w);
    }

    private static void Row1x1(float[] a, int aRow, int kStride, float[] b, int bAt, int bStride, float[] c, int cAt, int k)
    {
        ref var rb = ref MemoryMarshal.GetArrayDataReference(b);
        ref var rc = ref MemoryMarshal.GetArrayDataReference(c);
        var s = Vector256.LoadUnsafe(ref rc, (nuint)cAt);
        var bk = (nuint)bAt;
        for (var p = 0; p < k; p++)
        {
            s = Vector256.FusedMultiplyAdd(Vector256.Create(a[aRow + p * kStride]), Vector256.LoadUnsafe(ref rb, bk), s);
            bk += (nuint)bStride;
        }
        s.StoreUnsafe(ref rc, (nuint)cAt);
    }

    private static void ScalarTail(float[] a, int aRow, int kStride, float[] b, int bOffset, int bStride, float[] c, int cRow, int from, int to, int k)
    {
        for (var j = from; j < to; j++)
        {
            var s = c[cRow + j];
            for (var p = 0; p < k; p++)
            {
                s = MathF.FusedMultiplyAdd(a[aRow + p * kStride], b[bOffset + p * bStride + j], s);
            }
            c[cRow + j] = s;
        }
    }
}
