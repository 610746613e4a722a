using MnasNet.SearchSpace;

namespace MnasNet.Controller;

/// <summary>The input checks both PPO engines make, with the same messages.</summary>
internal static class PpoInputs
{
    public static void ValidateTokens(MnasNetSearchSpace space, IReadOnlyList<int>? tokens, int index)
    {
        if (tokens is null)
        {
            throw new ControllerException($"sample {index}: no tokens");
        }
        try
        {
            space.ValidateTokens(tokens);
        }
        catch (ArchitectureException e)
        {
            throw new ControllerException($"sample {index}: {e.Message}", e);
        }
    }

    /// <summary>The log-probability each sample of an update's batch was drawn with, after checking the batch.</summary>
    public static double[] SampledLogProbs(MnasNetSearchSpace space, IReadOnlyList<ScoredSample> batch)
    {
        if (batch.Count == 0)
        {
            throw new ControllerException("update: the batch is empty");
        }
        var logProbs = new double[batch.Count];
        for (var j = 0; j < batch.Count; j++)
        {
            var s = batch[j] ?? throw new ControllerException($"update: sample {j} is null");
            ValidateTokens(space, s.Tokens, j);
            if (s.LogProb is not { } lp || !double.IsFinite(lp) || lp > 1e-4)
            {
                throw new ControllerException($"update: sample {j} needs the finite, non-positive log-probability it was sampled with, got {s.LogProb?.ToString() ?? "none"}");
            }
            if (!double.IsFinite(s.Reward))
            {
                throw new ControllerException($"update: sample {j} has a non-finite reward {s.Reward}");
            }
            logProbs[j] = lp;
        }
        return logProbs;
    }

    public static void CheckCount(int count)
    {
        if (count is < 1 or > 100_000)
        {
            throw new ControllerException($"sample count must be between 1 and 100000, got {count}");
        }
    }
}
