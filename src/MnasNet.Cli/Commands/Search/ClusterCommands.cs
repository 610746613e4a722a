using System.CommandLine;
using System.Runtime.InteropServices;
using MnasNet.Actors.Hosting;
using MnasNet.Actors.Journal;
using MnasNet.Actors.Logging;
using MnasNet.Actors.Policy;
using MnasNet.Actors.Settings;
using MnasNet.Actors.State;
using MnasNet.Cluster;
using Serilog;
using Spectre.Console;

namespace MnasNet.Cli.Commands.Search;

/// <summary>Options shared by the cluster commands: where the node listens and which seeds it joins.</summary>
internal sealed class ClusterNodeCliOptions
{
    public Option<string[]> SeedNodes { get; } = new("--seed-nodes") { Description = "Seed node addresses, e.g. akka.tcp://mnasnet@127.0.0.1:4053 (repeatable or comma-separated)." };
    public Option<int> Port { get; } = new("--port") { Description = "Port of this node (0 = any free port).", DefaultValueFactory = _ => 0 };
    public Option<string> Hostname { get; } = new("--hostname") { Description = "Host name or IP other nodes reach this node at.", DefaultValueFactory = _ => "127.0.0.1" };
    public Option<int?> Trainers { get; } = new("--trainers") { Description = "Trainer workers on this node (default: workers.trainers)." };
    public Option<int?> Devices { get; } = new("--devices") { Description = "Device workers on this node, of the platform the settings name (default: workers.devices)." };
    public Option<string[]> Device { get; } = new("--device")
    {
        Description = "One device worker of this platform, e.g. onnxruntime:threads=1, tflite:threads=1, simulated, or adb[:serial=S,threads=1] for the phones on the adb server, one worker per phone (repeatable; instead of --devices). Searches measure only on devices that satisfy their latency.target.",
    };

    public void AddTo(Command command)
    {
        command.Options.Add(SeedNodes);
        command.Options.Add(Port);
        command.Options.Add(Hostname);
        command.Options.Add(Trainers);
        command.Options.Add(Devices);
        command.Options.Add(Device);
    }

    public ClusterNodeOptions Resolve(ParseResult parseResult, string roles) => ClusterNodeOptions.Parse(
        roles, parseResult.GetValue(SeedNodes) ?? [], parseResult.GetValue(Hostname)!, parseResult.GetValue(Port), parseResult.GetValue(Trainers), parseResult.GetValue(Devices), parseResult.GetValue(Device));
}

/// <summary>
/// <c>mnasnet node --roles trainer,device,controller --seed-nodes … [--port P] [--trainers N] [--device SPEC …]
/// [--config FILE] [--set k=v …]</c>: a cluster node. Workers serve every search on the cluster (each search's
/// settings arrive with its work); a controller-role node hosts searches whose node left or died. The config gives
/// the node's own settings: cluster timings, journal (controller role), logging, default device platform. SIGTERM
/// leaves the cluster gracefully and hands running work back.
/// </summary>
public sealed class NodeCommand : SearchCliCommand
{
    private readonly Option<string> _roles = new("--roles") { Description = "Comma-separated roles: trainer, device, controller.", DefaultValueFactory = _ => "trainer,device" };
    private readonly Option<string?> _config = new("--config") { Description = "JSON settings file (backends, simulation, cluster timings)." };
    private readonly Option<string[]> _set = new("--set") { Description = "Override one setting: key=value; repeatable." };
    private readonly ClusterNodeCliOptions _node = new();

    public NodeCommand() : base("node", "Run a cluster node (trainer and/or device workers, or a controller-role node hosting searches) until SIGTERM.")
    {
        Options.Add(_roles);
        Options.Add(_config);
        Options.Add(_set);
        _node.AddTo(this);
    }

    protected override async Task<int> ExecuteAsync(ParseResult parseResult, TextWriter output, CancellationToken cancellationToken)
    {
        var settings = SettingsLoader.Load(parseResult.GetValue(_config), parseResult.GetValue(_set) ?? []);
        var node = _node.Resolve(parseResult, parseResult.GetValue(_roles)!);
        using var leave = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        using var signals = StopSignals.Cancel(leave);
        Log.Logger = SearchLogging.Create(settings with { Id = $"node-{node.Hostname}-{node.Port}" }, console: true);
        try
        {
            await ClusterRunner.RunNodeAsync(settings, node, up => output.WriteLine($"member up: {up}"), leave: leave.Token);
            await output.WriteLineAsync("node left the cluster");
            return ExitCodes.Success;
        }
        finally
        {
            await Log.CloseAndFlushAsync();
        }
    }
}

internal static class ClusterSearchExecution
{
    public static async Task<int> RunAsync(SearchSettings settings, ClusterNodeOptions node, bool resume, TextWriter output, bool plain, CancellationToken cancellationToken, WarmStartPlan? warmStart = null)
    {
        using var leave = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        using var signals = StopSignals.Cancel(leave);
        var interactive = !plain && output == Console.Out && !Console.IsOutputRedirected && AnsiConsole.Profile.Capabilities.Interactive;
        Log.Logger = SearchLogging.Create(settings, console: !interactive);
        try
        {
            await output.WriteLineAsync($"search {settings.Id}: {(resume ? "resuming" : "starting")} on the cluster, journal {settings.Journal.Provider}");
            SearchOutcome outcome;
            if (interactive)
            {
                // Member-up lines would tear the live view: it counts them in its caption instead.
                var members = 0;
                var connection = PostgresJournal.ConnectionString(settings.Journal);
                outcome = await LiveView.RunAsync(settings,
                    onProgress => ClusterRunner.RunSearchAsync(settings, node, resume, onProgress, _ => Interlocked.Increment(ref members), leave: leave.Token, warmStart: warmStart),
                    () => PostgresJournal.ReadEvents(connection, settings.Id),
                    () => $"{Volatile.Read(ref members)} members up");
            }
            else
            {
                var progress = new ProgressLog(settings, Log.Logger);
                outcome = await ClusterRunner.RunSearchAsync(settings, node, resume, progress.Observe, up => output.WriteLine($"member up: {up}"), leave: leave.Token, warmStart: warmStart);
            }
            var done = outcome.LastProgress?.TrialsDone ?? 0;
            await output.WriteLineAsync((outcome.Status == ClusterRunner.LeftStatus ? null : SearchStatusWords.FromWord(outcome.Status)) switch
            {
                SearchStatus.Completed => $"search {settings.Id} completed: {done} trials",
                SearchStatus.Paused => $"search {settings.Id} paused after {done} trials ({outcome.Reason})",
                null => $"search {settings.Id}: {outcome.Reason}",
                _ => throw new CliInputException($"search {settings.Id} {outcome.Status}: {outcome.Reason}", ExitCodes.Failure),
            });
            return ExitCodes.Success;
        }
        finally
        {
            await Log.CloseAndFlushAsync();
        }
    }
}
