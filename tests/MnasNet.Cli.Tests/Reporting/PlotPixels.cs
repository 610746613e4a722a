using SkiaSharp;

namespace MnasNet.Cli.Tests.Reporting;

/// <summary>Decodes a PNG with SkiaSharp and counts pixels by kind in a rectangle.</summary>
internal sealed class PlotPixels : IDisposable
{
    private readonly SKBitmap _bitmap;

    public PlotPixels(byte[] png)
    {
        _bitmap = SKBitmap.Decode(png) ?? throw new InvalidOperationException("not a decodable image");
    }

    public int Width => _bitmap.Width;

    public int Height => _bitmap.Height;

    /// <summary>Pixels that differ from white by more than a faint anti-aliasing edge (text is dark on white).</summary>
    public int Ink(int left, int top, int right, int bottom) => Count(left, top, right, bottom, c => 255 * 3 - (c.Red + c.Green + c.Blue) > 120);

    /// <summary>Strongly coloured pixels (plots have them; black, grey and white text and tables do not).</summary>
    public int Colourful(int left, int top, int right, int bottom) =>
        Count(left, top, right, bottom, c => Math.Max(c.Red, Math.Max(c.Green, c.Blue)) - Math.Min(c.Red, Math.Min(c.Green, c.Blue)) > 80);

    public int Count(int left, int top, int right, int bottom, Func<SKColor, bool> kind)
    {
        var n = 0;
        for (var y = Math.Max(0, top); y < Math.Min(bottom, Height); y++)
        {
            for (var x = Math.Max(0, left); x < Math.Min(right, Width); x++)
            {
                if (kind(_bitmap.GetPixel(x, y)))
                {
                    n++;
                }
            }
        }
        return n;
    }

    public void Dispose() => _bitmap.Dispose();
}
