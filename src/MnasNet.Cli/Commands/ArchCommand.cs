using System.CommandLine;
using System.Globalization;
using MnasNet.SearchSpace;

namespace MnasNet.Cli.Commands;

/// <summary><c>mnasnet arch show</c>.</summary>
public sealed class ArchCommand : Command
{
    public ArchCommand() : base("arch", "Inspect architectures: references, token strings and JSON files.")
    {
        Subcommands.Add(new ArchShowCommand());
    }
}

public sealed class ArchShowCommand : CliCommand
{
    private readonly Argument<string> _arch = new("arch") { Description = "A reference name (mnasnet-a1, mnasnet-b1, mobilenet-v2), a token string or an architecture .json file." };
    private readonly NetworkOptionsBinder _network = new();
    private readonly Option<bool> _json = new("--json") { Description = "Print JSON." };

    public ArchShowCommand() : base("show", "A table of blocks with multiply-adds and parameters.")
    {
        Arguments.Add(_arch);
        _network.AddTo(this);
        Options.Add(_json);
    }

    protected override async Task<int> ExecuteAsync(ParseResult parseResult, TextWriter output, CancellationToken cancellationToken)
    {
        var arch = ArchitectureResolver.Resolve(parseResult.GetValue(_arch)!);
        var network = _network.Bind(parseResult);
        var cost = CostModel.Compute(arch, network);
        var space = MnasNetSearchSpace.Default;
        var tokens = space.TryEncode(arch, out var t) ? space.FormatTokens(t) : null;
        var name = ArchitectureResolver.NameOf(arch);
        if (parseResult.GetValue(_json))
        {
            await WriteJsonAsync(output, new
            {
                id = arch.Id,
                name,
                macs = cost.Macs,
                @params = cost.Params,
                tokens,
                network,
                stem = arch.Stem,
                head = arch.Head,
                blocks = ArchView.Blocks(arch, cost),
                architecture = System.Text.Json.JsonDocument.Parse(ArchitectureJson.ToJson(arch)).RootElement,
            });
            return ExitCodes.Success;
        }
        await output.WriteLineAsync($"{name ?? "architecture"} {arch.Id}  tokens: {tokens ?? "(outside the search space)"}");
        await output.WriteLineAsync(string.Create(CultureInfo.InvariantCulture,
            $"network: {network.Resolution}x{network.Resolution}x{network.InputChannels}, {network.Classes} classes, width {network.Width}"));
        await output.WriteLineAsync("  block  op          k  se    skip      out  n  s      MACs(M)  params(K)");
        await output.WriteLineAsync(string.Create(CultureInfo.InvariantCulture, $"  stem   conv        {arch.Stem.Kernel}  -     -      {cost.Layers[0].OutputChannels,5}  1  {arch.Stem.Stride}  {cost.Layers[0].Macs / 1e6,10:F2}  {cost.Layers[0].Params / 1e3,9:F1}"));
        foreach (var b in ArchView.Blocks(arch, cost))
        {
            await output.WriteLineAsync(string.Create(CultureInfo.InvariantCulture,
                $"  {b.Block,5}  {b.Op,-10}  {b.Kernel}  {b.Se,-4}  {b.Skip,-8}  {b.Channels,5}  {b.Layers}  {b.Stride}  {b.Macs / 1e6,10:F2}  {b.Params / 1e3,9:F1}"));
        }
        var headCost = cost.Layers[^2];
        var classifier = cost.Layers[^1];
        await output.WriteLineAsync(string.Create(CultureInfo.InvariantCulture, $"  head   conv        1  -     -      {headCost.OutputChannels,5}  1  1  {headCost.Macs / 1e6,10:F2}  {headCost.Params / 1e3,9:F1}"));
        await output.WriteLineAsync(string.Create(CultureInfo.InvariantCulture, $"  fc     linear      -  -     -      {classifier.OutputChannels,5}  -  -  {classifier.Macs / 1e6,10:F2}  {classifier.Params / 1e3,9:F1}"));
        await output.WriteLineAsync(string.Create(CultureInfo.InvariantCulture, $"total: {cost.Macs / 1e6:F1} M multiply-adds, {cost.Params:N0} parameters"));
        return ExitCodes.Success;
    }
}

/// <summary>Per-block rows shared by the JSON and table views.</summary>
public sealed record BlockView(int Block, string Op, int Expansion, int Kernel, double Se, string Skip, int Channels, int Layers, int Stride, long Macs, long Params);

public static class ArchView
{
    public static IReadOnlyList<BlockView> Blocks(Architecture arch, NetworkCost? cost = null)
    {
        cost ??= CostModel.Compute(arch);
        var scaled = arch.ScaleWidth(cost.Options.Width);
        return scaled.Blocks.Select((b, i) => new BlockView(
            i + 1,
            b.Op == ConvOp.MBConv ? $"mbconv-e{b.Expansion}" : b.Op.ToToken(),
            b.Expansion, b.Kernel, b.SeRatio, b.Skip.ToToken(), b.Channels, b.Layers, b.Stride,
            cost.Layers.Where(l => l.Block == i).Sum(l => l.Macs),
            cost.Layers.Where(l => l.Block == i).Sum(l => l.Params))).ToArray();
    }
}
