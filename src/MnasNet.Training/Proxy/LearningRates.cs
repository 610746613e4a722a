namespace MnasNet.Training.Proxy;

/// <summary>The learning-rate schedule as a pure function of the step.</summary>
public static class LearningRates
{
    public static int WarmupSteps(ProxyTrainingOptions options, int stepsPerEpoch, int totalSteps) =>
        Math.Min(totalSteps, (int)Math.Round(options.WarmupEpochs * stepsPerEpoch, MidpointRounding.AwayFromZero));

    /// <summary>Learning rate of step <paramref name="step"/> (0-based) of <paramref name="totalSteps"/>.</summary>
    public static double At(ProxyTrainingOptions options, int step, int stepsPerEpoch, int totalSteps)
    {
        var peak = options.LearningRate;
        var warmup = WarmupSteps(options, stepsPerEpoch, totalSteps);
        if (step < warmup)
        {
            return peak * (step + 1) / warmup;
        }
        var after = step - warmup;
        return options.Schedule switch
        {
            LearningRateSchedule.Cosine => peak * 0.5 * (1 + Math.Cos(Math.PI * after / Math.Max(1, totalSteps - warmup))),
            LearningRateSchedule.Exponential => peak * Math.Pow(options.DecayRate, after / (options.DecayEpochs * stepsPerEpoch)),
            _ => peak,
        };
    }
}
