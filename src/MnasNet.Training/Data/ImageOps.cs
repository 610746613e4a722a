namespace MnasNet.Training.Data;

/// <summary>Pure pixel kernels on channel-planar byte images (deterministic, no native code).</summary>
public static class ImageOps
{
    /// <summary>Bilinear resize with half-pixel centres (torch's align_corners=false, no antialias).</summary>
    public static void ResizeBilinear(ReadOnlySpan<byte> source, int channels, int height, int width, Span<byte> target, int outHeight, int outWidth)
    {
        var sy = (double)height / outHeight;
        var sx = (double)width / outWidth;
        for (var c = 0; c < channels; c++)
        {
            var src = source.Slice(c * height * width, height * width);
            var dst = target.Slice(c * outHeight * outWidth, outHeight * outWidth);
            for (var y = 0; y < outHeight; y++)
            {
                var fy = Math.Max((y + 0.5) * sy - 0.5, 0);
                var y0 = Math.Min((int)fy, height - 1);
                var y1 = Math.Min(y0 + 1, height - 1);
                var wy = fy - y0;
                for (var x = 0; x < outWidth; x++)
                {
                    var fx = Math.Max((x + 0.5) * sx - 0.5, 0);
                    var x0 = Math.Min((int)fx, width - 1);
                    var x1 = Math.Min(x0 + 1, width - 1);
                    var wx = fx - x0;
                    var top = src[y0 * width + x0] * (1 - wx) + src[y0 * width + x1] * wx;
                    var bottom = src[y1 * width + x0] * (1 - wx) + src[y1 * width + x1] * wx;
                    dst[y * outWidth + x] = (byte)Math.Clamp(Math.Round(top * (1 - wy) + bottom * wy), 0, 255);
                }
            }
        }
    }

    /// <summary>
    /// Writes one normalized image into <paramref name="target"/> (C × H × W floats): a crop at
    /// (<paramref name="offsetY"/>, <paramref name="offsetX"/>) of the image zero-padded by <paramref name="padding"/>
    /// (padding pixels are 0 before normalization), optionally mirrored left-right.
    /// </summary>
    public static void WriteNormalized(
        ReadOnlySpan<byte> image, int channels, int height, int width, Span<float> target,
        ReadOnlySpan<float> mean, ReadOnlySpan<float> std, int padding, int offsetY, int offsetX, bool flip)
    {
        for (var c = 0; c < channels; c++)
        {
            var src = image.Slice(c * height * width, height * width);
            var dst = target.Slice(c * height * width, height * width);
            var scale = 1f / (255f * std[c]);
            var shift = -mean[c] / std[c];
            for (var y = 0; y < height; y++)
            {
                var sy = y + offsetY - padding;
                for (var x = 0; x < width; x++)
                {
                    var xx = flip ? width - 1 - x : x;
                    var sx = xx + offsetX - padding;
                    var inside = sy >= 0 && sy < height && sx >= 0 && sx < width;
                    dst[y * width + x] = (inside ? src[sy * width + sx] : 0) * scale + shift;
                }
            }
        }
    }
}
