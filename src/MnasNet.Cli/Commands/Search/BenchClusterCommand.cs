using System.CommandLine;
using System.Globalization;
using MnasNet.Actors.Settings;
using MnasNet.Bench;

namespace MnasNet.Cli.Commands.Search;

/// <summary>
/// <c>mnasnet bench cluster</c>: trials per minute with 1, 2, 4… trainer processes (real processes on 127.0.0.1,
/// simulated trials of a fixed real duration, PostgreSQL journal) and the scaling efficiency; with <c>--failover</c>
/// the times from a trainer's or the controller's SIGKILL to the search going on.
/// </summary>
public sealed class BenchClusterCommand : SearchCliCommand
{
    private readonly Option<string> _processes = new("--trainer-processes") { Description = "Counts of trainer processes to measure, comma-separated (one trainer each).", DefaultValueFactory = _ => "1,2,4" };
    private readonly Option<double> _trialSeconds = new("--trial-seconds") { Description = "Real duration of each simulated trial (simulation.trainSeconds).", DefaultValueFactory = _ => 1.0 };
    private readonly Option<int> _trials = new("--trials") { Description = "Timed trials per run (after one warm-up batch); a multiple of the batch size, 2 × the largest process count.", DefaultValueFactory = _ => 24 };
    private readonly Option<bool> _failover = new("--failover") { Description = "Also SIGKILL a trainer holding a trial, then the controller's process (a standby controller-role node up), and time the recovery." };
    private readonly Option<bool> _json = new("--json") { Description = "Print JSON." };
    private readonly Option<string?> _config = new("--config") { Description = $"JSON settings whose cluster timings and workers.leaseTimeoutSeconds the nodes use (default: built-in cluster timings, lease {ClusterBenchOptions.DefaultLeaseSeconds} s)." };
    private readonly Option<string[]> _set = new("--set") { Description = "Override one setting, e.g. cluster.stableAfterSeconds=7; repeatable." };

    public BenchClusterCommand() : base("cluster",
        "Trials/min with 1, 2, 4 trainer processes on a local cluster (simulated trials of a fixed real duration, PostgreSQL journal: MNASNET_PG_CONNECTION or a throwaway local server) and, with --failover, failover times.")
    {
        Options.Add(_processes);
        Options.Add(_trialSeconds);
        Options.Add(_trials);
        Options.Add(_failover);
        Options.Add(_json);
        Options.Add(_config);
        Options.Add(_set);
    }

    protected override int? ExitCodeFor(Exception e) => e switch
    {
        ClusterBenchmarkException or PostgresUnavailableException => ExitCodes.Failure,
        _ => base.ExitCodeFor(e),
    };

    protected override async Task<int> ExecuteAsync(ParseResult parseResult, TextWriter output, CancellationToken cancellationToken)
    {
        var config = parseResult.GetValue(_config);
        // The bench's default lease goes first, so a --set overrides it; a config file's lease wins over the default.
        var sets = new List<string>();
        if (config is null)
        {
            sets.Add($"workers.leaseTimeoutSeconds={ClusterBenchOptions.DefaultLeaseSeconds.ToString(CultureInfo.InvariantCulture)}");
        }
        sets.AddRange(parseResult.GetValue(_set) ?? []);
        var options = new ClusterBenchOptions(
            ClusterBenchOptions.ParseProcessCounts(parseResult.GetValue(_processes)!),
            parseResult.GetValue(_trialSeconds),
            parseResult.GetValue(_trials),
            parseResult.GetValue(_failover),
            SettingsLoader.Load(config, sets)).Validate();

        var error = parseResult.InvocationConfiguration.Error;
        // SIGINT/SIGTERM cancel the run, so every node and the throwaway server are stopped on the way out.
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        using var signals = StopSignals.Cancel(stop);
        var launcher = MnasNetLauncher.For(typeof(BenchClusterCommand).Assembly.Location, Environment.ProcessPath);
        ClusterBenchResult result;
        try
        {
            result = await new ClusterBenchmark(launcher, options, line => error.WriteLine($"bench cluster: {line}")).RunAsync(stop.Token);
        }
        catch (OperationCanceledException) when (stop.IsCancellationRequested)
        {
            await error.WriteLineAsync("error: cancelled; every process the benchmark started has been stopped");
            return ExitCodes.Cancelled;
        }

        if (parseResult.GetValue(_json))
        {
            await WriteJsonAsync(output, result);
            return ExitCodes.Success;
        }
        foreach (var line in Table(result))
        {
            await output.WriteLineAsync(line);
        }
        return ExitCodes.Success;
    }

