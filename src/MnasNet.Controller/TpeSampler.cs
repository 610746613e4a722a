using MnasNet.SearchSpace;

namespace MnasNet.Controller;

/// <summary>
/// Settings of the tree-structured Parzen estimator. Defaults follow Optuna's <c>TPESampler</c> (γ(n) = min(⌈0.1·n⌉,
/// 25), prior weight 1, its trial weights) except <paramref name="StartupTrials"/> (42 decisions need a few more
/// random trials than Optuna's 10) and <paramref name="Candidates"/>: 4 instead of 24 keeps more exploration per
/// decision, which the benchmark suite measured as better at budgets up to 1000 (see the Controller README).
/// </summary>
public sealed record TpeOptions(
    int StartupTrials = 20,
    int Candidates = 4,
    double GammaFraction = 0.1,
    int MaxGood = 25,
    double PriorWeight = 1.0,
    ulong Seed = 0)
{
    public static TpeOptions Default { get; } = new();

    public TpeOptions Validate()
    {
        Check(StartupTrials is >= 1 and <= 1_000_000, nameof(StartupTrials), StartupTrials, "must be between 1 and 1000000");
        Check(Candidates is >= 1 and <= 10_000, nameof(Candidates), Candidates, "must be between 1 and 10000");
        Check(GammaFraction is > 0 and <= 1, nameof(GammaFraction), GammaFraction, "must be in (0, 1]");
        Check(MaxGood is >= 1 and <= 1_000_000, nameof(MaxGood), MaxGood, "must be between 1 and 1000000");
        Check(PriorWeight is > 0 and <= 1000, nameof(PriorWeight), PriorWeight, "must be in (0, 1000]");
        return this;
    }

    private static void Check<T>(bool ok, string name, T value, string rule)
    {
        if (!ok)
        {
            throw new ControllerException($"tpe option {name} {rule}, got {value}");
        }
    }
}

/// <summary>
/// Tree-structured Parzen estimator over the 42 categorical decisions (Bergstra et al. 2011, as in Optuna's
/// univariate <c>TPESampler</c>): the first StartupTrials proposals are uniform random; after that the observations
/// are split into the best γ(n) ("good") and the rest, each decision gets a categorical Parzen density per group
/// (one kernel per observation plus a uniform prior kernel), and each decision takes, among Candidates draws from its
/// good density l, the one with the highest l/g. A batch is proposed one architecture at a time with Optuna's
/// "constant liar": each proposal joins the bad group for the rest of the batch, so a batch does not repeat itself;
/// a proposal equal to an architecture already observed or proposed is drawn again (up to 16 times).
/// </summary>
/// <remarks>
/// Proposals are a function of the observations (tokens and rewards, in the order observed) and the random state
/// only, both of which the saved state holds, so a restored sampler proposes exactly what the original would.
/// </remarks>
public sealed class TpeSampler : ITrialSeededSampler
{
    internal const string Magic = "MNASTPE1";
    private const int FormatVersion = 1;
    private const int Redraws = 16;

    private readonly List<(int[] Tokens, double Reward)> _observed = [];
    private readonly HashSet<string> _seen = [];
    private readonly int[][] _allowedChoices;
    private SeededRandom _random;

    public TpeSampler(TpeOptions options, MnasNetSearchSpace? space = null)
    {
        Options = (options ?? throw new ArgumentNullException(nameof(options))).Validate();
        Space = space ?? MnasNetSearchSpace.Default;
        _random = new SeededRandom(SeededRandom.Derive(Options.Seed, "tpe"));
        _allowedChoices = Space.Decisions.Select(d => Enumerable.Range(0, d.Choices.Count).Where(c => d.Allowed[c]).ToArray()).ToArray();
    }

    public TpeOptions Options { get; }
    public MnasNetSearchSpace Space { get; }

    public long Proposed { get; private set; }

    public int ObservedCount => _observed.Count;

    public string Strategy => SearchStrategies.Tpe;

