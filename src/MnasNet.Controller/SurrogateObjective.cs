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
/// previous block's width as the only coupling. Latency is analytic from <see cref="CostModel"/> at 224×224.
/// </summary>
/// <remarks>
/// Because of that structure the optimum is known exactly: a dynamic programme over blocks keeps, for each width of
/// the last block so far, the Pareto front of (S, latency); the reward is increasing in S and non-increasing in
/// latency for both presets, so its maximum lies on the final front (<see cref="Optimum"/>).
/// </remarks>
public sealed class SurrogateObjective
{
    private const int Ops = 5, Kernels = 2, SeChoices = 2, Skips = 3, Filters = 3, Deltas = 3;
    private const double AccuracyFloor = 0.45, AccuracyRange = 0.40;

    private readonly MnasNetSearchSpace _space;
    private readonly double[,,] _opKernel, _seSkip, _opSkip, _filterLayers, _prevFilter;
    private readonly double[] _capacity, _referenceMacs;
    private readonly double _center;
    private readonly Dictionary<long, SurrogateOptimum> _optimumCache = [];

    public SurrogateObjective(SurrogateOptions? options = null, MnasNetSearchSpace? space = null)
    {
        Options = (options ?? SurrogateOptions.Default).Validate();
        _space = space ?? MnasNetSearchSpace.Default;
        var blocks = _space.Skeleton.Count;
        var random = new SeededRandom(SeededRandom.Derive(Options.Seed, "surrogate"));
        var s = Options.InteractionScale;
        _opKernel = Table(blocks, Ops, Kernels, random, s, (b, op, k) => OpPrior(op) + (k == 1 ? 0.04 * b / (blocks - 1) : 0));
        _seSkip = Table(blocks, SeChoices, Skips, random, s, (b, se, skip) =>
            (se == 1 ? 0.02 + 0.05 * b / (blocks - 1) : 0) + SkipPrior(skip));
        _opSkip = Table(blocks, Ops, Skips, random, s, (_, _, _) => 0);
        _filterLayers = Table(blocks, Filters, Deltas, random, s, (_, _, _) => 0);
        _prevFilter = Table(blocks, Filters + 1, Filters, random, s, (_, pf, f) => pf == f + 1 ? 0.03 : 0);
        _capacity = Enumerable.Range(0, blocks).Select(b => 0.12 + 0.06 * b / (blocks - 1)).ToArray();

        var reference = _space.Encode(ReferenceArchitectures.MobileNetV2);
        _referenceMacs = new double[blocks];
        foreach (var layer in CostModel.Compute(_space.Decode(reference)).Layers.Where(l => l.Block >= 0))
        {
            _referenceMacs[layer.Block] += layer.Macs;
        }
        _center = 0;
        _center = Evaluate(reference).Score - 0.5;
    }

    public SurrogateOptions Options { get; }

    /// <summary>Surrogate accuracy and latency (ms) of a token sequence; pure and deterministic.</summary>
    public SurrogateEvaluation Evaluate(IReadOnlyList<int> tokens)
    {
        var cost = CostModel.Compute(_space.Decode(tokens));
        var blockMacs = new double[_space.Skeleton.Count];
        var latency = 0.0;
        foreach (var layer in cost.Layers)
        {
            latency += LayerLatency(layer);
            if (layer.Block >= 0)
            {
                blockMacs[layer.Block] += layer.Macs;
            }
        }
        var score = 0.0;
        for (var b = 0; b < blockMacs.Length; b++)
        {
            var previous = b == 0 ? -1 : tokens[(b - 1) * MnasNetSearchSpace.DecisionsPerBlock + 4];
            score += BlockScore(b, previous, Slice(tokens, b), blockMacs[b]);
        }
        return new SurrogateEvaluation(Accuracy(score - _center), latency, score - _center);
    }

    /// <summary>Evaluate and reward in one call (the simulation's "trial").</summary>
    public RewardResult Reward(IReadOnlyList<int> tokens, LatencyTarget target)
    {
        var e = Evaluate(tokens);
        return RewardFormula.Compute(e.Accuracy, e.LatencyMs, target);
    }

    /// <summary>The exact optimum for a target (Pareto dynamic programme over blocks; see the class remarks). Cached.</summary>
    public SurrogateOptimum Optimum(LatencyTarget target)
    {
        ArgumentNullException.ThrowIfNull(target);
        var key = HashCode.Combine(target.TargetMs, target.Alpha, target.Beta);
        lock (_optimumCache)
        {
            if (_optimumCache.TryGetValue(key, out var cached))
            {
                return cached;
            }
        }
        var optimum = SolveOptimum(target);
        lock (_optimumCache)
        {
            _optimumCache[key] = optimum;
        }
        return optimum;
    }

