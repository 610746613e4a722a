using System.CommandLine;
using System.Globalization;
using MnasNet.Actors.Journal;
using MnasNet.Actors.Settings;
using MnasNet.Actors.State;

namespace MnasNet.Cli.Commands.Search;

/// <summary><c>mnasnet status ID</c>: from the journal (SQLite or PostgreSQL), whether or not the search is running.</summary>
public sealed class StatusCommand : SearchCliCommand
{
    private readonly Argument<string> _id = IdArgument();
    private readonly JournalOptions _journal = new();
    private readonly Option<bool> _json = new("--json") { Description = "Print JSON." };

    public StatusCommand() : base("status", "State of one search, read from its journal (works while it runs).")
    {
        Arguments.Add(_id);
        _journal.AddTo(this);
        Options.Add(_json);
    }

    protected override async Task<int> ExecuteAsync(ParseResult parseResult, TextWriter output, CancellationToken cancellationToken)
    {
        var status = SearchStatusView.Of(_journal.Resolve(parseResult).Open(), parseResult.GetValue(_id)!);
        if (parseResult.GetValue(_json))
        {
            await WriteJsonAsync(output, status);
            return ExitCodes.Success;
        }
        var c = CultureInfo.InvariantCulture;
        await output.WriteLineAsync($"search {status.Id}: {status.Status}{(status.Running == true ? " (running)" : "")}");
        if (status.Running is null && status.Status == SearchStatus.Running.Word())
        {
            await output.WriteLineAsync($"  process     unknown: {SearchStatusView.NoLockNote}");
        }
        await output.WriteLineAsync(string.Create(c, $"  trials      {status.TrialsDone}/{status.TrialBudget} done, {status.Failed} failed, batch {status.BatchesDone}/{status.Batches}"));
        await output.WriteLineAsync(status.BestReward is { } r
            ? string.Create(c, $"  best        reward {r:F4} trial {status.BestTrial} acc {status.BestAccuracy:F4} lat {SearchStatusView.Latencies(status.Targets, status.BestLatenciesMs)}{(status.BestLatencySource is { } source ? $" ({source})" : "")}")
            : "  best        -");
        if (status.Predictor is { } predictor)
        {
            await output.WriteLineAsync($"  latency     {predictor.Describe()}");
        }
        await output.WriteLineAsync($"  policy      {status.Strategy}{(status.Engine is { } engine ? $" ({engine} engine)" : "")} {status.PolicyHash}");
        await output.WriteLineAsync(string.Create(c, $"  journal     {status.Events} events, {status.Pauses} pauses, {status.Resumes} resumes, {status.LeaseExpiries} lease expiries"));
        await output.WriteLineAsync(string.Create(c, $"  attempts    {status.RetriedTrials} trials retried, {status.InfrastructureFailures} failed by the infrastructure (no reward, not learned from)"));
        if (status.FinalTraining is { } final)
        {
            var trained = status.Finalists.Where(f => f.FinalAccuracy is not null).ToList();
            var best = trained.MaxBy(f => f.FinalAccuracy) is { } top ? string.Create(c, $", best trial {top.TrialId} final acc {top.FinalAccuracy:F4} (proxy {top.ProxyAccuracy:F4})") : "";
            var tau = status.ProxyFidelityTau is { } t ? string.Create(c, $", Kendall tau {t:F3}") : "";
            await output.WriteLineAsync($"  final       {final}: {trained.Count}/{status.Finalists.Count} finalists trained, {status.Finalists.Count(f => f.Status == "failed")} failed{best}{tau}");
        }
        await output.WriteLineAsync($"  last event  {SearchStatusView.Time(status.LastEventAt)}");
        await output.WriteLineAsync(string.Create(c, $"  time        {status.ElapsedSeconds:F1} s on the {status.Clock} clock, {status.WallSeconds:F1} s of wall time"));
        await output.WriteLineAsync($"  {(status.Provider == "sqlite" ? "file    " : "database")}    {status.Journal}");
        return ExitCodes.Success;
    }
}

