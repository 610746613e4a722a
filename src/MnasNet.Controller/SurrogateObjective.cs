using MnasNet.SearchSpace;

namespace MnasNet.Controller;

/// <summary>
/// Settings of the surrogate objective. Latency is analytic: per layer, MACs / <paramref name="MacsPerMs"/> plus fixed
/// overheads (a mobile CPU at ~4 GMAC/s puts MobileNetV2's 301 M MACs near 78 ms, the paper's Pixel-1 range).
/// </summary>
public sealed record SurrogateOptions(
    ulong Seed = 1,
    double MacsPerMs = 4.0e6,
    double LayerOverheadMs = 0.12,
    double SeOverheadMs = 0.25,
    double ResidualOverheadMs = 0.05,
    double InteractionScale = 0.08)
{
    public static SurrogateOptions Default { get; } = new();

    public SurrogateOptions Validate()
    {
        if (!(MacsPerMs > 0 && double.IsFinite(MacsPerMs)))
        {
            throw new ControllerException($"surrogate MacsPerMs must be positive, got {MacsPerMs}");
        }
        if (!(LayerOverheadMs >= 0 && SeOverheadMs >= 0 && ResidualOverheadMs >= 0))
        {
            throw new ControllerException("surrogate overheads must be non-negative");
        }
        if (!(InteractionScale >= 0 && InteractionScale <= 10))
        {
            throw new ControllerException($"surrogate InteractionScale must be in [0, 10], got {InteractionScale}");
        }
        return this;
    }
}

/// <summary>Surrogate accuracy and latency of one architecture; Score is the accuracy's pre-squash sum.</summary>
public sealed record SurrogateEvaluation(double Accuracy, double LatencyMs, double Score);

/// <summary>The exact best reward of a surrogate for one latency target, with the architecture that reaches it.</summary>
public sealed record SurrogateOptimum(double Reward, IReadOnlyList<int> Tokens, double Accuracy, double LatencyMs, int ParetoSize);

/// <summary>
/// A deterministic, seeded stand-in for "train and measure" used by tests, <c>controller simulate</c> and the
/// simulated actors. Accuracy = 0.45 + 0.4·σ(S), where S sums, per block: a capacity term (log of the block's MACs —
/// which depends jointly on op, expansion, kernel, width, depth and the previous block's width), seeded pairwise
/// tables (op×kernel, SE×skip, op×skip, width×depth) with a plausible prior (expansion, SE, identity skips help), and
/// a cross-block width×previous-width table. So it is not separable by decision, yet decomposes by block with the
/// previous block's width as the only coupling, and its optimum is exact (<see cref="BlockObjective"/>). Latency is
/// analytic from <see cref="CostModel"/> at 224×224.
/// </summary>
public sealed class SurrogateObjective : BlockObjective
{
    private const int Ops = 5, Kernels = 2, SeChoices = 2, Skips = 3, Filters = 3, Deltas = 3;
    private const double AccuracyFloor = 0.45, AccuracyRange = 0.40;

    private readonly double[,,] _opKernel, _seSkip, _opSkip, _filterLayers, _prevFilter;
    private readonly double[] _capacity;

    public SurrogateObjective(SurrogateOptions? options = null, MnasNetSearchSpace? space = null)
        : base(LatencyOf(options ??= SurrogateOptions.Default), space)
    {
        Options = options.Validate();
        var blocks = Space.Skeleton.Count;
        var random = new SeededRandom(SeededRandom.Derive(Options.Seed, "surrogate"));
        var s = Options.InteractionScale;
        _opKernel = Table(blocks, Ops, Kernels, random, s, (b, op, k) => OpPrior(op) + (k == 1 ? 0.04 * b / (blocks - 1) : 0));
        _seSkip = Table(blocks, SeChoices, Skips, random, s, (b, se, skip) =>
            (se == 1 ? 0.02 + 0.05 * b / (blocks - 1) : 0) + SkipPrior(skip));
        _opSkip = Table(blocks, Ops, Skips, random, s, (_, _, _) => 0);
        _filterLayers = Table(blocks, Filters, Deltas, random, s, (_, _, _) => 0);
        _prevFilter = Table(blocks, Filters + 1, Filters, random, s, (_, pf, f) => pf == f + 1 ? 0.03 : 0);
        _capacity = Enumerable.Range(0, blocks).Select(b => 0.12 + 0.06 * b / (blocks - 1)).ToArray();
        Center = Evaluate(Space.Encode(ReferenceArchitectures.MobileNetV2)).Score - 0.5;
    }

    public SurrogateOptions Options { get; }

    private static AnalyticLatency LatencyOf(SurrogateOptions options) =>
        new(options.Validate().MacsPerMs, options.LayerOverheadMs, options.SeOverheadMs, options.ResidualOverheadMs);

    protected override double BlockScore(int b, int previous, ReadOnlySpan<int> t, double macs) =>
        _capacity[b] * Math.Log(macs / ReferenceMacs[b])
        + _opKernel[b, t[0], t[1]]
        + _seSkip[b, t[2], t[3]]
        + _opSkip[b, t[0], t[3]]
        + _filterLayers[b, t[4], t[5]]
        + _prevFilter[b, previous + 1, t[4]];

    protected override double AccuracyOf(double centeredScore) => AccuracyFloor + AccuracyRange / (1 + Math.Exp(-centeredScore));

    // Choice order of ConvOp: conv, sepconv, mbconv-e1, mbconv-e3, mbconv-e6.
    private static double OpPrior(int op) => op switch
    {
        0 => 0.02,
        1 => -0.06,
        2 => -0.04,
        3 => 0.03,
        _ => 0.06,
    };

    // Choice order of Skip: pool, identity, none.
    private static double SkipPrior(int skip) => skip switch
    {
        0 => 0.02,
        1 => 0.06,
        _ => 0.0,
    };

    private static double[,,] Table(int blocks, int rows, int columns, SeededRandom random, double scale, Func<int, int, int, double> prior)
    {
        var table = new double[blocks, rows, columns];
        for (var b = 0; b < blocks; b++)
        {
            for (var r = 0; r < rows; r++)
            {
                for (var c = 0; c < columns; c++)
                {
                    table[b, r, c] = prior(b, r, c) + scale * random.NextGaussian();
                }
            }
        }
        return table;
    }
}
