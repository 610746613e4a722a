using System.CommandLine;
using System.Globalization;
using MnasNet.Actors.Journal;
using MnasNet.Actors.Settings;
using MnasNet.Actors.State;

namespace MnasNet.Cli.Commands.Search;

/// <summary><c>mnasnet status ID</c>: from the journal, whether or not the search is running.</summary>
public sealed class StatusCommand : SearchCliCommand
{
    private readonly Argument<string> _id = IdArgument();
    private readonly Option<string> _dir = JournalDirectoryOption();
    private readonly Option<bool> _json = new("--json") { Description = "Print JSON." };

    public StatusCommand() : base("status", "State of one search, read from its journal (works while it runs).")
    {
        Arguments.Add(_id);
        Options.Add(_dir);
        Options.Add(_json);
    }

    protected override async Task<int> ExecuteAsync(ParseResult parseResult, TextWriter output, CancellationToken cancellationToken)
    {
        var dir = parseResult.GetValue(_dir)!;
        var id = parseResult.GetValue(_id)!;
        var status = SearchStatusView.Of(dir, id);
        if (parseResult.GetValue(_json))
        {
            await WriteJsonAsync(output, status);
            return ExitCodes.Success;
        }
        await output.WriteLineAsync(string.Create(CultureInfo.InvariantCulture,
            $"search {status.Id}: {status.Status}{(status.Running ? " (running)" : "")}\n" +
            $"  trials      {status.TrialsDone}/{status.TrialBudget} done, {status.Failed} failed, batch {status.BatchesDone}/{status.Batches}\n" +
            $"  best        {(status.BestReward is { } r ? $"reward {r:F4} trial {status.BestTrial} acc {status.BestAccuracy:F4} lat {status.BestLatencyMs:F3} ms" : "-")}\n" +
            $"  policy      {status.Strategy} {status.PolicyHash}\n" +
            $"  journal     {status.Events} events, {status.Pauses} pauses, {status.Resumes} resumes, {status.LeaseExpiries} lease expiries\n" +
            $"  file        {status.Journal}"));
        return ExitCodes.Success;
    }
}

public sealed record SearchStatusView(
    string Id, string Status, bool Running, long TrialsDone, long TrialBudget, int Failed, int BatchesDone, int Batches,
    double? BestReward, long? BestTrial, double? BestAccuracy, double? BestLatencyMs, string? Strategy, string? PolicyHash,
    long Events, int Pauses, int Resumes, int LeaseExpiries, string Journal)
{
    public static SearchStatusView Of(string dir, string id)
    {
        var summary = SearchSummary.From(id, JournalReader.ReadEvents(dir, id));
        var settings = summary.SettingsJson is null ? null : SettingsLoader.FromJson(summary.SettingsJson);
        var best = summary.Rewarded.Where(t => !t.Failed).MaxBy(t => t.Reward);
        return new SearchStatusView(id, summary.Status, JournalFiles.IsRunning(dir, id), summary.Rewarded.Count(), settings?.TrialBudget ?? 0,
            summary.Trials.Count(t => t.Failed), summary.Batches.Count, settings?.Batches ?? 0, best?.Reward, best?.TrialId, best?.Accuracy,
            best?.LatencyMs, summary.Strategy, summary.FinalPolicyHash, summary.Events, summary.Pauses, summary.Resumes, summary.LeaseExpiries,
            Path.GetFullPath(JournalFiles.Database(dir, id)));
    }
}

/// <summary><c>mnasnet list</c>: every search in the journal directory.</summary>
public sealed class ListCommand : SearchCliCommand
{
    private readonly Option<string> _dir = JournalDirectoryOption();
    private readonly Option<bool> _json = new("--json") { Description = "Print JSON." };

    public ListCommand() : base("list", "The searches in the journal directory with their status.")
    {
        Options.Add(_dir);
        Options.Add(_json);
    }

    protected override async Task<int> ExecuteAsync(ParseResult parseResult, TextWriter output, CancellationToken cancellationToken)
    {
        var dir = parseResult.GetValue(_dir)!;
        var views = JournalFiles.List(dir).Select(id => SearchStatusView.Of(dir, id)).ToList();
        if (parseResult.GetValue(_json))
        {
            await WriteJsonAsync(output, views);
            return ExitCodes.Success;
        }
        if (views.Count == 0)
        {
            await output.WriteLineAsync($"no searches in '{dir}'");
            return ExitCodes.Success;
        }
        await output.WriteLineAsync($"{"id",-28} {"status",-10} {"trials",13} {"best reward",11}");
        foreach (var v in views)
        {
            await output.WriteLineAsync(string.Create(CultureInfo.InvariantCulture,
                $"{v.Id,-28} {v.Status + (v.Running ? "*" : ""),-10} {$"{v.TrialsDone}/{v.TrialBudget}",13} {(v.BestReward is { } r ? r.ToString("F4", CultureInfo.InvariantCulture) : "-"),11}"));
        }
        if (views.Any(v => v.Running))
        {
            await output.WriteLineAsync("* running now");
        }
        return ExitCodes.Success;
    }
}

/// <summary>
/// <c>mnasnet pause ID</c> from another shell: writes the pause request file &lt;dir&gt;/&lt;id&gt;.pause, which the running
/// search polls (every 200 ms); it stops dispatching, lets in-flight trials finish within the grace period,
/// journals the pause and exits 0. With --wait, returns when the search has stopped.
/// </summary>
public sealed class PauseCommand : SearchCliCommand
{
    private readonly Argument<string> _id = IdArgument();
    private readonly Option<string> _dir = JournalDirectoryOption();
    private readonly Option<double> _wait = new("--wait") { Description = "Seconds to wait for the search to stop (0: do not wait).", DefaultValueFactory = _ => 0 };

    public PauseCommand() : base("pause", "Ask a running search (in another process) to pause.")
    {
        Arguments.Add(_id);
        Options.Add(_dir);
        Options.Add(_wait);
    }

    protected override async Task<int> ExecuteAsync(ParseResult parseResult, TextWriter output, CancellationToken cancellationToken)
    {
        var dir = parseResult.GetValue(_dir)!;
        var id = parseResult.GetValue(_id)!;
        if (!File.Exists(JournalFiles.Database(dir, id)))
        {
            throw new SearchNotFoundException($"no search '{id}' in '{dir}'");
        }
        if (!JournalFiles.IsRunning(dir, id))
        {
            throw new CliInputException($"search '{id}' is not running (status: {SearchStatusView.Of(dir, id).Status}); nothing to pause", ExitCodes.InvalidInput);
        }
        await File.WriteAllTextAsync(JournalFiles.PauseFile(dir, id), $"{Environment.ProcessId}\n", cancellationToken);
        await output.WriteLineAsync($"pause requested for search {id}");
        var wait = parseResult.GetValue(_wait);
        if (wait > 0)
        {
            var deadline = DateTime.UtcNow.AddSeconds(wait);
            while (JournalFiles.IsRunning(dir, id))
            {
                if (DateTime.UtcNow > deadline)
                {
                    throw new CliInputException($"search '{id}' did not stop within {wait} s", ExitCodes.Failure);
                }
                await Task.Delay(100, cancellationToken);
            }
            await output.WriteLineAsync($"search {id} stopped: {SearchStatusView.Of(dir, id).Status}");
        }
        return ExitCodes.Success;
    }
}
