using System.CommandLine;
using System.Globalization;
using System.Runtime.InteropServices;
using MnasNet.Actors.Backends;
using MnasNet.Actors.Decisions;
using MnasNet.Actors.Hosting;
using MnasNet.Actors.Journal;
using MnasNet.Actors.Logging;
using MnasNet.Actors.Protocol;
using MnasNet.Actors.Settings;
using MnasNet.Actors.State;
using MnasNet.Cluster;
using MnasNet.SearchSpace;
using MnasNet.Training.Proxy;
using Serilog;

namespace MnasNet.Cli.Commands.Search;

/// <summary>
/// <c>mnasnet train-final ID [--top K | --trials 3,8,11 | --pareto] [--epochs N] [--recipe FILE] [--dataset SPEC]</c>:
/// fully trains the search's best candidates with a full recipe (default: the paper's), journaled in the search's own
/// journal by its controller on trainer workers. Killed or paused, the same command continues each finalist from its
/// last journaled epoch checkpoint.
/// </summary>
public sealed class TrainFinalCommand : SearchCliCommand
{
    private readonly Argument<string> _id = IdArgument();
    private readonly Option<string> _dir = JournalDirectoryOption();
    private readonly Option<int?> _top = new("--top") { Description = "Train the K trials of highest reward (default 3).", HelpName = "K" };
    private readonly Option<string?> _trials = new("--trials") { Description = "Train these trials, e.g. 3,8,11.", HelpName = "IDS" };
    private readonly Option<bool> _pareto = new("--pareto") { Description = "Train the trials on the accuracy–latency Pareto front." };
    private readonly Option<string?> _recipe = new("--recipe") { Description = "Training recipe JSON (default: the paper's: RMSProp, exponential decay, 350 epochs at batch 256).", HelpName = "FILE" };
    private readonly Option<int?> _epochs = new("--epochs") { Description = "Epochs (default: the recipe's).", HelpName = "N" };
    private readonly Option<string?> _dataset = new("--dataset") { Description = $"Dataset: {Training.Data.DatasetSpec.Syntax} (default: the search's).", HelpName = "SPEC" };
    private readonly Option<int?> _resolution = new("--resolution") { Description = "Input resolution (default: the dataset's own).", HelpName = "R" };
    private readonly Option<int?> _trainSize = new("--train-size") { Description = "Training images (default: all).", HelpName = "N" };
    private readonly Option<string?> _checkpoints = new("--checkpoint-dir") { Description = "Where epoch checkpoints go (default: final.checkpointDir, else <journal-dir>/<id>.final; with --cluster a directory every trainer node sees).", HelpName = "DIR" };
    private readonly Option<string?> _export = new("--export") { Description = "Export each trained finalist here (ONNX, TFLite, TorchSharp state, architecture JSON, model card).", HelpName = "DIR" };
    private readonly Option<string?> _config = new("--config") { Description = "Node options (journal, workers, logging, final) as JSON; with --cluster the cluster's settings file (only its node options are used)." };
    private readonly Option<string[]> _set = new("--set") { Description = "Override a node option, e.g. --set workers.trainers=2 (repeatable).", AllowMultipleArgumentsPerToken = false };
    private readonly Option<bool> _cluster = new("--cluster") { Description = "Train on the cluster's trainer nodes, journaled in its PostgreSQL journal: this process is a controller-role node (see --seed-nodes)." };
    private readonly Option<string> _roles = new("--roles") { Description = "With --cluster: extra roles of this node (trainer).", DefaultValueFactory = _ => "controller" };
    private readonly ClusterNodeCliOptions _node = new();

    public TrainFinalCommand() : base("train-final", "Fully train a search's best candidates (journaled, resumable), optionally exporting them.")
    {
        Arguments.Add(_id);
        foreach (var o in new Option[] { _dir, _top, _trials, _pareto, _recipe, _epochs, _dataset, _resolution, _trainSize, _checkpoints, _export, _config, _set, _cluster, _roles })
        {
            Options.Add(o);
        }
        _node.AddTo(this);
    }

