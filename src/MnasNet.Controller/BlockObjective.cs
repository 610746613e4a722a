using MnasNet.SearchSpace;

namespace MnasNet.Controller;

/// <summary>
/// An objective over the real 42-token space whose accuracy is a non-decreasing function of a score that sums, per
/// block, a term of the block's own 6 tokens, its MACs and the previous block's width choice; latency is
/// <see cref="AnalyticLatency"/>. That structure (the previous width is the only coupling between blocks) makes the
/// optimum of the MnasNet reward exactly computable (<see cref="Optimum"/>). Pure and thread-safe.
/// </summary>
/// <remarks>
/// The optimum is a dynamic programme over blocks that keeps, for each width of the last block so far, the Pareto
/// front of (score, latency); the reward is non-decreasing in score and non-increasing in latency for both presets,
/// so its maximum lies on the final front.
/// </remarks>
public abstract class BlockObjective
{
    private readonly Dictionary<long, SurrogateOptimum> _optimumCache = [];

    protected BlockObjective(AnalyticLatency latency, MnasNetSearchSpace? space)
    {
        Latency = latency ?? throw new ArgumentNullException(nameof(latency));
        Space = space ?? MnasNetSearchSpace.Default;
        var reference = Space.Encode(ReferenceArchitectures.MobileNetV2);
        ReferenceMacs = new double[Space.Skeleton.Count];
        foreach (var layer in CostModel.Compute(Space.Decode(reference)).Layers.Where(l => l.Block >= 0))
        {
            ReferenceMacs[layer.Block] += layer.Macs;
        }
    }

    public AnalyticLatency Latency { get; }

    public MnasNetSearchSpace Space { get; }

    /// <summary>Per block, MobileNetV2's MACs: capacity terms are logs of a block's MACs relative to these.</summary>
    protected double[] ReferenceMacs { get; }

    /// <summary>Subtracted from the summed block scores before <see cref="AccuracyOf"/>.</summary>
    protected double Center { get; set; }

    /// <summary>The block's score term: block index, previous block's width choice (−1 for the first), its 6 tokens, its MACs.</summary>
    protected abstract double BlockScore(int block, int previousWidth, ReadOnlySpan<int> tokens, double macs);

    /// <summary>Accuracy of a centred score; must be non-decreasing.</summary>
    protected abstract double AccuracyOf(double centeredScore);

    /// <summary>Accuracy and latency (ms) of a token sequence; pure and deterministic.</summary>
    public SurrogateEvaluation Evaluate(IReadOnlyList<int> tokens)
    {
        var cost = CostModel.Compute(Space.Decode(tokens));
        var blockMacs = new double[Space.Skeleton.Count];
        var latency = 0.0;
        foreach (var layer in cost.Layers)
        {
            latency += Latency.Layer(layer);
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
        return new SurrogateEvaluation(AccuracyOf(score - Center), latency, score - Center);
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
        var blocks = Space.Skeleton.Count;
        var per = MnasNetSearchSpace.DecisionsPerBlock;
        var baseTokens = Space.Encode(ReferenceArchitectures.MobileNetV2);
        // Stem latency is the same for every architecture; head and classifier depend on the last block's width and
        // are charged to the last block.
        var stemLatency = Latency.Layer(CostModel.Compute(Space.Decode(baseTokens)).Layers[0]);

        var nodes = new List<Node>();
        // fronts[f] = indices into nodes of the Pareto front whose last block has width choice f (−1: stem only).
        var fronts = new Dictionary<int, List<int>> { [-1] = [AddNode(nodes, new Node(0, stemLatency, -1, null))] };
        for (var b = 0; b < blocks; b++)
        {
            var candidates = new Dictionary<int, List<Node>>();
            foreach (var (previous, front) in fronts)
            {
                foreach (var combo in BlockCombos(b, previous, baseTokens))
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
            var r = RewardFormula.Compute(AccuracyOf(nodes[n].Score - Center), nodes[n].Latency, target).Reward;
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
        return flat.Length == length ? flat : throw new InvalidOperationException("objective optimum: broken back-pointers");
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
        var last = b == Space.Skeleton.Count - 1;
        var combos = new List<Combo>();
        var tokens = baseTokens.ToArray();
        if (b > 0)
        {
            tokens[(b - 1) * per + 4] = previous;
        }
        foreach (var block in BlockSettings(b))
        {
            block.CopyTo(tokens, b * per);
            var cost = CostModel.Compute(Space.Decode(tokens));
            var macs = 0.0;
            var latency = 0.0;
            foreach (var layer in cost.Layers)
            {
                if (layer.Block == b)
                {
                    macs += layer.Macs;
                    latency += Latency.Layer(layer);
                }
                else if (last && layer.Block < 0 && layer.Kind != LayerKind.Stem)
                {
                    latency += Latency.Layer(layer);
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
        var decisions = Enumerable.Range(0, per).Select(i => Space.Decisions[b * per + i]).ToArray();
        IEnumerable<int[]> settings = [[]];
        foreach (var d in decisions)
        {
            var choices = Enumerable.Range(0, d.Choices.Count).Where(c => d.Allowed[c]).ToArray();
            settings = settings.SelectMany(prefix => choices.Select(c => (int[])[.. prefix, c])).ToArray();
        }
        return settings;
    }

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
}
