using System.Globalization;
using System.Text.RegularExpressions;

namespace MnasNet.SearchSpace;

/// <summary>The six decisions made for each block (paper §4.1), in token order.</summary>
public enum DecisionKind
{
    ConvOp,
    Kernel,
    SeRatio,
    Skip,
    FilterRatio,
    LayerDelta,
}

/// <summary>One stage of the MobileNetV2 skeleton: expansion t, channels c, layers n, stride s.</summary>
public sealed record BaseStage(int Expansion, int Channels, int Layers, int Stride);

/// <summary>One of the 42 decisions: which block, which kind, the labels of its choices and which are allowed.</summary>
public sealed record Decision(int Index, int Block, DecisionKind Kind, IReadOnlyList<string> Choices, IReadOnlyList<bool> Allowed)
{
    public int AllowedCount => Allowed.Count(a => a);

    public string Name => $"block{Block + 1}.{Kind switch
    {
        DecisionKind.ConvOp => "op",
        DecisionKind.Kernel => "kernel",
        DecisionKind.SeRatio => "se",
        DecisionKind.Skip => "skip",
        DecisionKind.FilterRatio => "filters",
        _ => "layers",
    }}";
}

/// <summary>
/// The MnasNet factorized hierarchical search space: 7 blocks on the MobileNetV2 skeleton, 6 decisions per block,
/// 42 tokens. A token is a choice index; a token sequence maps to exactly one architecture and back.
/// </summary>
/// <remarks>
/// Two rules keep that map one-to-one. Filter ratios never round onto the base width: below 1 gives strictly fewer
/// channels, above 1 strictly more (see <see cref="FilterChannels"/>). A layer delta that would leave a block with
/// no layers (−1 on a 1-layer stage) is not allowed; its choice is masked in <see cref="Decision.Allowed"/>.
/// </remarks>
public sealed partial class MnasNetSearchSpace
{
    public const string Version = "mnasnet-space/v1";
    public const int DecisionsPerBlock = 6;

    public static MnasNetSearchSpace Default { get; } = new();

    public IReadOnlyList<BaseStage> Skeleton { get; } =
    [
        new(1, 16, 1, 1), new(6, 24, 2, 2), new(6, 32, 3, 2), new(6, 64, 4, 2),
        new(6, 96, 3, 1), new(6, 160, 3, 2), new(6, 320, 1, 1),
    ];

    public StemSpec Stem { get; } = new(32, 3, 2);

    public HeadSpec Head { get; } = new(1280);

    /// <summary>ConvOp choices: op and expansion.</summary>
    public IReadOnlyList<(ConvOp Op, int Expansion)> ConvOps { get; } =
        [(ConvOp.Conv, 1), (ConvOp.SepConv, 1), (ConvOp.MBConv, 1), (ConvOp.MBConv, 3), (ConvOp.MBConv, 6)];

    public IReadOnlyList<int> Kernels { get; } = [3, 5];

    public IReadOnlyList<double> SeRatios { get; } = [0.0, 0.25];

    public IReadOnlyList<SkipOp> Skips { get; } = [SkipOp.Pool, SkipOp.Identity, SkipOp.None];

    public IReadOnlyList<double> FilterRatios { get; } = [0.75, 1.0, 1.25];

    public IReadOnlyList<int> LayerDeltas { get; } = [-1, 0, 1];

    public IReadOnlyList<Decision> Decisions { get; }

    public int DecisionCount => Decisions.Count;

    public MnasNetSearchSpace()
    {
        var decisions = new List<Decision>();
        for (var b = 0; b < Skeleton.Count; b++)
        {
            foreach (var kind in Enum.GetValues<DecisionKind>())
            {
                var labels = ChoiceLabels(kind);
                var allowed = labels.Select((_, i) => kind != DecisionKind.LayerDelta || Skeleton[b].Layers + LayerDeltas[i] >= 1).ToArray();
                decisions.Add(new Decision(decisions.Count, b, kind, labels, allowed));
            }
        }
        Decisions = decisions;
    }

    /// <summary>Number of choices of a decision kind (the controller's softmax width for it).</summary>
    public int ChoiceCount(DecisionKind kind) => ChoiceLabels(kind).Count;

