using Akka.Actor;
using Akka.Cluster.Sharding;
using Akka.Hosting;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using MnasNet.Actors.Decisions;
using MnasNet.Actors.Hosting;
using MnasNet.Actors.Journal;
using MnasNet.Actors.Policy;
using MnasNet.Actors.Protocol;
using MnasNet.Actors.Settings;
using MnasNet.Actors.State;

namespace MnasNet.Cluster;

/// <summary>Runs a cluster node: a controller node attached to one search until it stops, or a node until it is told to leave.</summary>
public static class ClusterRunner
{
    /// <summary>The outcome of a search command whose node left the cluster while the search goes on elsewhere.</summary>
    public const string LeftStatus = "left";

    /// <summary>
    /// Joins the cluster as a controller-role node (plus any worker roles given), starts the search (or, with
    /// <paramref name="resume"/>, continues it wherever it runs) and follows it until it completes, pauses or fails.
    /// The search itself lives in the cluster, not in this process: cancelling <paramref name="leave"/> (SIGTERM)
    /// leaves the cluster gracefully and the search moves to another controller-role node.
    /// </summary>
    public static async Task<SearchOutcome> RunSearchAsync(
        SearchSettings settings,
        ClusterNodeOptions node,
        bool resume,
        Action<SearchProgress>? onProgress = null,
        Action<string>? onMemberUp = null,
        CancellationToken leave = default,
        WarmStartPlan? warmStart = null)
    {
        if (resume && warmStart is not null)
        {
            throw new SettingsException($"search '{settings.Id}': a warm start applies to a new search only (a resumed search goes on from its journal)");
        }
        RequirePostgres(settings);
        var existing = PostgresJournal.ReadEvents(PostgresJournal.ConnectionString(settings.Journal), settings.Id).Count > 0;
        if (existing != resume)
        {
            throw resume
                ? new SearchNotFoundException($"no search '{settings.Id}' in the PostgreSQL journal")
                : new SettingsException($"search '{settings.Id}' already exists in the PostgreSQL journal; continue it with --resume or choose another --id");
        }
        return await FollowAsync(settings, node, new StartSearch(settings.Id, SettingsLoader.DefinitionJson(settings), warmStart), p => p.Status, onProgress, onMemberUp, leave);
    }

    /// <summary>
    /// Joins the cluster as a controller-role node (plus any worker roles given) and has the search's finalists
    /// (<paramref name="plan"/>) trained on the cluster's trainer nodes, journaled in the search's journal; follows
    /// the final run until it completes, pauses or fails. Like a search, the run lives in the cluster: cancelling
    /// <paramref name="leave"/> leaves, and another controller-role node carries the run on.
    /// </summary>
    public static async Task<SearchOutcome> RunFinalAsync(
        SearchSettings settings,
        ClusterNodeOptions node,
        FinalTrainingPlan plan,
        Action<SearchProgress>? onProgress = null,
        Action<string>? onMemberUp = null,
        CancellationToken leave = default)
    {
        RequirePostgres(settings);
        if (PostgresJournal.ReadEvents(PostgresJournal.ConnectionString(settings.Journal), settings.Id).Count == 0)
        {
            throw new SearchNotFoundException($"no search '{settings.Id}' in the PostgreSQL journal");
        }
        return await FollowAsync(settings, node, new StartFinalTraining(settings.Id, SettingsLoader.DefinitionJson(settings), plan),
            p => p.FinalStatus ?? SearchStatus.Starting.Word(), onProgress, onMemberUp, leave);
    }

