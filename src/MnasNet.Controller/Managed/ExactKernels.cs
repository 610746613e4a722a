using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace MnasNet.Controller.Managed;

/// <summary>
/// The one matrix kernel of the managed engine: C[i, j] ← fma chain over k = 0…K−1 of A(i, k) · B[k, j], starting from
/// C's value. Vectorised across the columns j only, and each element reduced in ascending k with a fused multiply-add
/// (<see cref="Vector512.FusedMultiplyAdd(Vector512{float}, Vector512{float}, Vector512{float})"/>, its Vector256 form,
/// or <see cref="MathF.FusedMultiplyAdd"/> in the scalar tail): IEEE fma is exact, so every element gets the same bits
/// whatever the vector width, the blocking or the thread that computes it. Threads split the rows only.
/// </summary>
internal static class ExactKernels
{
    private const int RowBlock = 4;

    /// <summary>Floats per vector of the widest accelerated kind: row strides padded to it avoid the scalar tail.</summary>
    public static int VectorWidth { get; } = Vector512.IsHardwareAccelerated ? Vector512<float>.Count : Vector256<float>.Count;

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

    /// <summary>
    /// Runs the reduction in slices of <see cref="KSlice"/> k values, each over all rows and columns: C carries every
    /// element's fma chain from one slice to the next, so the order (and the bits) is unchanged while the slice of
    /// B being read stays in cache.
    /// </summary>
    private static void RowRange(float[] a, int aOffset, int rowStride, int kStride, float[] b, int bOffset, int bStride,
        float[] c, int cOffset, int cStride, int firstRow, int lastRow, int k, int columns)
    {
        for (var from = 0; from < k; from += KSlice)
        {
            var slice = Math.Min(KSlice, k - from);
            var aAt = aOffset + from * kStride;
            var bAt = bOffset + from * bStride;
            if (Vector512.IsHardwareAccelerated)
            {
                RowRange_Vector512(a, aAt, rowStride, kStride, b, bAt, bStride, c, cOffset, cStride, firstRow, lastRow, slice, columns);
            }
            else
            {
                RowRange_Vector256(a, aAt, rowStride, kStride, b, bAt, bStride, c, cOffset, cStride, firstRow, lastRow, slice, columns);
            }
        }
    }

    private const int KSlice = 512;

    /// <summary>Tests: the kernel on 256-bit vectors whatever the hardware has.</summary>
    internal static void MultiplyAdd256(float[] a, int aOffset, int rowStride, int kStride, float[] b, int bOffset, int bStride,
        float[] c, int cOffset, int cStride, int rows, int k, int columns) =>
        RowRange_Vector256(a, aOffset, rowStride, kStride, b, bOffset, bStride, c, cOffset, cStride, 0, rows, k, columns);

