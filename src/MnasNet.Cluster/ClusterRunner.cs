using Akka.Actor;
using Akka.Hosting;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using MnasNet.Actors.Backends;
using MnasNet.Actors.Hosting;
using MnasNet.Actors.Journal;
using MnasNet.Actors.Protocol;
using MnasNet.Actors.Settings;

namespace MnasNet.Cluster;

/// <summary>Runs a cluster node: a controller node until its search stops, a worker node until it is told to leave.</summary>
public static class ClusterRunner
{
    /// <summary>
    /// Joins the cluster as a controller-role node (plus any worker roles given) and runs the search as the cluster
    /// singleton until it completes. Cancelling <paramref name="leave"/> (SIGTERM) leaves the cluster gracefully: the
    /// singleton moves to another controller-role node, which continues from the shared journal.
    /// </summary>
    public static async Task<SearchOutcome> RunSearchAsync(
        SearchSettings settings,
        ClusterNodeOptions node,
        bool resume,
        Action<SearchProgress>? onProgress = null,
        Action<string>? onMemberUp = null,
        IBackendFactory? backends = null,
        CancellationToken leave = default)
    {
        if (!node.Has(NodeRoles.Controller))
        {
            node = node with { Roles = [NodeRoles.Controller, .. node.Roles] };
        }
        if (settings.Journal.Provider == "postgresql")
        {
            var existing = PostgresJournal.ReadEvents(PostgresJournal.ConnectionString(settings.Journal), settings.Id).Count > 0;
            if (existing != resume)
            {
                throw resume
                    ? new SearchNotFoundException($"no search '{settings.Id}' in the PostgreSQL journal")
                    : new SettingsException($"search '{settings.Id}' already exists in the PostgreSQL journal; continue it with --resume or choose another --id");
            }
        }
        else
        {
            JournalFiles.EnsureWritableDirectory(settings.Journal.Directory);
        }
        var clock = System.Diagnostics.Stopwatch.StartNew();
        TimeSpan? firstDispatch = null;
        SearchProgress? last = null;
        var stopped = new TaskCompletionSource<SearchStopped>(TaskCreationOptions.RunContinuationsAsynchronously);
        backends ??= SearchHostingExtensions.DefaultBackends(settings);
        using var host = Build(settings, node, backends, m =>
        {
            switch (m)
            {
                case SearchProgress p:
                    last = p;
                    onProgress?.Invoke(p);
                    break;
                case FirstDispatch:
                    firstDispatch ??= clock.Elapsed;
                    break;
                case SearchStopped s:
                    stopped.TrySetResult(s);
                    break;
            }
        });
        await host.StartAsync(CancellationToken.None);
        try
        {
            var system = host.Services.GetRequiredService<ActorSystem>();
            ReportMemberUp(system, onMemberUp);
            _ = system.WhenTerminated.ContinueWith(_ => stopped.TrySetResult(new SearchStopped(settings.Id, "failed", "the actor system stopped before the search did")), TaskScheduler.Default);
            using var registration = leave.Register(() => stopped.TrySetResult(new SearchStopped(settings.Id, "left", "this node left the cluster; the search continues on another controller-role node (or resumes when one joins)")));
            var result = await stopped.Task;
            return new SearchOutcome(result.SearchId, result.Status, result.Reason, last, firstDispatch, clock.Elapsed);
        }
        finally
        {
            await host.StopAsync(CancellationToken.None);
        }
    }

    /// <summary>A worker (and/or standby controller) node: runs until <paramref name="leave"/> is cancelled, then leaves gracefully.</summary>
    public static async Task RunNodeAsync(SearchSettings settings, ClusterNodeOptions node, Action<string>? onMemberUp = null, IBackendFactory? backends = null, CancellationToken leave = default)
    {
        using var host = Build(settings, node, backends ?? SearchHostingExtensions.DefaultBackends(settings), null);
        await host.StartAsync(CancellationToken.None);
        try
        {
            var system = host.Services.GetRequiredService<ActorSystem>();
            ReportMemberUp(system, onMemberUp);
            var terminated = system.WhenTerminated;
            await Task.WhenAny(terminated, Task.Delay(Timeout.Infinite, leave)).ConfigureAwait(false);
        }
        finally
        {
            // Coordinated shutdown: leave the cluster (workers stop, their controller sees them go and re-dispatches at once).
            await host.StopAsync(CancellationToken.None);
        }
    }

    private static void ReportMemberUp(ActorSystem system, Action<string>? onMemberUp)
    {
        if (onMemberUp is null)
        {
            return;
        }
        var cluster = Akka.Cluster.Cluster.Get(system);
        cluster.RegisterOnMemberUp(() => onMemberUp($"{cluster.SelfAddress} roles {string.Join(",", cluster.SelfRoles)}"));
    }

    private static IHost Build(SearchSettings settings, ClusterNodeOptions node, IBackendFactory backends, Action<ISearchCommand>? onNotification) =>
        new HostBuilder()
            .ConfigureServices(services => services
                .AddSingleton<IHostLifetime, ManualLifetime>()
                .AddAkka(ClusterNodeOptions.SystemName, builder => builder.AddMnasNetClusterNode(settings, node, backends, onNotification)))
            .Build();

    private sealed class ManualLifetime : IHostLifetime
    {
        public Task WaitForStartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

        public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    }
}