    /// <summary>Sends <paramref name="start"/> until it is answered, then polls the status (<paramref name="statusOf"/>) until it is completed or paused.</summary>
    private static async Task<SearchOutcome> FollowAsync(SearchSettings settings, ClusterNodeOptions node, ISearchCommand start, Func<SearchProgress, string> statusOf,
        Action<SearchProgress>? onProgress, Action<string>? onMemberUp, CancellationToken leave)
    {
        if (!node.Has(NodeRoles.Controller))
        {
            node = node with { Roles = [NodeRoles.Controller, .. node.Roles] };
        }
        var clock = System.Diagnostics.Stopwatch.StartNew();
        using var host = Build(settings, node);
        await host.StartAsync(CancellationToken.None);
        try
        {
            var system = host.Services.GetRequiredService<ActorSystem>();
            var up = MemberUp(system, onMemberUp);
            await Task.WhenAny(up, system.WhenTerminated, Task.Delay(Timeout.Infinite, leave)).ConfigureAwait(false);
            var region = await host.Services.GetRequiredService<ActorRegistry>().GetAsync<SearchRegionKey>(CancellationToken.None);
            var starting = new ShardingEnvelope(settings.Id, start);
            var status = new ShardingEnvelope(settings.Id, GetSearchStatus.Instance);
            var started = false;
            var poll = TimeSpan.FromSeconds(settings.Cluster.StatusPollSeconds);
            SearchProgress? last = null;
            while (!leave.IsCancellationRequested && !system.WhenTerminated.IsCompleted)
            {
                ISearchCommand? reply = null;
                try
                {
                    // StartSearch until it is answered (idempotent: it starts the search once), then only status: a search
                    // paused from elsewhere (mnasnet pause --cluster) must not be started again by its follower.
                    reply = await region.Ask<ISearchCommand>(started ? status : starting, TimeSpan.FromSeconds(Math.Max(10, 3 * poll.TotalSeconds)), leave);
                    started = true;
                }
                catch (AskTimeoutException)
                {
                }
                catch (OperationCanceledException) when (leave.IsCancellationRequested)
                {
                    break;
                }
                switch (reply)
                {
                    case SearchStopped stopped:
                        return new SearchOutcome(settings.Id, stopped.Status, stopped.Reason, last, null, clock.Elapsed);
                    case SearchProgress p:
                        last = p;
                        onProgress?.Invoke(p);
                        if (SearchStatusWords.FromWord(statusOf(p)) is SearchStatus.Completed or SearchStatus.Paused)
                        {
                            return new SearchOutcome(settings.Id, statusOf(p), null, last, null, clock.Elapsed);
                        }
                        break;
                }
                await Task.WhenAny(Task.Delay(poll, CancellationToken.None), Task.Delay(Timeout.Infinite, leave)).ConfigureAwait(false);
            }
            return leave.IsCancellationRequested
                ? new SearchOutcome(settings.Id, LeftStatus, "this node left the cluster; the search continues on another controller-role node (or resumes when one joins)", last, null, clock.Elapsed)
                : new SearchOutcome(settings.Id, SearchStatus.Failed.Word(), "the actor system stopped before the search did" + (FailureReason(system) is { } why ? $": {why}" : ""), last, null, clock.Elapsed);
        }
        finally
        {
            await host.StopAsync(CancellationToken.None);
        }
    }

    /// <summary>
    /// Joins the cluster as a member without roles, asks the search to pause (in-flight trials get
    /// <paramref name="graceSeconds"/> to finish) and, with <paramref name="wait"/> &gt; 0, follows it until it has
    /// paused (or completed). Returns the last status seen.
    /// </summary>
    public static async Task<string> PauseAsync(SearchSettings settings, ClusterNodeOptions client, string searchId, double graceSeconds, TimeSpan wait, CancellationToken cancellationToken = default)
    {
        var connection = PostgresJournal.ConnectionString(settings.Journal);
        var journaled = JournaledSearch.Read(connection, searchId);
        if (journaled.Progress is null)
        {
            throw new SearchNotFoundException($"no search '{searchId}' in the PostgreSQL journal");
        }
        // A final run (train-final --cluster) pauses like a search; its status is the run's.
        Func<SearchProgress, string> statusOf = journaled.Final is not null ? p => p.FinalStatus ?? SearchStatus.Running.Word() : p => p.Status;
        if (statusOf(journaled.Progress) != SearchStatus.Running.Word())
        {
            throw new SettingsException($"search '{searchId}' is not running (status: {journaled.Progress.Status}); nothing to pause");
        }
        using var host = Build(settings, client);
        await host.StartAsync(CancellationToken.None);
        try
        {
            var system = host.Services.GetRequiredService<ActorSystem>();
            await Task.WhenAny(MemberUp(system, null), Task.Delay(Timeout.Infinite, cancellationToken)).ConfigureAwait(false);
            cancellationToken.ThrowIfCancellationRequested();
            var region = await host.Services.GetRequiredService<ActorRegistry>().GetAsync<SearchRegionKey>(cancellationToken);
            region.Tell(new ShardingEnvelope(searchId, new PauseSearch("requested by mnasnet pause", graceSeconds)));
            var status = SearchStatus.Running.Word();
            var deadline = DateTime.UtcNow + wait;
            var poll = TimeSpan.FromSeconds(settings.Cluster.StatusPollSeconds);
            while (wait > TimeSpan.Zero && status == SearchStatus.Running.Word() && DateTime.UtcNow < deadline)
            {
                await Task.Delay(poll, cancellationToken);
                try
                {
                    status = await region.Ask<ISearchCommand>(new ShardingEnvelope(searchId, GetSearchStatus.Instance), TimeSpan.FromSeconds(10), cancellationToken) switch
                    {
                        SearchProgress p => statusOf(p),
                        SearchStopped s => s.Status,
                        _ => status,
                    };
                }
                catch (AskTimeoutException)
                {
                    // No controller-role node answers (e.g. the search completed and its node left): the journal says.
                    status = JournaledSearch.Read(connection, searchId).Progress is { } p ? statusOf(p) : status;
                }
            }
            return status;
        }
        finally
        {
            await host.StopAsync(CancellationToken.None);
        }
    }