    private static void RowRange_Vector256(float[] a, int aOffset, int rowStride, int kStride, float[] b, int bOffset, int bStride,
        float[] c, int cOffset, int cStride, int firstRow, int lastRow, int k, int columns)
    {
        var width = Vector256<float>.Count;
        var vectorColumns = columns / width * width;
        ref var ra = ref MemoryMarshal.GetArrayDataReference(a);
        ref var rb = ref MemoryMarshal.GetArrayDataReference(b);
        ref var rc = ref MemoryMarshal.GetArrayDataReference(c);
        var bs = (nuint)bStride;
        var cs = (nuint)cStride;
        var i = firstRow;
        for (; i + RowBlock <= lastRow; i += RowBlock)
        {
            var aRow = aOffset + i * rowStride;
            var cRow = (nuint)(cOffset + i * cStride);
            var j = 0;
            for (; j + 3 * width <= vectorColumns; j += 3 * width)
            {
                Block4x3_Vector256(ref ra, aRow, rowStride, kStride, ref rb, (nuint)(bOffset + j), bs, ref rc, cRow + (nuint)j, cs, k);
            }
            if (j + 2 * width <= vectorColumns)
            {
                Block4x2_Vector256(ref ra, aRow, rowStride, kStride, ref rb, (nuint)(bOffset + j), bs, ref rc, cRow + (nuint)j, cs, k);
                j += 2 * width;
            }
            if (j < vectorColumns)
            {
                Block4x1_Vector256(ref ra, aRow, rowStride, kStride, ref rb, (nuint)(bOffset + j), bs, ref rc, cRow + (nuint)j, cs, k);
            }
            for (var r = 0; r < RowBlock; r++)
            {
                ScalarTail(a, aOffset + (i + r) * rowStride, kStride, b, bOffset, bStride, c, cOffset + (i + r) * cStride, vectorColumns, columns, k);
            }
        }
        for (; i < lastRow; i++)
        {
            for (var j = 0; j < vectorColumns; j += width)
            {
                Row1x1_Vector256(ref ra, aOffset + i * rowStride, kStride, ref rb, (nuint)(bOffset + j), bs, ref rc, (nuint)(cOffset + i * cStride + j), k);
            }
            ScalarTail(a, aOffset + i * rowStride, kStride, b, bOffset, bStride, c, cOffset + i * cStride, vectorColumns, columns, k);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Block4x1_Vector256(ref float ra, int aRow, int rowStride, int kStride, ref float rb, nuint bAt, nuint bStride, ref float rc, nuint cAt, nuint cStride, int k)
    {
        var w = (nuint)Vector256<float>.Count;
        var s00 = Vector256.LoadUnsafe(ref rc, cAt + 0 * cStride + 0 * w);
        var s10 = Vector256.LoadUnsafe(ref rc, cAt + 1 * cStride + 0 * w);
        var s20 = Vector256.LoadUnsafe(ref rc, cAt + 2 * cStride + 0 * w);
        var s30 = Vector256.LoadUnsafe(ref rc, cAt + 3 * cStride + 0 * w);
        var a0 = aRow;
        var bk = bAt;
        for (var p = 0; p < k; p++)
        {
            var b0 = Vector256.LoadUnsafe(ref rb, bk + 0 * w);
            var x0 = Vector256.Create(Unsafe.Add(ref ra, a0));
            s00 = Vector256.FusedMultiplyAdd(x0, b0, s00);
            var x1 = Vector256.Create(Unsafe.Add(ref ra, a0 + rowStride));
            s10 = Vector256.FusedMultiplyAdd(x1, b0, s10);
            var x2 = Vector256.Create(Unsafe.Add(ref ra, a0 + 2 * rowStride));
            s20 = Vector256.FusedMultiplyAdd(x2, b0, s20);
            var x3 = Vector256.Create(Unsafe.Add(ref ra, a0 + 3 * rowStride));
            s30 = Vector256.FusedMultiplyAdd(x3, b0, s30);
            a0 += kStride;
            bk += bStride;
        }
        s00.StoreUnsafe(ref rc, cAt + 0 * cStride + 0 * w);
        s10.StoreUnsafe(ref rc, cAt + 1 * cStride + 0 * w);
        s20.StoreUnsafe(ref rc, cAt + 2 * cStride + 0 * w);
        s30.StoreUnsafe(ref rc, cAt + 3 * cStride + 0 * w);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Block4x2_Vector256(ref float ra, int aRow, int rowStride, int kStride, ref float rb, nuint bAt, nuint bStride, ref float rc, nuint cAt, nuint cStride, int k)
    {
        var w = (nuint)Vector256<float>.Count;
        var s00 = Vector256.LoadUnsafe(ref rc, cAt + 0 * cStride + 0 * w);
        var s01 = Vector256.LoadUnsafe(ref rc, cAt + 0 * cStride + 1 * w);
        var s10 = Vector256.LoadUnsafe(ref rc, cAt + 1 * cStride + 0 * w);
        var s11 = Vector256.LoadUnsafe(ref rc, cAt + 1 * cStride + 1 * w);
        var s20 = Vector256.LoadUnsafe(ref rc, cAt + 2 * cStride + 0 * w);
        var s21 = Vector256.LoadUnsafe(ref rc, cAt + 2 * cStride + 1 * w);
        var s30 = Vector256.LoadUnsafe(ref rc, cAt + 3 * cStride + 0 * w);
        var s31 = Vector256.LoadUnsafe(ref rc, cAt + 3 * cStride + 1 * w);
        var a0 = aRow;
        var bk = bAt;
        for (var p = 0; p < k; p++)
        {
            var b0 = Vector256.LoadUnsafe(ref rb, bk + 0 * w);
            var b1 = Vector256.LoadUnsafe(ref rb, bk + 1 * w);
            var x0 = Vector256.Create(Unsafe.Add(ref ra, a0));
            s00 = Vector256.FusedMultiplyAdd(x0, b0, s00);
            s01 = Vector256.FusedMultiplyAdd(x0, b1, s01);
            var x1 = Vector256.Create(Unsafe.Add(ref ra, a0 + rowStride));
            s10 = Vector256.FusedMultiplyAdd(x1, b0, s10);
            s11 = Vector256.FusedMultiplyAdd(x1, b1, s11);
            var x2 = Vector256.Create(Unsafe.Add(ref ra, a0 + 2 * rowStride));
            s20 = Vector256.FusedMultiplyAdd(x2, b0, s20);
            s21 = Vector256.FusedMultiplyAdd(x2, b1, s21);
            var x3 = Vector256.Create(Unsafe.Add(ref ra, a0 + 3 * rowStride));
            s30 = Vector256.FusedMultiplyAdd(x3, b0, s30);
            s31 = Vector256.FusedMultiplyAdd(x3, b1, s31);
            a0 += kStride;
            bk += bStride;
        }
        s00.StoreUnsafe(ref rc, cAt + 0 * cStride + 0 * w);
        s01.StoreUnsafe(ref rc, cAt + 0 * cStride + 1 * w);
        s10.StoreUnsafe(ref rc, cAt + 1 * cStride + 0 * w);
        s11.StoreUnsafe(ref rc, cAt + 1 * cStride + 1 * w);
        s20.StoreUnsafe(ref rc, cAt + 2 * cStride + 0 * w);
        s21.StoreUnsafe(ref rc, cAt + 2 * cStride + 1 * w);
        s30.StoreUnsafe(ref rc, cAt + 3 * cStride + 0 * w);
        s31.StoreUnsafe(ref rc, cAt + 3 * cStride + 1 * w);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Block4x3_Vector256(ref float ra, int aRow, int rowStride, int kStride, ref float rb, nuint bAt, nuint bStride, ref float rc, nuint cAt, nuint cStride, int k)
    {
        var w = (nuint)Vector256<float>.Count;
        var s00 = Vector256.LoadUnsafe(ref rc, cAt + 0 * cStride + 0 * w);
        var s01 = Vector256.LoadUnsafe(ref rc, cAt + 0 * cStride + 1 * w);
        var s02 = Vector256.LoadUnsafe(ref rc, cAt + 0 * cStride + 2 * w);
        var s10 = Vector256.LoadUnsafe(ref rc, cAt + 1 * cStride + 0 * w);
        var s11 = Vector256.LoadUnsafe(ref rc, cAt + 1 * cStride + 1 * w);
        var s12 = Vector256.LoadUnsafe(ref rc, cAt + 1 * cStride + 2 * w);
        var s20 = Vector256.LoadUnsafe(ref rc, cAt + 2 * cStride + 0 * w);
        var s21 = Vector256.LoadUnsafe(ref rc, cAt + 2 * cStride + 1 * w);
        var s22 = Vector256.LoadUnsafe(ref rc, cAt + 2 * cStride + 2 * w);
        var s30 = Vector256.LoadUnsafe(ref rc, cAt + 3 * cStride + 0 * w);
        var s31 = Vector256.LoadUnsafe(ref rc, cAt + 3 * cStride + 1 * w);
        var s32 = Vector256.LoadUnsafe(ref rc, cAt + 3 * cStride + 2 * w);
        var a0 = aRow;
        var bk = bAt;
        for (var p = 0; p < k; p++)
        {
            var b0 = Vector256.LoadUnsafe(ref rb, bk + 0 * w);
            var b1 = Vector256.LoadUnsafe(ref rb, bk + 1 * w);
            var b2 = Vector256.LoadUnsafe(ref rb, bk + 2 * w);
            var x0 = Vector256.Create(Unsafe.Add(ref ra, a0));
            s00 = Vector256.FusedMultiplyAdd(x0, b0, s00);
            s01 = Vector256.FusedMultiplyAdd(x0, b1, s01);
            s02 = Vector256.FusedMultiplyAdd(x0, b2, s02);
            var x1 = Vector256.Create(Unsafe.Add(ref ra, a0 + rowStride));
            s10 = Vector256.FusedMultiplyAdd(x1, b0, s10);
            s11 = Vector256.FusedMultiplyAdd(x1, b1, s11);
            s12 = Vector256.FusedMultiplyAdd(x1, b2, s12);
            var x2 = Vector256.Create(Unsafe.Add(ref ra, a0 + 2 * rowStride));
            s20 = Vector256.FusedMultiplyAdd(x2, b0, s20);
            s21 = Vector256.FusedMultiplyAdd(x2, b1, s21);
            s22 = Vector256.FusedMultiplyAdd(x2, b2, s22);
            var x3 = Vector256.Create(Unsafe.Add(ref ra, a0 + 3 * rowStride));
            s30 = Vector256.FusedMultiplyAdd(x3, b0, s30);
            s31 = Vector256.FusedMultiplyAdd(x3, b1, s31);
            s32 = Vector256.FusedMultiplyAdd(x3, b2, s32);
            a0 += kStride;
            bk += bStride;
        }
        s00.StoreUnsafe(ref rc, cAt + 0 * cStride + 0 * w);
        s01.StoreUnsafe(ref rc, cAt + 0 * cStride + 1 * w);
        s02.StoreUnsafe(ref rc, cAt + 0 * cStride + 2 * w);
        s10.StoreUnsafe(ref rc, cAt + 1 * cStride + 0 * w);
        s11.StoreUnsafe(ref rc, cAt + 1 * cStride + 1 * w);
        s12.StoreUnsafe(ref rc, cAt + 1 * cStride + 2 * w);
        s20.StoreUnsafe(ref rc, cAt + 2 * cStride + 0 * w);
        s21.StoreUnsafe(ref rc, cAt + 2 * cStride + 1 * w);
        s22.StoreUnsafe(ref rc, cAt + 2 * cStride + 2 * w);
        s30.StoreUnsafe(ref rc, cAt + 3 * cStride + 0 * w);
        s31.StoreUnsafe(ref rc, cAt + 3 * cStride + 1 * w);
        s32.StoreUnsafe(ref rc, cAt + 3 * cStride + 2 * w);
    }

    private static void Row1x1_Vector256(ref float ra, int aRow, int kStride, ref float rb, nuint bAt, nuint bStride, ref float rc, nuint cAt, int k)
    {
        var s = Vector256.LoadUnsafe(ref rc, cAt);
        var a0 = aRow;
        var bk = bAt;
        for (var p = 0; p < k; p++)
        {
            s = Vector256.FusedMultiplyAdd(Vector256.Create(Unsafe.Add(ref ra, a0)), Vector256.LoadUnsafe(ref rb, bk), s);
            a0 += kStride;
            bk += bStride;
        }
        s.StoreUnsafe(ref rc, cAt);
    }

    private static void RowRange_Vector512(float[] a, int aOffset, int rowStride, int kStride, float[] b, int bOffset, int bStride,
        float[] c, int cOffset, int cStride, int firstRow, int lastRow, int k, int columns)
    {
        var width = Vector512<float>.Count;
        var vectorColumns = columns / width * width;
        ref var ra = ref MemoryMarshal.GetArrayDataReference(a);
        ref var rb = ref MemoryMarshal.GetArrayDataReference(b);
        ref var rc = ref MemoryMarshal.GetArrayDataReference(c);
        var bs = (nuint)bStride;
        var cs = (nuint)cStride;
        var i = firstRow;
        for (; i + RowBlock <= lastRow; i += RowBlock)
        {
            var aRow = aOffset + i * rowStride;
            var cRow = (nuint)(cOffset + i * cStride);
            var j = 0;
            for (; j + 3 * width <= vectorColumns; j += 3 * width)
            {
                Block4x3_Vector512(ref ra, aRow, rowStride, kStride, ref rb, (nuint)(bOffset + j), bs, ref rc, cRow + (nuint)j, cs, k);
            }
            if (j + 2 * width <= vectorColumns)
            {
                Block4x2_Vector512(ref ra, aRow, rowStride, kStride, ref rb, (nuint)(bOffset + j), bs, ref rc, cRow + (nuint)j, cs, k);
                j += 2 * width;
            }
            if (j < vectorColumns)
            {
                Block4x1_Vector512(ref ra, aRow, rowStride, kStride, ref rb, (nuint)(bOffset + j), bs, ref rc, cRow + (nuint)j, cs, k);
            }
            for (var r = 0; r < RowBlock; r++)
            {
                ScalarTail(a, aOffset + (i + r) * rowStride, kStride, b, bOffset, bStride, c, cOffset + (i + r) * cStride, vectorColumns, columns, k);
            }
        }
        for (; i < lastRow; i++)
        {
            for (var j = 0; j < vectorColumns; j += width)
            {
                Row1x1_Vector512(ref ra, aOffset + i * rowStride, kStride, ref rb, (nuint)(bOffset + j), bs, ref rc, (nuint)(cOffset + i * cStride + j), k);
            }
            ScalarTail(a, aOffset + i * rowStride, kStride, b, bOffset, bStride, c, cOffset + i * cStride, vectorColumns, columns, k);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Block4x1_Vector512(ref float ra, int aRow, int rowStride, int kStride, ref float rb, nuint bAt, nuint bStride, ref float rc, nuint cAt, nuint cStride, int k)
    {
        var w = (nuint)Vector512<float>.Count;
        var s00 = Vector512.LoadUnsafe(ref rc, cAt + 0 * cStride + 0 * w);
        var s10 = Vector512.LoadUnsafe(ref rc, cAt + 1 * cStride + 0 * w);
        var s20 = Vector512.LoadUnsafe(ref rc, cAt + 2 * cStride + 0 * w);
        var s30 = Vector512.LoadUnsafe(ref rc, cAt + 3 * cStride + 0 * w);
        var a0 = aRow;
        var bk = bAt;
        for (var p = 0; p < k; p++)
        {
            var b0 = Vector512.LoadUnsafe(ref rb, bk + 0 * w);
            var x0 = Vector512.Create(Unsafe.Add(ref ra, a0));
            s00 = Vector512.FusedMultiplyAdd(x0, b0, s00);
            var x1 = Vector512.Create(Unsafe.Add(ref ra, a0 + rowStride));
            s10 = Vector512.FusedMultiplyAdd(x1, b0, s10);
            var x2 = Vector512.Create(Unsafe.Add(ref ra, a0 + 2 * rowStride));
            s20 = Vector512.FusedMultiplyAdd(x2, b0, s20);
            var x3 = Vector512.Create(Unsafe.Add(ref ra, a0 + 3 * rowStride));
            s30 = Vector512.FusedMultiplyAdd(x3, b0, s30);
            a0 += kStride;
            bk += bStride;
        }
        s00.StoreUnsafe(ref rc, cAt + 0 * cStride + 0 * w);
        s10.StoreUnsafe(ref rc, cAt + 1 * cStride + 0 * w);
        s20.StoreUnsafe(ref rc, cAt + 2 * cStride + 0 * w);
        s30.StoreUnsafe(ref rc, cAt + 3 * cStride + 0 * w);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Block4x2_Vector512(ref float ra, int aRow, int rowStride, int kStride, ref float rb, nuint bAt, nuint bStride, ref float rc, nuint cAt, nuint cStride, int k)
    {
        var w = (nuint)Vector512<float>.Count;
        var s00 = Vector512.LoadUnsafe(ref rc, cAt + 0 * cStride + 0 * w);
        var s01 = Vector512.LoadUnsafe(ref rc, cAt + 0 * cStride + 1 * w);
        var s10 = Vector512.LoadUnsafe(ref rc, cAt + 1 * cStride + 0 * w);
        var s11 = Vector512.LoadUnsafe(ref rc, cAt + 1 * cStride + 1 * w);
        var s20 = Vector512.LoadUnsafe(ref rc, cAt + 2 * cStride + 0 * w);
        var s21 = Vector512.LoadUnsafe(ref rc, cAt + 2 * cStride + 1 * w);
        var s30 = Vector512.LoadUnsafe(ref rc, cAt + 3 * cStride + 0 * w);
        var s31 = Vector512.LoadUnsafe(ref rc, cAt + 3 * cStride + 1 * w);
        var a0 = aRow;
        var bk = bAt;
        for (var p = 0; p < k; p++)
        {
            var b0 = Vector512.LoadUnsafe(ref rb, bk + 0 * w);
            var b1 = Vector512.LoadUnsafe(ref rb, bk + 1 * w);
            var x0 = Vector512.Create(Unsafe.Add(ref ra, a0));
            s00 = Vector512.FusedMultiplyAdd(x0, b0, s00);
            s01 = Vector512.FusedMultiplyAdd(x0, b1, s01);
            var x1 = Vector512.Create(Unsafe.Add(ref ra, a0 + rowStride));
            s10 = Vector512.FusedMultiplyAdd(x1, b0, s10);
            s11 = Vector512.FusedMultiplyAdd(x1, b1, s11);
            var x2 = Vector512.Create(Unsafe.Add(ref ra, a0 + 2 * rowStride));
            s20 = Vector512.FusedMultiplyAdd(x2, b0, s20);
            s21 = Vector512.FusedMultiplyAdd(x2, b1, s21);
            var x3 = Vector512.Create(Unsafe.Add(ref ra, a0 + 3 * rowStride));
            s30 = Vector512.FusedMultiplyAdd(x3, b0, s30);
            s31 = Vector512.FusedMultiplyAdd(x3, b1, s31);
            a0 += kStride;
            bk += bStride;
        }
        s00.StoreUnsafe(ref rc, cAt + 0 * cStride + 0 * w);
        s01.StoreUnsafe(ref rc, cAt + 0 * cStride + 1 * w);
        s10.StoreUnsafe(ref rc, cAt + 1 * cStride + 0 * w);
        s11.StoreUnsafe(ref rc, cAt + 1 * cStride + 1 * w);
        s20.StoreUnsafe(ref rc, cAt + 2 * cStride + 0 * w);
        s21.StoreUnsafe(ref rc, cAt + 2 * cStride + 1 * w);
        s30.StoreUnsafe(ref rc, cAt + 3 * cStride + 0 * w);
        s31.StoreUnsafe(ref rc, cAt + 3 * cStride + 1 * w);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Block4x3_Vector512(ref float ra, int aRow, int rowStride, int kStride, ref float rb, nuint bAt, nuint bStride, ref float rc, nuint cAt, nuint cStride, int k)
    {
        var w = (nuint)Vector512<float>.Count;
        var s00 = Vector512.LoadUnsafe(ref rc, cAt + 0 * cStride + 0 * w);
        var s01 = Vector512.LoadUnsafe(ref rc, cAt + 0 * cStride + 1 * w);
        var s02 = Vector512.LoadUnsafe(ref rc, cAt + 0 * cStride + 2 * w);
        var s10 = Vector512.LoadUnsafe(ref rc, cAt + 1 * cStride + 0 * w);
        var s11 = Vector512.LoadUnsafe(ref rc, cAt + 1 * cStride + 1 * w);
        var s12 = Vector512.LoadUnsafe(ref rc, cAt + 1 * cStride + 2 * w);
        var s20 = Vector512.LoadUnsafe(ref rc, cAt + 2 * cStride + 0 * w);
        var s21 = Vector512.LoadUnsafe(ref rc, cAt + 2 * cStride + 1 * w);
        var s22 = Vector512.LoadUnsafe(ref rc, cAt + 2 * cStride + 2 * w);
        var s30 = Vector512.LoadUnsafe(ref rc, cAt + 3 * cStride + 0 * w);
        var s31 = Vector512.LoadUnsafe(ref rc, cAt + 3 * cStride + 1 * w);
        var s32 = Vector512.LoadUnsafe(ref rc, cAt + 3 * cStride + 2 * w);
        var a0 = aRow;
        var bk = bAt;
        for (var p = 0; p < k; p++)
        {
            var b0 = Vector512.LoadUnsafe(ref rb, bk + 0 * w);
            var b1 = Vector512.LoadUnsafe(ref rb, bk + 1 * w);
            var b2 = Vector512.LoadUnsafe(ref rb, bk + 2 * w);
            var x0 = Vector512.Create(Unsafe.Add(ref ra, a0));
            s00 = Vector512.FusedMultiplyAdd(x0, b0, s00);
            s01 = Vector512.FusedMultiplyAdd(x0, b1, s01);
            s02 = Vector512.FusedMultiplyAdd(x0, b2, s02);
            var x1 = Vector512.Create(Unsafe.Add(ref ra, a0 + rowStride));
            s10 = Vector512.FusedMultiplyAdd(x1, b0, s10);
            s11 = Vector512.FusedMultiplyAdd(x1, b1, s11);
            s12 = Vector512.FusedMultiplyAdd(x1, b2, s12);
            var x2 = Vector512.Create(Unsafe.Add(ref ra, a0 + 2 * rowStride));
            s20 = Vector512.FusedMultiplyAdd(x2, b0, s20);
            s21 = Vector512.FusedMultiplyAdd(x2, b1, s21);
            s22 = Vector512.FusedMultiplyAdd(x2, b2, s22);
            var x3 = Vector512.Create(Unsafe.Add(ref ra, a0 + 3 * rowStride));
            s30 = Vector512.FusedMultiplyAdd(x3, b0, s30);
            s31 = Vector512.FusedMultiplyAdd(x3, b1, s31);
            s32 = Vector512.FusedMultiplyAdd(x3, b2, s32);
            a0 += kStride;
            bk += bStride;
        }
        s00.StoreUnsafe(ref rc, cAt + 0 * cStride + 0 * w);
        s01.StoreUnsafe(ref rc, cAt + 0 * cStride + 1 * w);
        s02.StoreUnsafe(ref rc, cAt + 0 * cStride + 2 * w);
        s10.StoreUnsafe(ref rc, cAt + 1 * cStride + 0 * w);
        s11.StoreUnsafe(ref rc, cAt + 1 * cStride + 1 * w);
        s12.StoreUnsafe(ref rc, cAt + 1 * cStride + 2 * w);
        s20.StoreUnsafe(ref rc, cAt + 2 * cStride + 0 * w);
        s21.StoreUnsafe(ref rc, cAt + 2 * cStride + 1 * w);
        s22.StoreUnsafe(ref rc, cAt + 2 * cStride + 2 * w);
        s30.StoreUnsafe(ref rc, cAt + 3 * cStride + 0 * w);
        s31.StoreUnsafe(ref rc, cAt + 3 * cStride + 1 * w);
        s32.StoreUnsafe(ref rc, cAt + 3 * cStride + 2 * w);
    }

    private static void Row1x1_Vector512(ref float ra, int aRow, int kStride, ref float rb, nuint bAt, nuint bStride, ref float rc, nuint cAt, int k)
    {
        var s = Vector512.LoadUnsafe(ref rc, cAt);
        var a0 = aRow;
        var bk = bAt;
        for (var p = 0; p < k; p++)
        {
            s = Vector512.FusedMultiplyAdd(Vector512.Create(Unsafe.Add(ref ra, a0)), Vector512.LoadUnsafe(ref rb, bk), s);
            a0 += kStride;
            bk += bStride;
        }
        s.StoreUnsafe(ref rc, cAt);
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
