using Akka.Actor;
using Akka.Hosting;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using MnasNet.Actors.Backends;
using MnasNet.Actors.Journal;
using MnasNet.Actors.Protocol;
using MnasNet.Actors.Settings;
using MnasNet.Actors.State;
using MnasNet.Actors.Timing;

namespace MnasNet.Actors.Hosting;

/// <summary>
/// How a run ended; <see cref="FirstDispatchAfter"/> is the time from start to the first work sent (resume speed),
/// <see cref="Elapsed"/> the wall time of the run, <see cref="VirtualElapsed"/> the virtual time it covered (virtual clock only).
/// </summary>
public sealed record SearchOutcome(string SearchId, string Status, string? Reason, SearchProgress? LastProgress, TimeSpan? FirstDispatchAfter, TimeSpan Elapsed,
    TimeSpan? VirtualElapsed = null);

/// <summary>
/// Runs one search in this process until it completes or pauses: takes the journal lock, enables WAL, starts the
/// actor system, turns cancellation (Ctrl-C, SIGTERM) and the pause file (<c>mnasnet pause</c> from another
/// shell) into a graceful pause, and stops everything.
/// </summary>
public static class SearchRunner
{
    public static TimeSpan PauseFilePollInterval { get; set; } = TimeSpan.FromMilliseconds(200);

    /// <summary>
    /// An existing search as this node resumes it: exactly the definition it started with (from its journal), run
    /// with this node's options, whose journal directory is <paramref name="directory"/>.
    /// </summary>
    public static SearchSettings SettingsOf(string directory, string id, NodeOptions? node = null)
    {
        var started = JournalReader.ReadFirstEvent(directory, id)?.Event as SearchStarted
            ?? throw new SearchNotFoundException($"search '{id}' in '{directory}' has no search-started event: nothing to resume");
        node ??= new NodeOptions();
        return SettingsLoader.FromJson(started.SettingsJson, node with { Journal = node.Journal with { Directory = directory } });
    }