/// <summary>
/// One search as status and list show it. <see cref="Running"/>: true/false from the SQLite journal's process lock;
/// null for PostgreSQL, where no lock can be probed (<see cref="Status"/> is what the journal says, and
/// <see cref="LastEventAt"/> when it last said something).
/// </summary>
public sealed record SearchStatusView(
    string Id, string Status, bool? Running, long TrialsDone, long TrialBudget, int Failed, int BatchesDone, int Batches,
    double? BestReward, long? BestTrial, double? BestAccuracy, double? BestLatencyMs, string? Strategy, string? PolicyHash,
    long Events, int Pauses, int Resumes, int LeaseExpiries, DateTime? LastEventAt, string Provider, string Journal,
    IReadOnlyList<string> Targets, IReadOnlyList<double?> BestLatenciesMs, int RetriedTrials = 0, int InfrastructureFailures = 0,
    string Clock = Actors.Timing.SearchTiming.RealClock, double? ElapsedSeconds = null, double? WallSeconds = null)
{
    /// <summary>The latest train-final run: running, paused or completed; null when there was none.</summary>
    public string? FinalTraining { get; init; }

    public IReadOnlyList<FinalistSummary> Finalists { get; init; } = [];

    public double? ProxyFidelityTau { get; init; }

    /// <summary>A search with a latency predictor: its table, the fraction measured and the predictor's error so far.</summary>
    [System.Text.Json.Serialization.JsonIgnore(Condition = System.Text.Json.Serialization.JsonIgnoreCondition.WhenWritingNull)]
    public Reporting.PredictorView? Predictor { get; init; }

    /// <summary>The PPO controller's engine (strategy ppo only): managed, or libtorch for searches journaled before engines existed.</summary>
    [System.Text.Json.Serialization.JsonIgnore(Condition = System.Text.Json.Serialization.JsonIgnoreCondition.WhenWritingNull)]
    public string? Engine { get; init; }

    /// <summary>Which latency the best trial's reward used (searches with a predictor).</summary>
    [System.Text.Json.Serialization.JsonIgnore(Condition = System.Text.Json.Serialization.JsonIgnoreCondition.WhenWritingNull)]
    public string? BestLatencySource { get; init; }

    public const string NoLockNote = "a PostgreSQL journal has no process lock to probe: 'running' means no pause or completion is journaled yet (the search runs, or its processes died; see 'last event')";

    public static SearchStatusView Of(string dir, string id) => Of(new SqliteSearchJournals(dir), id);

    public static SearchStatusView Of(ISearchJournals journals, string id)
    {
        var entries = journals.ReadEvents(id);
        var summary = SearchSummary.From(id, entries);
        var timing = Actors.Timing.SearchTiming.Of(entries);
        var settings = summary.SettingsJson is null ? null : SettingsLoader.FromJson(summary.SettingsJson);
        var best = summary.Rewarded.Where(t => !t.Failed).MaxBy(t => t.Reward);
        return new SearchStatusView(id, summary.Status, journals.IsRunning(id), summary.Rewarded.Count(), settings?.TrialBudget ?? 0,
            summary.Trials.Count(t => t.Failed), summary.Batches.Count, settings?.Batches ?? 0, best?.Reward, best?.TrialId, best?.Accuracy,
            best?.RewardLatencyMs, summary.Strategy, summary.FinalPolicyHash, summary.Events, summary.Pauses, summary.Resumes, summary.LeaseExpiries,
            journals.Find(id)?.LastEventAt, journals.Provider, journals.LocationOf(id),
            settings is null ? [] : [.. Actors.Backends.DevicePlatform.TargetsOf(settings).Select(t => t.Platform.ToString())],
            best?.LatencySource is not null ? [best.RewardLatencyMs] : best?.LatenciesMs ?? [],
            summary.RetriedTrials, summary.InfrastructureFailures, timing.Clock, timing.ElapsedSeconds, timing.WallSeconds)
        {
            FinalTraining = summary.FinalStatus?.Word(),
            Finalists = summary.Finalists,
            ProxyFidelityTau = summary.ProxyFidelityTau is { } tau && double.IsFinite(tau) ? tau : null,
            Predictor = settings is null ? null : Reporting.PredictorView.Of(summary, settings.Latency.MeasureTop),
            BestLatencySource = best?.LatencySource,
            Engine = settings?.Strategy == Controller.SearchStrategies.Ppo ? settings.Policy.Engine : null,
        };
    }


    /// <summary>"12.345 ms", or with several targets "12.345 ms (platform a), 3.210 ms (platform b)".</summary>
    public static string Latencies(IReadOnlyList<string> targets, IReadOnlyList<double?> latencies) => latencies.Count <= 1
        ? string.Create(CultureInfo.InvariantCulture, $"{latencies.FirstOrDefault():F3} ms")
        : string.Join(", ", latencies.Select((l, i) => string.Create(CultureInfo.InvariantCulture, $"{l:F3} ms ({(i < targets.Count ? targets[i] : $"target {i}")})")));

    public static string Time(DateTime? utc) => utc?.ToString("yyyy-MM-dd HH:mm:ss'Z'", CultureInfo.InvariantCulture) ?? "-";
}