    protected override async Task<int> ExecuteAsync(ParseResult parseResult, TextWriter output, CancellationToken cancellationToken)
    {
        var (directory, id) = (parseResult.GetValue(_dir)!, parseResult.GetValue(_id)!);
        var cluster = parseResult.GetValue(_cluster);
        if (!cluster && parseResult.GetValue(_node.SeedNodes) is { Length: > 0 })
        {
            throw new CliInputException("--seed-nodes needs --cluster (without it the finalists train on this machine's own trainers)");
        }
        var (settings, events) = cluster ? ClusterSearch(parseResult, id) : LocalSearch(parseResult, directory, id);
        var history = SearchHistory.From(id, events);
        var summary = SearchSummary.From(history);
        var candidates = FinalistSelection.Select(summary, history, parseResult.GetValue(_top), parseResult.GetValue(_trials), parseResult.GetValue(_pareto));

        TrainingRecipe recipe;
        try
        {
            recipe = parseResult.GetValue(_recipe) is { } file ? TrainingRecipe.Load(file) : TrainingRecipe.Paper;
            if (parseResult.GetValue(_epochs) is { } epochs)
            {
                recipe = (recipe with { Epochs = epochs }).Validate("--epochs: ");
            }
        }
        catch (TrainingConfigurationException e)
        {
            throw new CliInputException(e.Message, e.Message.Contains("does not exist", StringComparison.Ordinal) ? ExitCodes.NotFound : ExitCodes.InvalidInput);
        }
        var dataset = parseResult.GetValue(_dataset) ?? settings.Dataset.Spec;
        _ = Training.Data.DatasetSpec.Parse(dataset);
        if (parseResult.GetValue(_resolution) is < 8 or > 1024)
        {
            throw new CliInputException($"--resolution must be between 8 and 1024, got {parseResult.GetValue(_resolution)}");
        }
        if (parseResult.GetValue(_trainSize) is < 2)
        {
            throw new CliInputException($"--train-size must be at least 2, got {parseResult.GetValue(_trainSize)}");
        }
        var checkpoints = parseResult.GetValue(_checkpoints) ?? (settings.Final.CheckpointDir is { Length: > 0 } shared ? shared
            : cluster ? throw new CliInputException("--cluster: the trainer nodes need a checkpoint directory every one of them sees at the same path (a shared file system): set final.checkpointDir or pass --checkpoint-dir")
            : Path.Combine(directory, $"{id}.final"));
        var plan = new FinalTrainingPlan(candidates, recipe.ToJson(), recipe.Epochs, dataset, parseResult.GetValue(_resolution), parseResult.GetValue(_trainSize), Path.GetFullPath(checkpoints));
        FinalistSelection.CheckContinuable(history.Current, plan);

        var outcome = cluster
            ? await RunOnClusterAsync(settings, _node.Resolve(parseResult, parseResult.GetValue(_roles)!), plan, output, cancellationToken)
            : await RunAsync(settings, plan, output, cancellationToken);
        if (outcome.Status == ClusterRunner.LeftStatus)
        {
            await output.WriteLineAsync($"search {id}: {outcome.Reason}");
            return ExitCodes.Success;
        }
        var after = SearchHistory.From(id, cluster ? PostgresJournal.ReadEvents(PostgresJournal.ConnectionString(settings.Journal), id) : JournalReader.ReadEvents(directory, id));
        await FinalTable.WriteAsync(output, SearchSummary.From(after), [.. candidates.Select(c => c.TrialId)]);
        switch (SearchStatusWords.FromWord(outcome.Status))
        {
            case SearchStatus.Completed:
                break;
            case SearchStatus.Paused:
                await output.WriteLineAsync($"final training of search {id} paused ({outcome.Reason}); continue with 'mnasnet train-final {id} --trials {string.Join(',', candidates.Select(c => c.TrialId))}{(cluster ? " --cluster" : "")}' and the same recipe");
                return ExitCodes.Cancelled;
            default:
                throw new CliInputException($"final training of search {id} {outcome.Status}: {outcome.Reason}", ExitCodes.Failure);
        }
        if (parseResult.GetValue(_export) is { } exportDir)
        {
            var trained = SearchSummary.From(after);
            foreach (var f in trained.Finalists.Where(f => candidates.Any(c => c.TrialId == f.TrialId) && f.Record is not null))
            {
                foreach (var line in await TrainedExport.WriteAsync(trained, f.TrialId, Path.Combine(exportDir, $"trial-{f.TrialId}"), onnx: true, tflite: true, cancellationToken))
                {
                    await output.WriteLineAsync(line);
                }
            }
        }
        return after.Current.FinalRun.Any(f => f.Status == WorkStatus.Failed) ? ExitCodes.Failure : ExitCodes.Success;
    }