    public static async Task<SearchOutcome> RunAsync(
        SearchSettings settings,
        bool resume,
        Action<SearchProgress>? onProgress = null,
        IBackendFactory? backends = null,
        CancellationToken pauseToken = default,
        bool serializeMessages = false,
        Policy.WarmStartPlan? warmStart = null,
        SearchClock? clock = null,
        Decisions.FinalTrainingPlan? final = null,
        Action<FinalTrainingProgress>? onFinalProgress = null)
    {
        if (resume && warmStart is not null)
        {
            throw new SettingsException($"search '{settings.Id}': a warm start applies to a new search only (a resumed search goes on from its journal)");
        }
        // A phone says what it is only when asked: the adb backend's platform comes from the phone itself; final
        // training measures nothing, so it needs no device of the search's targets.
        IReadOnlyList<DevicePlatform> locals = final is not null ? [] : !settings.Simulated && SettingsValidation.BackendName(settings.Latency.Backend) == DevicePlatform.Adb
            ? [.. PhoneDiscovery.Discover(DevicePlatform.Parse(settings.Latency.Backend), settings.Threads).Select(p => p.Platform)]
            : [DevicePlatform.LocalDeviceOf(settings)];
        foreach (var target in DevicePlatform.TargetsOf(settings).Select(t => t.Platform).Where(t => final is null && !locals.Any(l => l.Satisfies(t))))
        {
            throw new SettingsException($"latency.target '{target}' is not this machine's device ({string.Join(", ", locals)}); measure on such a device with a cluster (mnasnet node --device …) or change the target");
        }
        var directory = settings.Journal.Directory;
        JournalFiles.EnsureWritableDirectory(directory);
        var database = JournalFiles.Database(directory, settings.Id);
        var postgres = settings.Journal.Provider == "postgresql";
        // A missing, unreadable or unfitting table stops the run before anything is journaled.
        var predictor = final is null ? LatencyPredictor.For(settings) : null;
        if (predictor is not null && resume && !postgres && File.Exists(database))
        {
            CheckPredictor(predictor, JournalReader.ReadFirstEvent(directory, settings.Id)?.Event as SearchStarted, settings.Id);
        }
        if (postgres)
        {
            var existing = PostgresJournal.ReadEvents(PostgresJournal.ConnectionString(settings.Journal), settings.Id).Count > 0;
            if (existing != resume)
            {
                throw resume
                    ? new SearchNotFoundException($"no search '{settings.Id}' in the PostgreSQL journal")
                    : new SettingsException($"search '{settings.Id}' already exists in the PostgreSQL journal; continue it with 'mnasnet resume {settings.Id}' or choose another --id");
            }
        }
        else if (!resume && File.Exists(database) && JournalReader.ReadFirstEvent(directory, settings.Id) is not null)
        {
            throw new SettingsException($"search '{settings.Id}' already exists in '{directory}'; continue it with 'mnasnet resume {settings.Id}' or choose another --id");
        }
        if (!postgres && resume && !File.Exists(database))
        {
            throw new SearchNotFoundException($"no search '{settings.Id}' in '{directory}'");
        }
        // A resumed virtual search goes on from the virtual time its journal reached.
        // Final training is real training, even of a simulated search's finalists: it runs on the real clock.
        clock ??= final is not null ? SearchClock.Real
            : SearchClock.For(settings, resume && !postgres && settings.Simulated ? VirtualTime.LastIn(JournalReader.ReadEvents(directory, settings.Id).Select(e => e.Event)) : null);
        var virtualStart = clock.Now;
        // Load the dataset before touching the journal, so a missing dataset leaves no trace.
        var ownBackends = backends is null;
        backends ??= SearchHostingExtensions.DefaultBackends(settings, clock);
        if (backends is RealBackendFactory real)
        {
            if (final is null)
            {
                real.Preload();
            }
            else
            {
                _ = real.FinalDataset(final.Dataset, final.Resolution);
            }
        }
        using var journalLock = JournalLock.Acquire(directory, settings.Id);
        if (!postgres)
        {
            JournalFiles.EnableWal(database);
        }
        if (!postgres)
        {
            File.WriteAllText(JournalFiles.NodeOptionsFile(directory, settings.Id), SettingsLoader.NodeOptionsJson(settings.Node));
        }
        var pauseFile = JournalFiles.PauseFile(directory, settings.Id);
        if (File.Exists(pauseFile))
        {
            File.Delete(pauseFile);
        }

        var wall = System.Diagnostics.Stopwatch.StartNew();
        TimeSpan? firstDispatch = null;
        SearchProgress? last = null;
        var origin = virtualStart;
        if (resume && clock.IsVirtual && !postgres && JournalReader.ReadFirstEvent(directory, settings.Id)?.Event is SearchStarted { At: { } startedAt })
        {
            origin = startedAt;
        }
        var restarts = 0;
        while (true)
        {
            var progressBefore = last;
            var result = await RunHostAsync();
            // A virtual search whose controller stopped on a transient fault (a journal outage) is restarted from its
            // journal after a back-off in virtual time, as a cluster's search host restarts its controller.
            if (!result.Transient || clock is not VirtualSearchClock stoppedClock || !ownBackends || pauseToken.IsCancellationRequested)
            {
                return new SearchOutcome(result.SearchId, result.Status, result.Reason, last, firstDispatch, wall.Elapsed, clock.IsVirtual ? clock.Now - virtualStart : null);
            }
            restarts = ReferenceEquals(last, progressBefore) ? restarts + 1 : 1;
            var delay = RestartBackoff(restarts);
            Serilog.Log.Warning("search {SearchId}: {Reason}; restarting it from the journal in {Delay:0.#} s of virtual time (restart {Restart})",
                settings.Id, result.Reason, delay.TotalSeconds, restarts);
            clock = new VirtualSearchClock(stoppedClock.Now + delay);
            backends = SearchHostingExtensions.DefaultBackends(settings, clock);
            warmStart = null;
        }

        async Task<SearchStopped> RunHostAsync()
        {
            var runClock = clock;
            var stopped = new TaskCompletionSource<SearchStopped>(TaskCreationOptions.RunContinuationsAsynchronously);
            var options = new SearchHostOptions(database, backends, m =>
            {
                switch (m)
                {
                    case SearchProgress p:
                        last = p;
                        onProgress?.Invoke(p);
                        break;
                    case FirstDispatch:
                        firstDispatch ??= wall.Elapsed;
                        break;
                    case FinalTrainingProgress f:
                        onFinalProgress?.Invoke(f);
                        break;
                    case SearchStopped s:
                        stopped.TrySetResult(s);
                        break;
                }
            }, serializeMessages, WarmStart: warmStart, Clock: runClock, Final: final, VirtualOrigin: origin, Predictor: predictor);

            var host = new HostBuilder()
                .ConfigureServices(services => services.AddSingleton<IHostLifetime, ManualLifetime>().AddAkka($"mnasnet-{SafeName(settings.Id)}", builder => builder.AddMnasNetSearch(settings, options)))
                .Build();
            await host.StartAsync(CancellationToken.None);
            try
            {
                var controller = await host.Services.GetRequiredService<ActorRegistry>().GetAsync<SearchControllerKey>(CancellationToken.None);
                _ = host.Services.GetRequiredService<ActorSystem>().WhenTerminated.ContinueWith(
                    _ => stopped.TrySetResult(new SearchStopped(settings.Id, SearchStatus.Failed.Word(), "the actor system stopped before the search did")), TaskScheduler.Default);
                var pauseRequested = 0;
                void RequestPause(string reason)
                {
                    if (Interlocked.Exchange(ref pauseRequested, 1) == 0)
                    {
                        runClock.Hold();
                        controller.Tell(new PauseSearch(reason, settings.Workers.PauseGraceSeconds));
                    }
                }
                using var registration = pauseToken.Register(() => RequestPause("interrupted (Ctrl-C / SIGTERM)"));
                using var poll = new CancellationTokenSource();
                var poller = Task.Run(async () =>
                {
                    using var timer = new PeriodicTimer(PauseFilePollInterval);
                    while (await timer.WaitForNextTickAsync(poll.Token).ConfigureAwait(false))
                    {
                        if (File.Exists(pauseFile))
                        {
                            RequestPause("pause requested by 'mnasnet pause'");
                            File.Delete(pauseFile);
                        }
                    }
                }, CancellationToken.None);
                var result = await stopped.Task;
                await poll.CancelAsync();
                try
                {
                    await poller;
                }
                catch (OperationCanceledException)
                {
                }
                return result;
            }
            finally
            {
                await host.StopAsync(CancellationToken.None);
                host.Dispose();
            }
        }
    }