    public IReadOnlyList<string> ChoiceLabels(DecisionKind kind) => kind switch
    {
        DecisionKind.ConvOp => ConvOps.Select(c => c.Op == ConvOp.MBConv ? $"mbconv-e{c.Expansion}" : c.Op.ToToken()).ToArray(),
        DecisionKind.Kernel => Kernels.Select(k => $"{k}x{k}").ToArray(),
        DecisionKind.SeRatio => SeRatios.Select(r => r.ToString(CultureInfo.InvariantCulture)).ToArray(),
        DecisionKind.Skip => Skips.Select(s => s.ToToken()).ToArray(),
        DecisionKind.FilterRatio => FilterRatios.Select(r => r.ToString(CultureInfo.InvariantCulture)).ToArray(),
        DecisionKind.LayerDelta => LayerDeltas.Select(d => d.ToString("+0;-0;0", CultureInfo.InvariantCulture)).ToArray(),
        _ => throw new ArgumentOutOfRangeException(nameof(kind)),
    };

    /// <summary>log10 of the number of distinct valid token sequences (= distinct architectures).</summary>
    public double Log10Size => Decisions.Sum(d => Math.Log10(d.AllowedCount));

    /// <summary>
    /// Output channels for a filter ratio: nearest multiple of 8, but never the base width unless the ratio is 1.
    /// </summary>
    public static int FilterChannels(int baseChannels, double ratio)
    {
        if (ratio == 1.0)
        {
            return baseChannels;
        }
        var c = Math.Max(Channels.Divisor, (int)Math.Round(baseChannels * ratio / Channels.Divisor, MidpointRounding.AwayFromZero) * Channels.Divisor);
        if (ratio < 1.0 && c >= baseChannels)
        {
            c = Math.Max(Channels.Divisor, baseChannels - Channels.Divisor);
        }
        else if (ratio > 1.0 && c <= baseChannels)
        {
            c = baseChannels + Channels.Divisor;
        }
        return c;
    }

    /// <summary>Checks length and every token's range and mask; the message names the decision.</summary>
    public void ValidateTokens(IReadOnlyList<int> tokens)
    {
        if (tokens.Count != DecisionCount)
        {
            throw new ArchitectureException($"tokens: expected {DecisionCount} tokens, got {tokens.Count}");
        }
        for (var i = 0; i < tokens.Count; i++)
        {
            var d = Decisions[i];
            var t = tokens[i];
            if (t < 0 || t >= d.Choices.Count)
            {
                throw new ArchitectureException($"token {i} ({d.Name}): {t} is out of range 0..{d.Choices.Count - 1}");
            }
            if (!d.Allowed[t])
            {
                throw new ArchitectureException($"token {i} ({d.Name}): choice {d.Choices[t]} is not allowed here (the block would have no layers)");
            }
        }
    }

    public Architecture Decode(IReadOnlyList<int> tokens)
    {
        ValidateTokens(tokens);
        var blocks = new BlockSpec[Skeleton.Count];
        for (var b = 0; b < Skeleton.Count; b++)
        {
            var t = tokens.Skip(b * DecisionsPerBlock).Take(DecisionsPerBlock).ToArray();
            var stage = Skeleton[b];
            var (op, expansion) = ConvOps[t[0]];
            blocks[b] = new BlockSpec(
                op, expansion, Kernels[t[1]], SeRatios[t[2]], Skips[t[3]],
                FilterChannels(stage.Channels, FilterRatios[t[4]]),
                stage.Layers + LayerDeltas[t[5]],
                stage.Stride);
        }
        return new Architecture(Stem, blocks, Head);
    }

