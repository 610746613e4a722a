using MnasNet.Controller;

namespace MnasNet.Actors.Policy;

/// <summary>
/// MnasNet.Controller's samplers (LSTM PPO, random, evolution) behind <see cref="ISearchPolicy"/>. A proposal
/// without a log-probability (evolution's mutations) carries NaN in the journal. The samplers' saved state has no
/// step count: a policy restored from a snapshot is given the journaled step it was saved at.
/// </summary>
public sealed class ControllerSamplerPolicy(IArchitectureSampler sampler, long step = 0) : ISearchPolicy
{
    public string Strategy => sampler.Strategy;

    public string Version => sampler.Version;

    public long Step { get; private set; } = step;

    public IReadOnlyList<PolicySample> Sample(int count) =>
        sampler.Sample(count).Select(p => new PolicySample(p.Tokens, p.LogProb ?? double.NaN)).ToList();

    public PolicyStepResult Update(IReadOnlyList<PolicyFeedback> batch)
    {
        var scored = batch.Select(b => new ScoredSample(b.Tokens, double.IsNaN(b.LogProb) ? null : b.LogProb, b.Reward, b.Failed)).ToList();
        Step++;
        if (sampler is PpoController ppo)
        {
            var u = ppo.Update(scored);
            return new PolicyStepResult(Step, u.ParameterHashBefore, u.ParameterHash, u.Advantages, u.PolicyLoss, u.MeanEntropy,
                u.ApproxKl, u.ClipFraction, u.BaselineBefore, u.BaselineAfter);
        }
        var before = sampler.Version;
        sampler.Observe(scored);
        var mean = batch.Average(b => b.Reward);
        return new PolicyStepResult(Step, before, sampler.Version, batch.Select(b => b.Reward - mean).ToList(), 0, 0, 0, 0, mean, mean);
    }

    public byte[] SaveState() => sampler.SaveState();

    public void Dispose() => sampler.Dispose();
}