    public string Version => $"observed-{_observed.Count}";

    public IReadOnlyList<Proposal> Sample(int count)
    {
        if (count is < 1 or > 100_000)
        {
            throw new ControllerException($"sample count must be between 1 and 100000, got {count}");
        }
        var proposals = new Proposal[count];
        var version = Version;
        double[][]? goodDensity = null;
        List<int[]>? bad = null;
        var pending = new HashSet<string>();
        for (var j = 0; j < count; j++)
        {
            int[] tokens;
            if (Proposed < Options.StartupTrials || _observed.Count < 2)
            {
                tokens = Space.Sample(_random);
            }
            else
            {
                if (goodDensity is null)
                {
                    var (good, rest) = Split();
                    goodDensity = Densities(good.Select(i => _observed[i].Tokens).ToList());
                    bad = rest;
                }
                var badDensity = Densities(bad!);
                tokens = Propose(goodDensity, badDensity);
                for (var attempt = 0; attempt < Redraws && IsRepeat(tokens, pending); attempt++)
                {
                    tokens = Propose(goodDensity, badDensity);
                }
                bad!.Add(tokens);
            }
            pending.Add(Key(tokens));
            proposals[j] = new Proposal(tokens, null, version);
            Proposed++;
        }
        return proposals;
    }

    /// <summary>How many trials a warm start hands it: enough for the good group and a wide bad group.</summary>
    public int SeedCapacity => 1000;

    /// <summary>The trials are observed as if proposed: they count towards the random start-up trials.</summary>
    public void Seed(IReadOnlyList<ScoredSample> trials)
    {
        Observe(trials);
        Proposed += trials.Count;
    }

    public SamplerStep Observe(IReadOnlyList<ScoredSample> batch)
    {
        ArgumentNullException.ThrowIfNull(batch);
        var before = Version;
        for (var j = 0; j < batch.Count; j++)
        {
            var s = batch[j] ?? throw new ControllerException($"observe: sample {j} is null");
            try
            {
                Space.ValidateTokens(s.Tokens);
            }
            catch (ArchitectureException e)
            {
                throw new ControllerException($"observe: sample {j}: {e.Message}", e);
            }
            if (!double.IsFinite(s.Reward))
            {
                throw new ControllerException($"observe: sample {j} has a non-finite reward {s.Reward}");
            }
        }
        foreach (var s in batch)
        {
            Add(s.Tokens.ToArray(), s.Reward);
        }
        return SamplerStep.Unlearned(before, Version, batch);
    }

    private void Add(int[] tokens, double reward)
    {
        _observed.Add((tokens, reward));
        _seen.Add(Key(tokens));
    }

    private bool IsRepeat(int[] tokens, HashSet<string> pending)
    {
        var key = Key(tokens);
        return _seen.Contains(key) || pending.Contains(key);
    }

    private static string Key(IReadOnlyList<int> tokens) => string.Concat(tokens.Select(t => (char)('0' + t)));

    /// <summary>Good = the best γ(n) observations (ties: earlier first), bad = the rest; both in observation order.</summary>
    private (List<int> Good, List<int[]> Bad) Split()
    {
        var n = _observed.Count;
        var goodCount = Math.Min((int)Math.Ceiling(Options.GammaFraction * n), Options.MaxGood);
        var ranked = Enumerable.Range(0, n).OrderByDescending(i => _observed[i].Reward).ThenBy(i => i).Take(goodCount).ToHashSet();
        var good = Enumerable.Range(0, n).Where(ranked.Contains).ToList();
        var bad = Enumerable.Range(0, n).Where(i => !ranked.Contains(i)).Select(i => _observed[i].Tokens).ToList();
        return (good, bad);
    }