    internal static IEnumerable<string> Table(ClusterBenchResult r)
    {
        var c = CultureInfo.InvariantCulture;
        var k = r.Cluster;
        yield return string.Create(c, $"simulated trials of {r.TrialSeconds} s (real sleep), strategy {r.Strategy}, batch size {r.BatchSize}, one trainer per process, one device node; the first batch warms up and is not timed");
        yield return $"journal: {r.Journal}";
        yield return string.Create(c, $"machine: {r.ProcessorCount} cores, load average {r.LoadAverageBefore ?? "n/a"} before, {r.LoadAverageAfter ?? "n/a"} after");
        yield return string.Create(c, $"cluster: heartbeat {k.HeartbeatIntervalSeconds} s, acceptable heartbeat pause {k.AcceptableHeartbeatPauseSeconds} s, split-brain stable-after {k.StableAfterSeconds} s, work request every {k.WorkRequestIntervalSeconds} s; lease {r.LeaseSeconds} s (checked every {r.LeaseCheckSeconds} s)");
        yield return "";
        yield return "processes  trials  wall s  trials/min  speed-up  efficiency  ideal trials/min";
        foreach (var row in r.Scaling)
        {
            yield return string.Create(c, $"{row.TrainerProcesses,9}  {row.Trials,6}  {row.WallSeconds,6:F2}  {row.TrialsPerMinute,10:F1}  {row.SpeedUp,8:F2}  {row.Efficiency * 100,9:F0}%  {row.IdealTrialsPerMinute,16:F1}");
        }
        if (r.TrainerFailover is { } t)
        {
            yield return "";
            yield return string.Create(c, $"trainer lost: trial {t.TrialId} on {t.Victim}, SIGKILLed {t.DispatchToKillSeconds:F2} s after its dispatch");
            yield return string.Create(c, $"  lease expired {t.KillToLeaseExpiredSeconds:F2} s after the kill ({t.ExpiryReason}); re-dispatched {t.KillToRedispatchSeconds:F2} s after the kill ({t.DispatchToKillSeconds + t.KillToRedispatchSeconds:F2} s after its dispatch), to {t.RedispatchedTo}");
            yield return string.Create(c, $"  (lease {r.LeaseSeconds} s from dispatch; the dead node is removed, and its workers' leases released, only after detection + stable-after {k.StableAfterSeconds} s)");
            yield return $"  search completed: {t.Trials} trials, {(t.OneResultPerTrial ? "one result each" : "SOME WITH SEVERAL RESULTS")}";
        }
        if (r.ControllerFailover is { } f)
        {
            yield return "";
            yield return string.Create(c, $"controller lost: its process SIGKILLed after {f.TrialsRewardedBeforeKill} rewarded trials, a standby controller-role node up");
            yield return string.Create(c, $"  search resumed on the standby {f.KillToResumedSeconds:F2} s after the kill; first new trial result {f.KillToFirstResultSeconds:F2} s after the kill");
            yield return string.Create(c, $"  (detection, then stable-after {k.StableAfterSeconds} s before the node is downed and the search's shard moves)");
            yield return $"  search completed: {f.Trials} trials, {(f.OneResultPerTrial ? "one result each" : "SOME WITH SEVERAL RESULTS")}";
        }
    }
}