/// <summary><c>mnasnet list</c>: every search in the journal directory or the PostgreSQL journal.</summary>
public sealed class ListCommand : SearchCliCommand
{
    private readonly JournalOptions _journal = new();
    private readonly Option<bool> _json = new("--json") { Description = "Print JSON." };

    public ListCommand() : base("list", "The searches in the journal (directory or PostgreSQL database) with their status.")
    {
        _journal.AddTo(this);
        Options.Add(_json);
    }

    protected override async Task<int> ExecuteAsync(ParseResult parseResult, TextWriter output, CancellationToken cancellationToken)
    {
        var journals = _journal.Resolve(parseResult).Open();
        var views = journals.List().Select(s => SearchStatusView.Of(journals, s.Id)).ToList();
        if (parseResult.GetValue(_json))
        {
            await WriteJsonAsync(output, views);
            return ExitCodes.Success;
        }
        if (views.Count == 0)
        {
            await output.WriteLineAsync($"no searches in '{journals.Location}'");
            return ExitCodes.Success;
        }
        await output.WriteLineAsync($"{"id",-28} {"status",-10} {"trials",13} {"best reward",11}  {"last event",-20}");
        foreach (var v in views)
        {
            await output.WriteLineAsync(string.Create(CultureInfo.InvariantCulture,
                $"{v.Id,-28} {v.Status + (v.Running == true ? "*" : ""),-10} {$"{v.TrialsDone}/{v.TrialBudget}",13} {(v.BestReward is { } r ? r.ToString("F4", CultureInfo.InvariantCulture) : "-"),11}  {SearchStatusView.Time(v.LastEventAt),-20}"));
        }
        if (views.Any(v => v.Running == true))
        {
            await output.WriteLineAsync("* running now");
        }
        if (views.Any(v => v.Running is null && v.Status == SearchStatus.Running.Word()))
        {
            await output.WriteLineAsync($"running: process unknown: {SearchStatusView.NoLockNote}");
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

    private readonly Option<bool> _cluster = new("--cluster") { Description = "The search runs on a cluster: join it (--seed-nodes) and ask the search to pause; PostgreSQL journal from --config / MNASNET_PG_CONNECTION." };
    private readonly Option<string?> _config = new("--config") { Description = "With --cluster: settings file (journal, cluster timings)." };
    private readonly Option<string[]> _seedNodes = new("--seed-nodes") { Description = "With --cluster: seed node addresses." };
    private readonly Option<int> _port = new("--port") { Description = "With --cluster: port of this short-lived member (0 = any).", DefaultValueFactory = _ => 0 };
    private readonly Option<string> _hostname = new("--hostname") { Description = "With --cluster: host name other nodes reach this member at.", DefaultValueFactory = _ => "127.0.0.1" };
    private readonly Option<double> _grace = new("--grace") { Description = "With --cluster: seconds in-flight trials may run before they are abandoned (re-run on resume).", DefaultValueFactory = _ => 30 };

    public PauseCommand() : base("pause", "Ask a running search (in another process, or with --cluster on a cluster) to pause.")
    {
        Arguments.Add(_id);
        Options.Add(_dir);
        Options.Add(_wait);
        Options.Add(_cluster);
        Options.Add(_config);
        Options.Add(_seedNodes);
        Options.Add(_port);
        Options.Add(_hostname);
        Options.Add(_grace);
    }

    protected override async Task<int> ExecuteAsync(ParseResult parseResult, TextWriter output, CancellationToken cancellationToken)
    {
        var dir = parseResult.GetValue(_dir)!;
        var id = parseResult.GetValue(_id)!;
        if (parseResult.GetValue(_cluster))
        {
            var settings = SettingsLoader.Load(parseResult.GetValue(_config), ["journal.provider=postgresql"]);
            var client = MnasNet.Cluster.ClusterNodeOptions.Client(parseResult.GetValue(_seedNodes) ?? [], parseResult.GetValue(_hostname)!, parseResult.GetValue(_port));
            var grace = parseResult.GetValue(_grace);
            if (!(grace >= 0) || !double.IsFinite(grace))
            {
                throw new SettingsException($"--grace must be 0 or more seconds, got {grace}");
            }
            var waitSeconds = parseResult.GetValue(_wait);
            var status = await MnasNet.Cluster.ClusterRunner.PauseAsync(settings, client, id, grace, TimeSpan.FromSeconds(Math.Max(0, waitSeconds)), cancellationToken);
            await output.WriteLineAsync(waitSeconds > 0 ? $"search {id} stopped: {status}" : $"pause requested for search {id}");
            if (waitSeconds > 0 && status == SearchStatus.Running.Word())
            {
                throw new CliInputException($"search '{id}' did not stop within {waitSeconds} s", ExitCodes.Failure);
            }
            return ExitCodes.Success;
        }
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
