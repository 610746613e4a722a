namespace MnasNet.Cli.Reporting;

/// <summary>
/// The typeface the plots are drawn with. The SkiaSharp native build in use has no fontconfig, so it finds no
/// system font and ScottPlot would draw every text (title, labels, ticks, legend) with an empty typeface: nothing.
/// A .ttf file is therefore loaded explicitly: $MNASNET_PLOT_FONT, else Debian's fonts-dejavu-core, else the
/// first .ttf under /usr/share/fonts.
/// </summary>
public static class PlotFont
{
    public const string Name = "MnasNet Plot Sans";
    public const string EnvironmentVariable = "MNASNET_PLOT_FONT";
    public const string DejaVuSans = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf";
    private const string DejaVuSansBold = "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf";
    private const string SystemFonts = "/usr/share/fonts";

    private static readonly Lazy<string> Registered = new(Register, LazyThreadSafetyMode.ExecutionAndPublication);

    /// <summary>Registers the font with ScottPlot once per process and returns its file; throws when there is none.</summary>
    public static string Ensure() => Registered.Value;

    /// <summary>The font file to use, or null: the environment variable wins (and must name an existing file).</summary>
    public static string? Find(Func<string, string?> environment, Func<string, bool> fileExists, Func<IEnumerable<string>> systemFonts)
    {
        if (environment(EnvironmentVariable) is { Length: > 0 } chosen)
        {
            return fileExists(chosen)
                ? chosen
                : throw new CliInputException($"${EnvironmentVariable} names '{chosen}', which does not exist (it should be a .ttf font file)", ExitCodes.NotFound);
        }
        return fileExists(DejaVuSans) ? DejaVuSans : systemFonts().Order(StringComparer.Ordinal).FirstOrDefault();
    }

    private static string Register()
    {
        var file = Find(Environment.GetEnvironmentVariable, File.Exists,
            () => Directory.Exists(SystemFonts) ? Directory.EnumerateFiles(SystemFonts, "*.ttf", SearchOption.AllDirectories) : [])
            ?? throw new CliInputException(
                $"no font for the plots: {DejaVuSans} not found and no .ttf under {SystemFonts}; install Debian's fonts-dejavu-core " +
                $"(deploy/setup.sh does) or set ${EnvironmentVariable}=FILE.ttf", ExitCodes.Failure);
        ScottPlot.Fonts.AddFontFile(Name, file, bold: false);
        ScottPlot.Fonts.AddFontFile(Name, file == DejaVuSans && File.Exists(DejaVuSansBold) ? DejaVuSansBold : file, bold: true);
        ScottPlot.Fonts.Default = Name;
        return file;
    }
}
