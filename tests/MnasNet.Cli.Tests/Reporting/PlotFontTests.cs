using MnasNet.Cli.Reporting;

namespace MnasNet.Cli.Tests.Reporting;

public sealed class PlotFontTests
{
    private static Func<string, string?> Env(string? value) => name => name == PlotFont.EnvironmentVariable ? value : null;

    [Fact]
    public void The_environment_wins_then_dejavu_then_the_first_system_font()
    {
        string[] fonts = ["/usr/share/fonts/b/Z.ttf", "/usr/share/fonts/a/Y.ttf"];
        Assert.Equal("/opt/f.ttf", PlotFont.Find(Env("/opt/f.ttf"), f => f == "/opt/f.ttf" || f == PlotFont.DejaVuSans, () => fonts));
        Assert.Equal(PlotFont.DejaVuSans, PlotFont.Find(Env(null), f => f == PlotFont.DejaVuSans, () => fonts));
        Assert.Equal("/usr/share/fonts/a/Y.ttf", PlotFont.Find(Env(""), _ => false, () => fonts));
        Assert.Null(PlotFont.Find(Env(null), _ => false, () => []));
    }

    [Fact]
    public void A_missing_font_named_by_the_environment_is_an_error_naming_it()
    {
        var e = Assert.Throws<CliInputException>(() => PlotFont.Find(Env("/nope.ttf"), _ => false, () => []));
        Assert.Equal(ExitCodes.NotFound, e.ExitCode);
        Assert.Contains("/nope.ttf", e.Message);
        Assert.Contains(PlotFont.EnvironmentVariable, e.Message);
    }

    [Fact]
    public void The_plots_use_dejavu_sans_from_fonts_dejavu_core()
    {
        Assert.True(File.Exists(PlotFont.DejaVuSans), $"{PlotFont.DejaVuSans} missing: deploy/setup.sh installs fonts-dejavu-core");
        if (Environment.GetEnvironmentVariable(PlotFont.EnvironmentVariable) is not { Length: > 0 })
        {
            Assert.Equal(PlotFont.DejaVuSans, PlotFont.Ensure());
        }
    }
}