    /// <summary>The tokens of an in-space architecture; throws naming the first field outside the space.</summary>
    public int[] Encode(Architecture arch)
    {
        arch.Validate();
        if (arch.Stem != Stem)
        {
            throw new ArchitectureException($"stem: not in the search space (the space fixes {Stem})");
        }
        if (arch.Head != Head)
        {
            throw new ArchitectureException($"head: not in the search space (the space fixes {Head.Channels} channels)");
        }
        if (arch.Blocks.Count != Skeleton.Count)
        {
            throw new ArchitectureException($"blocks: the search space has {Skeleton.Count} blocks, the architecture {arch.Blocks.Count}");
        }
        var tokens = new int[DecisionCount];
        for (var b = 0; b < Skeleton.Count; b++)
        {
            var block = arch.Blocks[b];
            var stage = Skeleton[b];
            var where = $"blocks[{b}]";
            var o = b * DecisionsPerBlock;
            tokens[o] = IndexOf(ConvOps, (block.Op, block.Expansion), $"{where}: {block.Op.ToToken()} with expansion {block.Expansion} is not a choice");
            tokens[o + 1] = IndexOf(Kernels, block.Kernel, $"{where}.kernel: {block.Kernel} is not a choice (3 or 5)");
            tokens[o + 2] = IndexOf(SeRatios, block.SeRatio, $"{where}.se: {block.SeRatio} is not a choice (0 or 0.25)");
            tokens[o + 3] = IndexOf(Skips, block.Skip, $"{where}.skip: not a choice");
            var channelChoices = FilterRatios.Select(r => FilterChannels(stage.Channels, r)).ToArray();
            tokens[o + 4] = IndexOf(channelChoices, block.Channels,
                $"{where}.channels: {block.Channels} is not a filter ratio of base {stage.Channels} (choices: {string.Join(", ", channelChoices)})");
            tokens[o + 5] = IndexOf(LayerDeltas, block.Layers - stage.Layers,
                $"{where}.layers: {block.Layers} is not base {stage.Layers} -1/0/+1");
            if (block.Stride != stage.Stride)
            {
                throw new ArchitectureException($"{where}.stride: the search space fixes stride {stage.Stride}");
            }
        }
        ValidateTokens(tokens);
        return tokens;
    }

    public bool TryEncode(Architecture arch, out int[] tokens)
    {
        try
        {
            tokens = Encode(arch);
            return true;
        }
        catch (ArchitectureException)
        {
            tokens = [];
            return false;
        }
    }

    /// <summary>Uniform over valid token sequences: each decision uniform over its allowed choices.</summary>
    public int[] Sample(SeededRandom random)
    {
        var tokens = new int[DecisionCount];
        for (var i = 0; i < DecisionCount; i++)
        {
            var allowed = Decisions[i].Allowed;
            var pick = random.NextInt(Decisions[i].AllowedCount);
            for (var c = 0; c < allowed.Count; c++)
            {
                if (allowed[c] && pick-- == 0)
                {
                    tokens[i] = c;
                    break;
                }
            }
        }
        return tokens;
    }

    /// <summary>Compact text form: 7 groups of 6 digits, e.g. <c>421111-431112-…</c>.</summary>
    public string FormatTokens(IReadOnlyList<int> tokens)
    {
        ValidateTokens(tokens);
        return string.Join('-', tokens.Chunk(DecisionsPerBlock).Select(g => string.Concat(g.Select(t => (char)('0' + t)))));
    }

    public static bool LooksLikeTokens(string text) => TokenPattern().IsMatch(text);

    public int[] ParseTokens(string text)
    {
        var groups = text.Trim().Split('-', ',', ' ', '_');
        if (groups.Any(g => g.Length == 0 || !g.All(char.IsAsciiDigit)))
        {
            throw new ArchitectureException($"tokens '{text}': expected {Skeleton.Count} groups of {DecisionsPerBlock} digits separated by '-'");
        }
        var tokens = groups.SelectMany(g => g.Select(c => c - '0')).ToArray();
        ValidateTokens(tokens);
        return tokens;
    }

    private static int IndexOf<T>(IReadOnlyList<T> list, T value, string error)
    {
        for (var i = 0; i < list.Count; i++)
        {
            if (EqualityComparer<T>.Default.Equals(list[i], value))
            {
                return i;
            }
        }
        throw new ArchitectureException(error + " — not in the search space");
    }

    [GeneratedRegex(@"^\s*\d+([-_, ]\d+)*\s*$")]
    private static partial Regex TokenPattern();
}