    /// <summary>
    /// Per decision, the probability of each choice under the group's Parzen mixture (Optuna's categorical kernels:
    /// an observation's kernel puts weight 1 + a on its choice and a on the others, a = prior weight / kernels; the
    /// prior kernel is uniform; mixture weights are Optuna's default trial weights plus the prior weight).
    /// </summary>
    private double[][] Densities(IReadOnlyList<int[]> members)
    {
        var m = members.Count;
        var trialWeights = TrialWeights(m);
        var total = trialWeights.Sum() + Options.PriorWeight;
        var a = Options.PriorWeight / (m + 1);
        var result = new double[Space.DecisionCount][];
        for (var i = 0; i < Space.DecisionCount; i++)
        {
            var allowed = _allowedChoices[i];
            var k = allowed.Length;
            var mass = new double[Space.Decisions[i].Choices.Count];
            var kernelNorm = a * k + 1;
            for (var o = 0; o < m; o++)
            {
                mass[members[o][i]] += trialWeights[o] / kernelNorm;
            }
            var spread = trialWeights.Sum() * a / kernelNorm + Options.PriorWeight / k;
            foreach (var c in allowed)
            {
                mass[c] = (mass[c] + spread) / total;
            }
            result[i] = mass;
        }
        return result;
    }

    /// <summary>Optuna's default_weights: 1 for the newest 25, a linear ramp from 1/n up for the older ones.</summary>
    private static double[] TrialWeights(int n)
    {
        var weights = new double[n];
        const int flat = 25;
        for (var o = 0; o < n; o++)
        {
            weights[o] = n <= flat || o >= n - flat ? 1.0 : 1.0 / n + (1 - 1.0 / n) * o / Math.Max(1, n - flat - 1);
        }
        return weights;
    }

    private int[] Propose(double[][] good, double[][] bad)
    {
        var tokens = new int[Space.DecisionCount];
        for (var i = 0; i < tokens.Length; i++)
        {
            var best = -1;
            var bestScore = double.NegativeInfinity;
            for (var c = 0; c < Options.Candidates; c++)
            {
                var choice = Draw(good[i], _allowedChoices[i]);
                var score = Math.Log(good[i][choice]) - Math.Log(bad[i][choice]);
                if (score > bestScore)
                {
                    (best, bestScore) = (choice, score);
                }
            }
            tokens[i] = best;
        }
        return tokens;
    }

    private int Draw(double[] probabilities, int[] allowed)
    {
        var u = _random.NextDouble();
        var cumulative = 0.0;
        foreach (var c in allowed)
        {
            cumulative += probabilities[c];
            if (u < cumulative)
            {
                return c;
            }
        }
        return allowed[^1];
    }

    public byte[] SaveState() => StateCodec.Write(Magic, FormatVersion, w =>
    {
        w.Write(Options.StartupTrials);
        w.Write(Options.Candidates);
        w.Write(Options.GammaFraction);
        w.Write(Options.MaxGood);
        w.Write(Options.PriorWeight);
        w.Write(Options.Seed);
        w.Write(Proposed);
        StateCodec.WriteRandom(w, _random);
        w.Write(_observed.Count);
        foreach (var (tokens, reward) in _observed)
        {
            StateCodec.WriteTokens(w, tokens);
            w.Write(reward);
        }
    });

    public static TpeSampler Restore(byte[] state) => StateCodec.Read(state, Magic, FormatVersion, "tpe", r =>
    {
        var options = new TpeOptions(r.ReadInt32(), r.ReadInt32(), r.ReadDouble(), r.ReadInt32(), r.ReadDouble(), r.ReadUInt64());
        var sampler = new TpeSampler(options) { Proposed = r.ReadInt64() };
        sampler._random = StateCodec.ReadRandom(r);
        var count = r.ReadInt32();
        if (count is < 0 or > 100_000_000)
        {
            throw new ControllerException($"tpe state: implausible observation count {count}");
        }
        for (var i = 0; i < count; i++)
        {
            var tokens = StateCodec.ReadTokens(r);
            sampler.Space.ValidateTokens(tokens);
            sampler.Add(tokens, r.ReadDouble());
        }
        return sampler;
    });

    public void Dispose() { }
}
