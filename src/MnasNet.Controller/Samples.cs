namespace MnasNet.Controller;

/// <summary>
/// One proposed architecture. <paramref name="LogProb"/> is the log-probability of the tokens under the distribution
/// that proposed them (PPO: the policy at <paramref name="PolicyVersion"/>; random search: uniform), null where no
/// such distribution exists (evolution's mutations).
/// </summary>
public sealed record Proposal(IReadOnlyList<int> Tokens, double? LogProb, string PolicyVersion);

/// <summary>A proposal with its reward. A failed trial carries <see cref="RewardFormula.FailedReward"/> and Failed.</summary>
public sealed record ScoredSample(IReadOnlyList<int> Tokens, double? LogProb, double Reward, bool Failed = false)
{
    public static ScoredSample From(Proposal proposal, double reward, bool failed = false) =>
        new(proposal.Tokens, proposal.LogProb, reward, failed);
}

/// <summary>
/// What one PPO update did. Losses are those of the last epoch (the first epoch's ratio is 1 by construction).
/// <paramref name="Advantages"/> are the values the loss used, one per sample in input order: (reward − baseline
/// before), divided by the batch's reward standard deviation when advantages are normalised.
/// </summary>
public sealed record PolicyUpdate(
    long Step,
    double PolicyLoss,
    double EntropyLoss,
    double TotalLoss,
    double MeanEntropy,
    double ApproxKl,
    double ClipFraction,
    double GradNorm,
    IReadOnlyList<double> Advantages,
    double BaselineBefore,
    double BaselineAfter,
    string ParameterHashBefore,
    string ParameterHash);

/// <summary>Log-probability and entropy (nats) of one token sequence under the policy.</summary>
public sealed record SequenceScore(double LogProb, double Entropy);
