using System.Globalization;
using MnasNet.Actors.Backends;
using MnasNet.Actors.State;
using MnasNet.Controller;

namespace MnasNet.Audit;

/// <summary>Other reward settings to re-score a journal with; unset values keep the journaled ones.</summary>
public sealed record WhatIfSettings(string? Preset = null, double? Alpha = null, double? Beta = null, double? TargetMs = null, string? Device = null)
{
    public static readonly IReadOnlyList<string> Keys = ["reward", "alpha", "beta", "target-ms", "device"];

    /// <summary>Parses <c>key=value</c> pairs: reward=soft|hard, alpha=, beta=, target-ms=, device=.</summary>
    public static WhatIfSettings Parse(IEnumerable<string> pairs)
    {
        var s = new WhatIfSettings();
        foreach (var pair in pairs)
        {
            var eq = pair.IndexOf('=', StringComparison.Ordinal);
            if (eq <= 0)
            {
                throw new AuditInputException($"what-if '{pair}': expected key=value with key one of {string.Join(", ", Keys)}");
            }
            var (key, value) = (pair[..eq].Trim().ToLowerInvariant(), pair[(eq + 1)..].Trim());
            s = key switch
            {
                "reward" or "preset" => value.ToLowerInvariant() is "soft" or "hard" ? s with { Preset = value.ToLowerInvariant() } : throw new AuditInputException($"what-if reward='{value}': expected soft or hard"),
                "alpha" => s with { Alpha = Number(key, value, -10, 0) },
                "beta" => s with { Beta = Number(key, value, -10, 0) },
                "target-ms" or "target" or "t" => s with { TargetMs = Number(key, value, double.Epsilon, double.MaxValue) },
                "device" => value.Length > 0 ? s with { Device = value } : throw new AuditInputException("what-if device=: name a device id (see the latency records of the journal)"),
                _ => throw new AuditInputException($"what-if key '{key}': expected one of {string.Join(", ", Keys)}"),
            };
        }
        return s;
    }

    private static double Number(string key, string value, double min, double max) =>
        double.TryParse(value, NumberStyles.Float, CultureInfo.InvariantCulture, out var v) && double.IsFinite(v) && v >= min && v <= max
            ? v
            : throw new AuditInputException($"what-if {key}='{value}': expected a number in [{min.ToString(CultureInfo.InvariantCulture)}, {max.ToString(CultureInfo.InvariantCulture)}]");

    /// <summary>The exponents and target after applying these changes to the journaled ones.</summary>
    public (double Alpha, double Beta, double TargetMs) Resolve(double alpha, double beta, double targetMs)
    {
        if (Preset is { } p)
        {
            var t = LatencyTarget.For(LatencyTarget.ParsePreset(p), targetMs);
            (alpha, beta) = (t.Alpha, t.Beta);
        }
        return (Alpha ?? alpha, Beta ?? beta, TargetMs ?? targetMs);
    }
}

/// <summary>One trial under the journaled and the what-if reward.</summary>
public sealed record WhatIfTrial(long TrialId, int Batch, string ArchitectureId, double? Accuracy, double? LatencyMs, bool Failed,
    double OldReward, double NewReward, int OldRank, int NewRank, double? OldAdvantage, double? NewAdvantage);

public sealed record WhatIfReport(
    string SearchId,
    string Journaled,
    string WhatIf,
    int Trials,
    IReadOnlyList<WhatIfTrial> OldTop,
    IReadOnlyList<WhatIfTrial> NewTop,
    double KendallTau,
    IReadOnlyList<WhatIfTrial> AdvantageSignChanges,
    IReadOnlyList<WhatIfTrial> All);

