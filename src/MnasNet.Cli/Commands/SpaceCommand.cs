using System.CommandLine;
using System.Globalization;
using MnasNet.SearchSpace;

namespace MnasNet.Cli.Commands;

/// <summary><c>mnasnet space describe|sample</c>.</summary>
public sealed class SpaceCommand : Command
{
    public SpaceCommand() : base("space", "Inspect the MnasNet search space.")
    {
        Subcommands.Add(new SpaceDescribeCommand());
        Subcommands.Add(new SpaceSampleCommand());
    }
}

public sealed class SpaceDescribeCommand : CliCommand
{
    private readonly Option<bool> _json = new("--json") { Description = "Print JSON." };

    public SpaceDescribeCommand() : base("describe", "Decisions, choices per decision and the size of the space.")
    {
        Options.Add(_json);
    }

    protected override async Task<int> ExecuteAsync(ParseResult parseResult, TextWriter output, CancellationToken cancellationToken)
    {
        var space = MnasNetSearchSpace.Default;
        if (parseResult.GetValue(_json))
        {
            await WriteJsonAsync(output, new
            {
                version = MnasNetSearchSpace.Version,
                decisionCount = space.DecisionCount,
                log10Size = Math.Round(space.Log10Size, 4),
                skeleton = space.Skeleton,
                stem = space.Stem,
                head = space.Head,
                decisions = space.Decisions.Select(d => new
                {
                    d.Index,
                    d.Name,
                    block = d.Block + 1,
                    kind = d.Kind.ToString(),
                    d.Choices,
                    allowed = d.Choices.Where((_, i) => d.Allowed[i]).ToArray(),
                }),
            });
            return ExitCodes.Success;
        }
        await output.WriteLineAsync($"{MnasNetSearchSpace.Version}: {space.Skeleton.Count} blocks x {MnasNetSearchSpace.DecisionsPerBlock} decisions = {space.DecisionCount} tokens");
        await output.WriteLineAsync($"stem {space.Stem.Kernel}x{space.Stem.Kernel}/{space.Stem.Stride} conv to {space.Stem.Channels}; head 1x1 conv to {space.Head.Channels}, pool, dropout, classifier");
        foreach (var kind in Enum.GetValues<DecisionKind>())
        {
            await output.WriteLineAsync($"  {kind,-12} {string.Join(" | ", space.ChoiceLabels(kind))}");
        }
        await output.WriteLineAsync("  block  base t,c,n,s      channels (0.75/1/1.25)  layers allowed");
        for (var b = 0; b < space.Skeleton.Count; b++)
        {
            var s = space.Skeleton[b];
            var channels = string.Join("/", space.FilterRatios.Select(r => MnasNetSearchSpace.FilterChannels(s.Channels, r)));
            var layers = string.Join(",", space.LayerDeltas.Where(d => s.Layers + d >= 1).Select(d => s.Layers + d));
            var stage = $"{s.Expansion},{s.Channels},{s.Layers},{s.Stride}";
            await output.WriteLineAsync($"  {b + 1,5}  {stage,-16} {channels,-23} {layers}");
        }
        await output.WriteLineAsync(string.Create(CultureInfo.InvariantCulture, $"size: 10^{space.Log10Size:F2} distinct architectures"));
        return ExitCodes.Success;
    }
}

public sealed class SpaceSampleCommand : CliCommand
{
    private readonly Option<ulong> _seed = new("--seed") { Description = "Random seed.", Required = true };
    private readonly Option<int> _count = new("--count") { Description = "How many architectures.", DefaultValueFactory = _ => 1 };
    private readonly Option<bool> _json = new("--json") { Description = "Print JSON." };

    public SpaceSampleCommand() : base("sample", "Sample architectures uniformly from the space.")
    {
        Options.Add(_seed);
        Options.Add(_count);
        Options.Add(_json);
    }

    protected override async Task<int> ExecuteAsync(ParseResult parseResult, TextWriter output, CancellationToken cancellationToken)
    {
        var count = parseResult.GetValue(_count);
        if (count < 1 || count > 100_000)
        {
            throw new CliInputException($"--count must be between 1 and 100000, got {count}");
        }
        var space = MnasNetSearchSpace.Default;
        var random = new SeededRandom(parseResult.GetValue(_seed));
        var samples = Enumerable.Range(0, count).Select(_ =>
        {
            var tokens = space.Sample(random);
            var arch = space.Decode(tokens);
            var cost = CostModel.Compute(arch);
            return new { id = arch.Id, tokens = space.FormatTokens(tokens), macs = cost.Macs, @params = cost.Params, arch };
        }).ToList();
        if (parseResult.GetValue(_json))
        {
            await WriteJsonAsync(output, samples.Select(s => new { s.id, s.tokens, s.macs, s.@params, blocks = ArchView.Blocks(s.arch) }));
            return ExitCodes.Success;
        }
        foreach (var s in samples)
        {
            await output.WriteLineAsync(string.Create(CultureInfo.InvariantCulture, $"{s.id}  {s.tokens}  {s.macs / 1e6,8:F1} M MACs  {s.@params / 1e6,6:F2} M params"));
        }
        return ExitCodes.Success;
    }
}