    /// <summary>A worker and/or controller-role node: runs until <paramref name="leave"/> is cancelled, then leaves gracefully.</summary>
    public static async Task RunNodeAsync(SearchSettings settings, ClusterNodeOptions node, Action<string>? onMemberUp = null, CancellationToken leave = default)
    {
        if (node.Has(NodeRoles.Controller))
        {
            RequirePostgres(settings);
        }
        using var host = Build(settings, node);
        await host.StartAsync(CancellationToken.None);
        try
        {
            var system = host.Services.GetRequiredService<ActorSystem>();
            _ = MemberUp(system, onMemberUp);
            await Task.WhenAny(system.WhenTerminated, Task.Delay(Timeout.Infinite, leave)).ConfigureAwait(false);
            if (!leave.IsCancellationRequested && FailureReason(system) is { } why)
            {
                // The only such reason is a refused TLS handshake: a configuration problem.
                throw new SettingsException($"this node stopped: {why}");
            }
        }
        finally
        {
            // Coordinated shutdown: leave the cluster (workers stop, their controllers see them go and re-dispatch at
            // once; searches hosted here are handed off to another controller-role node).
            await host.StopAsync(CancellationToken.None);
        }
    }

    private static void RequirePostgres(SearchSettings settings)
    {
        if (settings.Journal.Provider != "postgresql")
        {
            throw new SettingsException("a clustered search journals to PostgreSQL (every controller-role node must read the same journal): set journal.provider = postgresql and MNASNET_PG_CONNECTION or journal.connectionStringFile");
        }
        _ = PostgresJournal.ConnectionString(settings.Journal);
    }

    /// <summary>
    /// Why the actor system stopped by itself, when it was a failure: Akka.Remote stops a node whose outbound TLS
    /// handshake failed (a peer's certificate is refused, or the peer refused this node's).
    /// </summary>
    private static string? FailureReason(ActorSystem system) =>
        CoordinatedShutdown.Get(system).ShutdownReason is { ExitCode: not 0 } reason
            ? $"{reason} (with cluster.tls.enabled every node needs the same certificate, cluster.tls.certificateFile)"
            : null;

    private static Task MemberUp(ActorSystem system, Action<string>? onMemberUp)
    {
        var up = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var cluster = Akka.Cluster.Cluster.Get(system);
        cluster.RegisterOnMemberUp(() =>
        {
            onMemberUp?.Invoke($"{cluster.SelfAddress} roles {string.Join(",", cluster.SelfRoles)}");
            up.TrySetResult();
        });
        return up.Task;
    }

    private static IHost Build(SearchSettings settings, ClusterNodeOptions node) =>
        new HostBuilder()
            .ConfigureServices(services => services
                .AddSingleton<IHostLifetime, ManualLifetime>()
                .AddAkka(ClusterNodeOptions.SystemName, builder => builder.AddMnasNetClusterNode(settings, node)))
            .Build();

    private sealed class ManualLifetime : IHostLifetime
    {
        public Task WaitForStartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

        public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    }
}