/// <summary>
/// Re-scores the journaled trials under other reward settings without touching the journal: new ranking and top-k,
/// Kendall τ between the rankings, and the trials whose advantage changes sign (re-computed with the journaled
/// baseline of their batch), i.e. where the controller would have been pushed the other way.
/// </summary>
public static class WhatIf
{
    public static WhatIfReport Run(JournalRead read, WhatIfSettings change, int top = 10)
    {
        var facts = JournalFacts.From(read);
        var (alpha0, beta0) = facts.Exponents;
        var target0 = facts.Settings.Reward.TargetMs;
        var (alpha, beta, target) = change.Resolve(alpha0, beta0, target0);
        var rewarded = facts.Trials.Values.Where(t => t.Reward is not null).ToList();

        double NewReward(TrialHistory t)
        {
            var inputs = t.Reward!;
            if (inputs.Failed)
            {
                return RewardFormula.FailedReward;
            }
            if (inputs.Devices is { Count: > 1 } devices && change.Device is null)
            {
                // Several target platforms: re-score the product with the new α/β, each target keeping its own T.
                if (change.TargetMs is not null)
                {
                    throw new AuditInputException($"what-if targetMs: this search has {devices.Count} target platforms ({string.Join("; ", devices.Select(d => d.Platform))}), each with its own T; add device=<id> to re-score on one device");
                }
                return MnasNetReward.Compute(inputs.Accuracy, devices, alpha, beta, failed: false).Reward;
            }
            var latency = inputs.LatencyMs;
            if (change.Device is { } device)
            {
                latency = t.Latencies.LastOrDefault(l => l.Record.DeviceId == device).Record?.MedianMs
                    ?? throw new AuditInputException($"what-if device={device}: trial {t.Sampled.TrialId} has no latency record from that device (it has: {string.Join(", ", t.Latencies.Select(l => l.Record.DeviceId).Distinct())}); devices of this journal: {string.Join(", ", Devices(facts))}");
            }
            return MnasNetReward.Compute(inputs.Accuracy, latency, target, alpha, beta, failed: false).Reward;
        }

        var newRewards = rewarded.ToDictionary(t => t.Sampled.TrialId, NewReward);
        var oldRank = Ranks(rewarded.Select(t => (t.Sampled.TrialId, t.Reward!.Reward)));
        var newRank = Ranks(rewarded.Select(t => (t.Sampled.TrialId, newRewards[t.Sampled.TrialId])));
        var newAdvantages = new Dictionary<long, double>();
        foreach (var (_, p) in facts.Updates)
        {
            if (p.TrialIds.All(newRewards.ContainsKey))
            {
                var a = PpoController.Advantages(p.TrialIds.Select(id => newRewards[id]).ToList(), p.BaselineBefore, normalize: true, out _);
                for (var i = 0; i < a.Length; i++)
                {
                    newAdvantages[p.TrialIds[i]] = a[i];
                }
            }
        }
        var all = rewarded.Select(t => new WhatIfTrial(t.Sampled.TrialId, t.Batch, t.Sampled.ArchitectureId, t.Reward!.Accuracy, t.Reward.LatencyMs, t.Reward.Failed,
            t.Reward.Reward, newRewards[t.Sampled.TrialId], oldRank[t.Sampled.TrialId], newRank[t.Sampled.TrialId], t.Advantage,
            newAdvantages.TryGetValue(t.Sampled.TrialId, out var na) ? na : null)).ToList();
        var flips = all.Where(t => t.OldAdvantage is { } o && t.NewAdvantage is { } n && Math.Sign(o) != Math.Sign(n)).ToList();
        var inv = CultureInfo.InvariantCulture;
        return new WhatIfReport(
            facts.SearchId,
            string.Create(inv, $"{Actors.Settings.SettingWords.Word(facts.Settings.Reward.Preset)}: T {target0} ms, α {alpha0}, β {beta0}"),
            string.Create(inv, $"T {target} ms, α {alpha}, β {beta}{(change.Device is { } d ? $", latency on {d}" : "")}"),
            all.Count,
            all.OrderBy(t => t.OldRank).Take(top).ToList(),
            all.OrderBy(t => t.NewRank).Take(top).ToList(),
            KendallTau(all.Select(t => t.OldReward).ToList(), all.Select(t => t.NewReward).ToList()),
            flips,
            all);
    }

    public static IReadOnlyList<string> Devices(JournalFacts facts) =>
        facts.Trials.Values.SelectMany(t => t.Latencies.Select(l => l.Record.DeviceId)).Distinct().Order(StringComparer.Ordinal).ToList();

    /// <summary>Rank 1 = highest reward; ties broken by trial id so the ranking is total and reproducible.</summary>
    private static Dictionary<long, int> Ranks(IEnumerable<(long Id, double Reward)> trials) =>
        trials.OrderByDescending(t => t.Reward).ThenBy(t => t.Id).Select((t, i) => (t.Id, Rank: i + 1)).ToDictionary(t => t.Id, t => t.Rank);

    /// <summary>Kendall's τ-b between two score vectors: 1 = same order, −1 = reversed; NaN when one side is constant.</summary>
    public static double KendallTau(IReadOnlyList<double> x, IReadOnlyList<double> y) => MnasNet.Latency.Measurement.Statistics.KendallTauB(x, y);
}
