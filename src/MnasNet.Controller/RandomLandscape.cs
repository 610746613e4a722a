using MnasNet.SearchSpace;

namespace MnasNet.Controller;

/// <summary>
/// Settings of a seeded random landscape. <paramref name="Ruggedness"/> scales the pairwise-interaction terms
/// relative to the additive ones (0: additive — every decision has a best choice regardless of the others).
/// <paramref name="CapacityWeight"/> scales the capacity term (log of a block's MACs), which makes accuracy trade
/// against latency as in a real network.
/// </summary>
public sealed record RandomLandscapeOptions(
    ulong Seed = 1,
    double Ruggedness = 1.0,
    double AdditiveScale = 0.05,
    double InteractionScale = 0.04,
    double CapacityWeight = 1.0)
{
    public RandomLandscapeOptions Validate()
    {
        if (!(Ruggedness is >= 0 and <= 100))
        {
            throw new ControllerException($"landscape Ruggedness must be in [0, 100], got {Ruggedness}");
        }
        if (!(AdditiveScale is >= 0 and <= 10) || !(InteractionScale is >= 0 and <= 10) || !(CapacityWeight is >= 0 and <= 10))
        {
            throw new ControllerException("landscape scales must be in [0, 10]");
        }
        return this;
    }
}

/// <summary>
/// A seeded random landscape over the real space with the real latency model: accuracy = 0.45 + 0.4·σ(S − S₀) with
/// S = Σ_blocks [capacity · log(MACs / MobileNetV2's) + Σ_decisions a(choice) + ruggedness · (Σ_{pairs of decisions in
/// the block} b(choice, choice) + Σ_decisions c(previous block's width, choice))]; all tables N(0, scale²) from the seed.
/// Every pair of decisions inside a block interacts, and each decision interacts with the previous block's width, so
/// the optimum is still exact (<see cref="BlockObjective"/>). S₀ puts MobileNetV2 at 0.70.
/// </summary>
public sealed class RandomLandscape : BlockObjective
{
    private const int Per = MnasNetSearchSpace.DecisionsPerBlock;
    private const int MaxChoices = 5;

    private readonly double[,,] _additive;          // [block, decision, choice]
    private readonly double[,,,,] _pairs;           // [block, i, j, choice i, choice j], i < j
    private readonly double[,,,] _previousWidth;    // [block, previous width + 1, decision, choice]
    private readonly double[] _capacity;

    public RandomLandscape(RandomLandscapeOptions options, AnalyticLatency? latency = null, MnasNetSearchSpace? space = null)
        : base(latency ?? AnalyticLatency.Default, space)
    {
        Options = (options ?? throw new ArgumentNullException(nameof(options))).Validate();
        var blocks = Space.Skeleton.Count;
        var random = new SeededRandom(SeededRandom.Derive(Options.Seed, "random-landscape"));
        var interaction = Options.Ruggedness * Options.InteractionScale;
        _additive = new double[blocks, Per, MaxChoices];
        _pairs = new double[blocks, Per, Per, MaxChoices, MaxChoices];
        _previousWidth = new double[blocks, 4, Per, MaxChoices];
        for (var b = 0; b < blocks; b++)
        {
            for (var i = 0; i < Per; i++)
            {
                for (var c = 0; c < MaxChoices; c++)
                {
                    _additive[b, i, c] = Options.AdditiveScale * random.NextGaussian();
                }
            }
            for (var i = 0; i < Per; i++)
            {
                for (var j = i + 1; j < Per; j++)
                {
                    for (var ci = 0; ci < MaxChoices; ci++)
                    {
                        for (var cj = 0; cj < MaxChoices; cj++)
                        {
                            _pairs[b, i, j, ci, cj] = interaction * random.NextGaussian();
                        }
                    }
                }
            }
            for (var p = 0; p < 4; p++)
            {
                for (var i = 0; i < Per; i++)
                {
                    for (var c = 0; c < MaxChoices; c++)
                    {
                        _previousWidth[b, p, i, c] = interaction * random.NextGaussian();
                    }
                }
            }
        }
        _capacity = Enumerable.Range(0, blocks).Select(b => Options.CapacityWeight * (0.12 + 0.06 * b / (blocks - 1))).ToArray();
        Center = Evaluate(Space.Encode(ReferenceArchitectures.MobileNetV2)).Score - 0.5;
    }

    public RandomLandscapeOptions Options { get; }

    protected override double BlockScore(int b, int previousWidth, ReadOnlySpan<int> t, double macs)
    {
        var score = _capacity[b] * Math.Log(macs / ReferenceMacs[b]);
        for (var i = 0; i < Per; i++)
        {
            score += _additive[b, i, t[i]] + _previousWidth[b, previousWidth + 1, i, t[i]];
            for (var j = i + 1; j < Per; j++)
            {
                score += _pairs[b, i, j, t[i], t[j]];
            }
        }
        return score;
    }

    protected override double AccuracyOf(double centeredScore) => 0.45 + 0.40 / (1 + Math.Exp(-centeredScore));
}