    private SurrogateOptimum SolveOptimum(LatencyTarget target)
    {
        var blocks = _space.Skeleton.Count;
        var per = MnasNetSearchSpace.DecisionsPerBlock;
        var baseTokens = _space.Encode(ReferenceArchitectures.MobileNetV2);
        // Stem latency is the same for every architecture; head and classifier depend on the last block's width and
        // are charged to the last block.
        var stemLatency = LayerLatency(CostModel.Compute(_space.Decode(baseTokens)).Layers[0]);

        var nodes = new List<Node>();
        // fronts[f] = indices into nodes of the Pareto front whose last block has width choice f (−1: stem only).
        var fronts = new Dictionary<int, List<int>> { [-1] = [AddNode(nodes, new Node(0, stemLatency, -1, null))] };
        for (var b = 0; b < blocks; b++)
        {
            var candidates = new Dictionary<int, List<Node>>();
            foreach (var (previous, front) in fronts)
            {
                var combos = BlockCombos(b, previous, baseTokens);
                foreach (var combo in combos)
                {
                    var f = combo.Tokens[4];
                    if (!candidates.TryGetValue(f, out var list))
                    {
                        candidates[f] = list = [];
                    }
                    foreach (var n in front)
                    {
                        list.Add(new Node(nodes[n].Score + combo.Score, nodes[n].Latency + combo.Latency, n, combo.Tokens));
                    }
                }
            }
            fronts = candidates.ToDictionary(kv => kv.Key, kv => Pareto(kv.Value).Select(n => AddNode(nodes, n)).ToList());
        }

        var bestReward = double.NegativeInfinity;
        int[]? bestTokens = null;
        var paretoSize = 0;
        foreach (var n in fronts.Values.SelectMany(f => f))
        {
            paretoSize++;
            var r = RewardFormula.Compute(Accuracy(nodes[n].Score - _center), nodes[n].Latency, target).Reward;
            if (r > bestReward)
            {
                bestReward = r;
                bestTokens = Backtrack(nodes, n, blocks * per);
            }
        }
        var exact = Evaluate(bestTokens!);
        return new SurrogateOptimum(RewardFormula.Compute(exact.Accuracy, exact.LatencyMs, target).Reward, bestTokens!, exact.Accuracy, exact.LatencyMs, paretoSize);
    }

    private sealed record Node(double Score, double Latency, int Parent, int[]? BlockTokens);

    private sealed record Combo(int[] Tokens, double Score, double Latency);

    private static int AddNode(List<Node> nodes, Node node)
    {
        nodes.Add(node);
        return nodes.Count - 1;
    }

    private static int[] Backtrack(List<Node> nodes, int index, int length)
    {
        var tokens = new List<int[]>();
        for (var n = index; nodes[n].BlockTokens is { } t; n = nodes[n].Parent)
        {
            tokens.Add(t);
        }
        tokens.Reverse();
        var flat = tokens.SelectMany(t => t).ToArray();
        return flat.Length == length ? flat : throw new InvalidOperationException("surrogate optimum: broken back-pointers");
    }

    /// <summary>Keeps the nodes no other node beats on both score (higher) and latency (lower).</summary>
    private static IEnumerable<Node> Pareto(List<Node> nodes)
    {
        var best = double.NegativeInfinity;
        foreach (var n in nodes.OrderBy(n => n.Latency).ThenByDescending(n => n.Score))
        {
            if (n.Score > best)
            {
                best = n.Score;
                yield return n;
            }
        }
    }

    /// <summary>Every allowed setting of block b with its score and latency, given the previous block's width choice.</summary>
    private List<Combo> BlockCombos(int b, int previous, int[] baseTokens)
    {
        var per = MnasNetSearchSpace.DecisionsPerBlock;
        var last = b == _space.Skeleton.Count - 1;
        var combos = new List<Combo>();
        var tokens = baseTokens.ToArray();
        if (b > 0)
        {
            tokens[(b - 1) * per + 4] = previous;
        }
        foreach (var block in BlockSettings(b))
        {
            block.CopyTo(tokens, b * per);
            var cost = CostModel.Compute(_space.Decode(tokens));
            var macs = 0.0;
            var latency = 0.0;
            foreach (var layer in cost.Layers)
            {
                if (layer.Block == b)
                {
                    macs += layer.Macs;
                    latency += LayerLatency(layer);
                }
                else if (last && layer.Block < 0 && layer.Kind != LayerKind.Stem)
                {
                    latency += LayerLatency(layer);
                }
            }
            combos.Add(new Combo(block, BlockScore(b, previous, block, macs), latency));
        }
        // Within one (previous width, own width) pair only the block's own Pareto front can be part of an optimum.
        return combos.GroupBy(c => c.Tokens[4])
            .SelectMany(g => Pareto(g.Select(c => new Node(c.Score, c.Latency, -1, c.Tokens)).ToList())
                .Select(n => new Combo(n.BlockTokens!, n.Score, n.Latency)))
            .ToList();
    }

    private IEnumerable<int[]> BlockSettings(int b)
    {
        var per = MnasNetSearchSpace.DecisionsPerBlock;
        var decisions = Enumerable.Range(0, per).Select(i => _space.Decisions[b * per + i]).ToArray();
        IEnumerable<int[]> settings = [[]];
        foreach (var d in decisions)
        {
            var choices = Enumerable.Range(0, d.Choices.Count).Where(c => d.Allowed[c]).ToArray();
            settings = settings.SelectMany(prefix => choices.Select(c => (int[])[.. prefix, c])).ToArray();
        }
        return settings;
    }

    private double BlockScore(int b, int previous, ReadOnlySpan<int> t, double macs) =>
        _capacity[b] * Math.Log(macs / _referenceMacs[b])
        + _opKernel[b, t[0], t[1]]
        + _seSkip[b, t[2], t[3]]
        + _opSkip[b, t[0], t[3]]
        + _filterLayers[b, t[4], t[5]]
        + _prevFilter[b, previous + 1, t[4]];

    private double LayerLatency(LayerCost layer) =>
        layer.Macs / Options.MacsPerMs
        + Options.LayerOverheadMs
        + (layer.SeChannels > 0 ? Options.SeOverheadMs : 0)
        + (layer.HasResidual ? Options.ResidualOverheadMs : 0);

    private static double Accuracy(double centeredScore) => AccuracyFloor + AccuracyRange / (1 + Math.Exp(-centeredScore));

    private static ReadOnlySpan<int> Slice(IReadOnlyList<int> tokens, int block)
    {
        var per = MnasNetSearchSpace.DecisionsPerBlock;
        var result = new int[per];
        for (var i = 0; i < per; i++)
        {
            result[i] = tokens[block * per + i];
        }
        return result;
    }

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