    /// <summary>A search resumes only with the very table it started with (same bytes: same SHA-256).</summary>
    public static void CheckPredictor(LatencyPredictor predictor, SearchStarted? started, string searchId)
    {
        if (started?.Predictor is { } journaled && journaled.Sha256 != predictor.Identity.Sha256)
        {
            throw new SettingsException($"latency.predictor: latency table '{LatencyPredictor.TablePath(journaled.Spec)}' changed since search '{searchId}' started: "
                + $"journaled SHA-256 {journaled.Sha256}, the file now {predictor.Identity.Sha256}; put back the table the search started with");
        }
    }

    /// <summary>The cluster search host's back-off: 0.5 s, doubling, at most 15 s; counted from 1 since the last progress.</summary>
    public static TimeSpan RestartBackoff(int restart) => TimeSpan.FromSeconds(Math.Min(15, Math.Pow(2, restart - 1) * 0.5));

    private static string SafeName(string id) => new(id.Select(c => char.IsAsciiLetterOrDigit(c) || c == '-' ? c : '-').ToArray());

    /// <summary>
    /// No console lifetime: SIGINT/SIGTERM must pause the search (the search command handles them), not stop the
    /// host under the running controller.
    /// </summary>
    private sealed class ManualLifetime : IHostLifetime
    {
        public Task WaitForStartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

        public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    }
}