    private SearchRun LocalSearch(ParseResult parseResult, string directory, string id)
    {
        if (JournalReader.FindSearch(directory, id) is null)
        {
            throw new SearchNotFoundException($"no search '{id}' in '{directory}'");
        }
        var node = NodeOptionsLoader.Load(parseResult.GetValue(_config), parseResult.GetValue(_set) ?? [], previous: JournalFiles.NodeOptionsFile(directory, id));
        return new SearchRun(SearchRunner.SettingsOf(directory, id, node), JournalReader.ReadEvents(directory, id));
    }

    /// <summary>
    /// The search in the cluster's PostgreSQL journal, run with this node's options: those of --config, the cluster's
    /// settings file as <c>node</c> and <c>search --cluster</c> take it (its search definition is not used), and --set.
    /// </summary>
    private SearchRun ClusterSearch(ParseResult parseResult, string id)
    {
        var node = SettingsLoader.Load(parseResult.GetValue(_config), parseResult.GetValue(_set) ?? []).Node;
        if (node.Journal.Provider != "postgresql")
        {
            throw new SettingsException("--cluster: a clustered search journals to PostgreSQL: set journal.provider = postgresql (and MNASNET_PG_CONNECTION or journal.connectionStringFile) in --config");
        }
        var events = PostgresJournal.ReadEvents(PostgresJournal.ConnectionString(node.Journal), id);
        var started = events.Select(e => e.Event).OfType<SearchStarted>().FirstOrDefault() ?? throw new SearchNotFoundException($"no search '{id}' in the PostgreSQL journal");
        return new SearchRun(SettingsLoader.FromJson(started.SettingsJson, node), events);
    }

    private sealed record SearchRun(SearchSettings Settings, IReadOnlyList<JournalEntry> Events);

    private static async Task<SearchOutcome> RunOnClusterAsync(SearchSettings settings, ClusterNodeOptions node, FinalTrainingPlan plan, TextWriter output, CancellationToken cancellationToken)
    {
        using var leave = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        using var signals = StopSignals.Cancel(leave);
        Log.Logger = SearchLogging.Create(settings, console: true);
        try
        {
            await output.WriteLineAsync(string.Create(CultureInfo.InvariantCulture,
                $"search {settings.Id}: final training of trials {string.Join(", ", plan.Candidates.Select(c => c.TrialId))} on the cluster: {plan.Epochs} epochs on {plan.Dataset}, checkpoints in {plan.CheckpointDirectory}"));
            return await ClusterRunner.RunFinalAsync(settings, node, plan, onMemberUp: up => output.WriteLine($"member up: {up}"), leave: leave.Token);
        }
        finally
        {
            await Log.CloseAndFlushAsync();
        }
    }

    private static async Task<SearchOutcome> RunAsync(SearchSettings settings, FinalTrainingPlan plan, TextWriter output, CancellationToken cancellationToken)
    {
        JournalFiles.EnsureWritableDirectory(settings.Journal.Directory);
        try
        {
            _ = JournalChain.LoadKey(settings.Journal.KeyFile);
        }
        catch (JournalKeyException e)
        {
            throw new CliInputException(e.Message);
        }
        using var pause = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        // SIGINT and SIGTERM pause (graceful).
        using var signals = StopSignals.Cancel(pause);
        Log.Logger = SearchLogging.Create(settings, console: true);
        try
        {
            await output.WriteLineAsync(string.Create(CultureInfo.InvariantCulture,
                $"search {settings.Id}: final training of trials {string.Join(", ", plan.Candidates.Select(c => c.TrialId))}: {plan.Epochs} epochs on {plan.Dataset}, checkpoints in {plan.CheckpointDirectory}"));
            var backends = new RealBackendFactory(settings, MnasNetSearchSpace.Default, settings.Journal.Directory);
            return await SearchRunner.RunAsync(settings, resume: true, backends: backends, pauseToken: pause.Token, final: plan, onFinalProgress: p =>
            {
                if (p.Status == "training")
                {
                    output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"trial {p.TrialId}: epoch {p.Epoch}/{p.Epochs} accuracy {p.Accuracy:F4}"));
                }
                else
                {
                    output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"trial {p.TrialId}: {p.Status}{(p.Accuracy is { } a ? $", accuracy {a:F4}" : "")} ({p.Done}/{p.Finalists} finalists done)"));
                }
            });
        }
        finally
        {
            await Log.CloseAndFlushAsync();
        }
    }
}

