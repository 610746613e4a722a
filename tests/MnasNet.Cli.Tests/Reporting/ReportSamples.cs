using MnasNet.Actors.State;
using MnasNet.Cli.Reporting;

namespace MnasNet.Cli.Tests.Reporting;

/// <summary>Report data made up in the test: a few batches whose accuracy and latency grow with the trial id.</summary>
internal static class ReportSamples
{
    public static ReportData Search(int batches = 3, int batchSize = 8, IReadOnlyList<TargetPlatform>? targets = null, IReadOnlyList<Finalist>? finalists = null)
    {
        targets ??= [new TargetPlatform("onnxruntime:threads=1", 80)];
        var trials = new List<TrialResult>();
        for (var id = 0; id < batches * batchSize; id++)
        {
            var failed = id % 11 == 5;
            var accuracy = 0.5 + (0.3 * id / (batches * batchSize)) + (0.02 * Math.Sin(id));
            var latencies = targets.Select((t, i) => (double?)(t.TargetMs * (0.6 + (0.8 * ((id * 7) % 13) / 13.0)) * (1 + (0.1 * i)))).ToList();
            var reward = failed ? 0 : accuracy * Math.Pow(latencies[0]!.Value / targets[0].TargetMs, -0.07);
            trials.Add(new TrialResult(id, id / batchSize, [id % 5, 1, 0], $"arch{id:x4}", failed ? null : accuracy, failed ? null : latencies[0], reward, failed,
                failed ? targets.Select(_ => (double?)null).ToList() : latencies));
        }
        var batchResults = Enumerable.Range(0, batches).Select(b =>
        {
            var rewards = trials.Where(t => t.Batch == b).Select(t => t.Reward!.Value).ToList();
            return new BatchResult(b, b + 1, $"hash{b}", rewards.Average(), rewards.Max(), trials.Count(t => t.Batch == b && t.Failed));
        }).ToList();
        return new ReportData("sample", "completed", "ppo", "hash-final", targets, trials, batchResults, finalists ?? []);
    }

    public static ReportData MultiTargetWithFinalists() => Search(
        targets: [new TargetPlatform("onnxruntime:threads=1", 80), new TargetPlatform("onnxruntime:threads=4", 30)],
        finalists: [new Finalist(3, 0.61, 0.88, 70), new Finalist(9, 0.66, 0.90, 75), new Finalist(14, 0.64, 0.91, 81), new Finalist(20, 0.72, 0.93, 77)]);
}
