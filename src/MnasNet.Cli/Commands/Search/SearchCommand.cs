using System.CommandLine;
using System.Globalization;
using System.Runtime.InteropServices;
using MnasNet.Actors.Hosting;
using MnasNet.Actors.Journal;
using MnasNet.Actors.Logging;
using MnasNet.Actors.Policy;
using MnasNet.Actors.Protocol;
using MnasNet.Actors.Settings;
using MnasNet.Actors.State;
using Serilog;
using Spectre.Console;

namespace MnasNet.Cli.Commands.Search;

/// <summary><c>mnasnet search [--config FILE] [--id ID] [--set key=value …]</c>: start a new search.</summary>
public sealed class SearchCommand : SearchCliCommand
{
    private readonly Option<string?> _config = new("--config") { Description = "JSON settings file (e.g. config/quick.json)." };
    private readonly Option<string?> _id = new("--id") { Description = "Search id (default: generated from the time)." };
    private readonly Option<string[]> _set = new("--set") { Description = "Override one setting: key=value (e.g. reward.targetMs=80); repeatable.", AllowMultipleArgumentsPerToken = false };
    private readonly Option<bool> _plain = new("--plain") { Description = "Plain log lines even on a terminal." };
    private readonly Option<bool> _cluster = new("--cluster") { Description = "Run the search on an Akka.Cluster: this process is a controller-role node (see --seed-nodes)." };
    private readonly Option<bool> _resume = new("--resume") { Description = "With --cluster: continue (or stand by for) a search already in the journal." };
    private readonly Option<string> _roles = new("--roles") { Description = "With --cluster: extra roles of this node (trainer, device).", DefaultValueFactory = _ => "controller" };
    private readonly Option<string?> _warmStart = new("--warm-start") { Description = "Start from what an earlier search of the same strategy in this journal learned: PPO its policy state, evolution and TPE its best trials re-scored under this search's reward." };
    private readonly ClusterNodeCliOptions _node = new();

    public SearchCommand() : base("search", "Run a new architecture search; Ctrl-C or SIGTERM pauses it (resume with 'mnasnet resume ID').")
    {
        Options.Add(_config);
        Options.Add(_id);
        Options.Add(_set);
        Options.Add(_plain);
        Options.Add(_cluster);
        Options.Add(_resume);
        Options.Add(_roles);
        Options.Add(_warmStart);
        _node.AddTo(this);
    }

    protected override async Task<int> ExecuteAsync(ParseResult parseResult, TextWriter output, CancellationToken cancellationToken)
    {
        var settings = SettingsLoader.Load(parseResult.GetValue(_config), parseResult.GetValue(_set) ?? []);
        if (parseResult.GetValue(_id) is { } id)
        {
            settings = SettingsValidation.Validate(settings with { Id = id });
        }
        if (settings.Id.Length == 0)
        {
            settings = settings with { Id = $"{DateTime.UtcNow:yyyyMMdd-HHmmss}-{Random.Shared.Next(0x10000):x4}" };
        }
        var warmFrom = parseResult.GetValue(_warmStart);
        if (parseResult.GetValue(_cluster))
        {
            var resume = parseResult.GetValue(_resume);
            if (resume && warmFrom is not null)
            {
                throw new SettingsException("--warm-start applies to a new search only: --resume continues the search from its journal");
            }
            var node = _node.Resolve(parseResult, $"controller,{parseResult.GetValue(_roles)}");
            var clusterWarm = warmFrom is null ? null : await WarmStartAsync(settings, warmFrom, output);
            return await ClusterSearchExecution.RunAsync(settings, node, resume, output, parseResult.GetValue(_plain), cancellationToken, clusterWarm);
        }
        if (parseResult.GetValue(_resume) || parseResult.GetValue(_node.SeedNodes) is { Length: > 0 })
        {
            throw new SettingsException("--resume and --seed-nodes need --cluster (a single-node search continues with 'mnasnet resume ID')");
        }
        var warm = warmFrom is null ? null : await WarmStartAsync(settings, warmFrom, output);
        return await SearchExecution.RunAsync(settings, resume: false, output, parseResult.GetValue(_plain), cancellationToken, warm);
    }

    /// <summary>Plans the warm start from the source search in the journal this search writes to, and says what it takes.</summary>
    private static async Task<WarmStartPlan> WarmStartAsync(SearchSettings settings, string warmFrom, TextWriter output)
    {
        WarmStartPlanner.EnsureOtherSearch(settings, warmFrom);
        var warm = WarmStartPlanner.Plan(settings, warmFrom, SourceJournals(settings).ReadEvents(warmFrom));
        await output.WriteLineAsync(warm.Record.Taken == Controller.WarmStartKind.PolicyState
            ? $"warm start from search {warmFrom} ({warm.Record.SourceStatus}, {warm.Record.SourceEvents} events): its policy state of step {warm.Record.SourceStep} ({warm.Record.SourceStateHash}), learned from {warm.Record.SourceTrials} trials"
            : $"warm start from search {warmFrom} ({warm.Record.SourceStatus}, {warm.Record.SourceEvents} events): its best {warm.Record.Trials!.Count} of {warm.Record.SourceTrials} trials, re-scored under this search's reward");
        return warm;
    }