/// <summary>Which trials train-final trains, and whether the journal lets it.</summary>
internal static class FinalistSelection
{
    public const int DefaultTop = 3;

    public static IReadOnlyList<FinalCandidate> Select(SearchSummary summary, SearchHistory history, int? top, string? trials, bool pareto)
    {
        if ((top is not null ? 1 : 0) + (trials is not null ? 1 : 0) + (pareto ? 1 : 0) > 1)
        {
            throw new CliInputException("choose the finalists one way: --top K, --trials IDS or --pareto");
        }
        var rewarded = summary.Rewarded.Where(t => !t.Failed).ToList();
        IReadOnlyList<TrialSummary> chosen;
        if (trials is not null)
        {
            var ids = trials.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries).Select(s =>
                long.TryParse(s, NumberStyles.None, CultureInfo.InvariantCulture, out var v) ? v : throw new CliInputException($"--trials: '{s}' is not a trial id (expected e.g. 3,8,11)")).Distinct().ToList();
            if (ids.Count == 0)
            {
                throw new CliInputException("--trials names no trial (expected e.g. 3,8,11)");
            }
            chosen = [.. ids.Select(i => summary.Trials.FirstOrDefault(t => t.TrialId == i)
                ?? throw new CliInputException($"search '{summary.SearchId}' has no trial {i} (trials 0..{summary.Trials.Count - 1})", ExitCodes.NotFound))];
            if (chosen.FirstOrDefault(t => t.Failed || t.Reward is null) is { } bad)
            {
                throw new CliInputException($"trial {bad.TrialId} of search '{summary.SearchId}' {(bad.Failed ? $"failed ({bad.FailureReason ?? "reward 0"})" : "has no reward yet")}: nothing to train");
            }
        }
        else if (pareto)
        {
            chosen = summary.ParetoFront();
        }
        else
        {
            var k = top ?? DefaultTop;
            if (k < 1)
            {
                throw new CliInputException($"--top must be at least 1, got {k}");
            }
            chosen = [.. rewarded.OrderByDescending(t => t.Reward).ThenBy(t => t.TrialId).Take(k)];
        }
        if (chosen.Count == 0)
        {
            throw new CliInputException($"search '{summary.SearchId}' has no rewarded trial to train");
        }
        return [.. chosen.Select(t => new FinalCandidate(t.TrialId, t.Tokens, t.ArchitectureId, history.Trials[t.TrialId].Sampled.Seed, t.Accuracy, t.Reward))];
    }

    /// <summary>A finalist begun with another recipe, epoch count or dataset continues only with those.</summary>
    public static void CheckContinuable(SearchState state, FinalTrainingPlan plan)
    {
        foreach (var c in plan.Candidates)
        {
            if (state.Finalists.TryGetValue(c.TrialId, out var known) && !known.Finished
                && (known.RecipeJson != plan.RecipeJson || known.Epochs != plan.Epochs || known.Dataset != plan.Dataset || known.Resolution != plan.Resolution || known.TrainSize != plan.TrainSize))
            {
                throw new CliInputException($"trial {c.TrialId}'s final training was begun with another recipe, epoch count or dataset ({known.Epochs} epochs on {known.Dataset}{(known.Resolution is { } r ? $" at {r}px" : "")}); continue it with the same options");
            }
        }
    }
}
