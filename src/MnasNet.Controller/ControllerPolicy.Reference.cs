using MnasNet.SearchSpace;
using static TorchSharp.torch;

namespace MnasNet.Controller;

public sealed partial class ControllerPolicy
{
    /// <summary>
    /// The plain step-by-step loop <see cref="Sample"/> must match bit for bit (tokens and log-probabilities): used
    /// only by the tests that compare the two.
    /// </summary>
    internal (int[][] Tokens, double[] LogProb, double[] Entropy) ReferenceSample(int count, double temperature, SeededRandom? random)
    {
        var result = new int[count][];
        for (var j = 0; j < count; j++)
        {
            result[j] = new int[DecisionCount];
        }
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        var step = new LstmStep(lstm, Layers);
        var h = Enumerable.Range(0, Layers).Select(_ => zeros(count, HiddenSize)).ToArray();
        var c = Enumerable.Range(0, Layers).Select(_ => zeros(count, HiddenSize)).ToArray();
        var x = start.reshape(1, start.shape[2]).expand(count, start.shape[2]);
        var chosen = new long[count];
        for (var i = 0; i < DecisionCount; i++)
        {
            using var stepScope = NewDisposeScope();
            var top = step.Advance(x, h, c);
            var logits = heads[_kindOfDecision[i]].call(top);
            var width = (int)logits.shape[1];
            var values = logits.contiguous().data<float>().ToArray();
            LogitsObserver?.Invoke(values);
            for (var j = 0; j < count; j++)
            {
                var row = values.AsSpan(j * width, width);
                var choice = random is null ? ArgMax(row, _allowed[i]) : InverseCdf(row, _allowed[i], temperature, random.NextDouble());
                chosen[j] = choice;
                result[j][i] = choice;
            }
            x = embedding.call(tensor(chosen) + _embeddingOffset[i]).MoveToOuterDisposeScope();
            foreach (var t in h.Concat(c))
            {
                t.MoveToOuterDisposeScope();
            }
        }
        var flat = result.SelectMany(t => t.Select(v => (long)v)).ToArray();
        var (logProb, entropy) = Evaluate(tensor(flat).reshape(count, DecisionCount), temperature);
        return (result, ToDoubles(logProb), ToDoubles(entropy));
    }
}
