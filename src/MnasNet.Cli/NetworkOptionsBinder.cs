using System.CommandLine;
using MnasNet.SearchSpace;

namespace MnasNet.Cli;

/// <summary>The network options shared by arch, train, latency and export: --resolution, --classes, --width, --input-channels.</summary>
public sealed class NetworkOptionsBinder(int defaultResolution = 224, int defaultClasses = 1000, int defaultInputChannels = 3)
{
    public Option<int> Resolution { get; } = new("--resolution") { Description = "Input resolution (pixels).", DefaultValueFactory = _ => defaultResolution };
    public Option<int> Classes { get; } = new("--classes") { Description = "Number of classes.", DefaultValueFactory = _ => defaultClasses };
    public Option<double> Width { get; } = new("--width") { Description = "Width multiplier.", DefaultValueFactory = _ => 1.0 };
    public Option<int> InputChannels { get; } = new("--input-channels") { Description = "Input channels (1 for grey images).", DefaultValueFactory = _ => defaultInputChannels };

    public void AddTo(Command command)
    {
        command.Options.Add(Resolution);
        command.Options.Add(Classes);
        command.Options.Add(Width);
        command.Options.Add(InputChannels);
    }

    public NetworkOptions Bind(ParseResult parseResult) => new NetworkOptions(
        parseResult.GetValue(Resolution),
        parseResult.GetValue(InputChannels),
        parseResult.GetValue(Classes),
        parseResult.GetValue(Width)).Validate();
}