    /// <summary>Where the warm start's source is read: the journal this search writes to.</summary>
    private static ISearchJournals SourceJournals(SearchSettings settings) => settings.Journal.Provider == "postgresql"
        ? new PostgresSearchJournals(PostgresJournal.ConnectionString(settings.Journal))
        : new SqliteSearchJournals(settings.Journal.Directory);
}

/// <summary>
/// <c>mnasnet resume ID [--config FILE] [--set key=value]</c>: continue a paused or crashed search with the definition
/// it started with, on this node's options (workers, logging, journal key…), which may differ from the first run's.
/// </summary>
public sealed class ResumeCommand : SearchCliCommand
{
    private readonly Argument<string> _id = IdArgument();
    private readonly Option<string> _dir = JournalDirectoryOption();
    private readonly Option<bool> _plain = new("--plain") { Description = "Plain log lines even on a terminal." };
    private readonly Option<string?> _config = new("--config") { Description = "Node options (journal, workers, logging, cluster sections) as JSON; the search's definition is journaled and cannot change." };
    private readonly Option<string[]> _set = new("--set") { Description = "Override a node option, e.g. --set workers.trainers=2 (repeatable).", AllowMultipleArgumentsPerToken = false };

    public ResumeCommand() : base("resume", "Continue a paused or crashed search from its journal.")
    {
        Arguments.Add(_id);
        Options.Add(_dir);
        Options.Add(_plain);
        Options.Add(_config);
        Options.Add(_set);
    }

    protected override async Task<int> ExecuteAsync(ParseResult parseResult, TextWriter output, CancellationToken cancellationToken)
    {
        var (directory, id) = (parseResult.GetValue(_dir)!, parseResult.GetValue(_id)!);
        var node = NodeOptionsLoader.Load(parseResult.GetValue(_config), parseResult.GetValue(_set) ?? [], previous: Actors.Journal.JournalFiles.NodeOptionsFile(directory, id));
        var settings = SearchRunner.SettingsOf(directory, id, node);
        return await SearchExecution.RunAsync(settings, resume: true, output, parseResult.GetValue(_plain), cancellationToken);
    }
}

/// <summary>Runs a search with signal handling, logging and live progress; shared by search and resume.</summary>
internal static class SearchExecution
{
    public static async Task<int> RunAsync(SearchSettings settings, bool resume, TextWriter output, bool plain, CancellationToken cancellationToken, WarmStartPlan? warmStart = null)
    {
        Actors.Journal.JournalFiles.EnsureWritableDirectory(settings.Journal.Directory);
        try
        {
            _ = Actors.Journal.JournalChain.LoadKey(settings.Journal.KeyFile);
        }
        catch (Actors.Journal.JournalKeyException e)
        {
            throw new CliInputException(e.Message);
        }
        var interactive = !plain && output == Console.Out && !Console.IsOutputRedirected && AnsiConsole.Profile.Capabilities.Interactive;
        using var pause = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        // SIGINT and SIGTERM pause (graceful).
        using var signals = StopSignals.Cancel(pause);
        Log.Logger = SearchLogging.Create(settings, console: !interactive);
        try
        {
            foreach (var warning in SettingsValidation.Warnings(settings, Environment.ProcessorCount))
            {
                Log.Warning("{SettingsWarning}", warning);
            }
            await output.WriteLineAsync($"search {settings.Id}: {(resume ? "resuming" : "starting")}, journal {Path.GetFullPath(Actors.Journal.JournalFiles.Database(settings.Journal.Directory, settings.Id))}");
            SearchOutcome outcome;
            if (interactive)
            {
                outcome = await LiveView.RunAsync(settings, onProgress => SearchRunner.RunAsync(settings, resume, onProgress, pauseToken: pause.Token, warmStart: warmStart),
                    () => Actors.Journal.JournalReader.ReadEvents(settings.Journal.Directory, settings.Id));
            }
            else
            {
                var progress = new ProgressLog(settings, Log.Logger);
                outcome = await SearchRunner.RunAsync(settings, resume, progress.Observe, pauseToken: pause.Token, warmStart: warmStart);
            }
            var done = outcome.LastProgress?.TrialsDone ?? 0;
            await output.WriteLineAsync(SearchStatusWords.FromWord(outcome.Status) switch
            {
                SearchStatus.Completed => $"search {settings.Id} completed: {done} trials; 'mnasnet report {settings.Id}' for results",
                SearchStatus.Paused => $"search {settings.Id} paused after {done} trials ({outcome.Reason}); continue with 'mnasnet resume {settings.Id}'",
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
