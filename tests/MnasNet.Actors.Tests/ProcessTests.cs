using MnasNet.Actors.Hosting;
using MnasNet.Actors.Journal;
using MnasNet.Actors.Protocol;
using MnasNet.Actors.Settings;
using MnasNet.Cli;

namespace MnasNet.Actors.Tests;

/// <summary>
/// The built mnasnet binary as child processes on real SQLite journals: SIGKILL at random points, pause from another
/// process, SIGTERM. Synchronisation is by observing the journal (event counts), never by fixed sleeps.
/// </summary>
public sealed class ProcessTests
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(90);

    [Fact]
    public async Task Sigkill_at_random_points_then_resume_gives_the_same_journal_as_an_uninterrupted_run()
    {
        using var dir = new TempDir();
        var settings = Simulated.Settings(dir.Path, "crash", batchSize: 10, batches: 12, trainSeconds: 0.004, clock: SimulationClock.Real);
        var reference = settings with { Id = "reference" };
        var outcome = await SearchRunner.RunAsync(reference, resume: false);
        Assert.Equal("completed", outcome.Status);
        var referenceEvents = JournalReader.ReadEvents(dir.Path, "reference").Count;

        var config = Simulated.WriteConfig(dir, settings);
        var database = JournalFiles.Database(dir.Path, "crash");
        var random = new Random(Environment.TickCount);
        var killPoints = Enumerable.Range(0, 3).Select(_ => random.Next(1, referenceEvents - 20)).Order().ToList();
        var kills = 0;
        var resumes = 0;
        var log = new List<string>();
        var eventsAfterLastKill = 0L;
        foreach (var point in killPoints)
        {
            var resuming = !(kills == 0 && !File.Exists(database));
            var before = File.Exists(database) ? JournalReader.CountEvents(database) : 0;
            using var child = resuming
                ? MnasNetProcess.Start(dir.Path, "resume", "crash", "--journal-dir", dir.Path, "--plain")
                : MnasNetProcess.Start(dir.Path, "search", "--config", config, "--plain");
            // A resumed process must write at least one event (its search-resumed) before it is killed again,
            // even when the previous kill landed past this kill point.
            var target = Math.Max(point, eventsAfterLastKill + 1);
            var seen = await child.WaitForEventsAsync(database, target, Timeout);
            // Every resume that wrote an event journaled its search-resumed first.
            resumes += resuming && seen > before ? 1 : 0;
            log.Add($"{(resuming ? "resume" : "search")} {before}->{seen} exited {child.HasExited}");
            if (child.HasExited)
            {
                Assert.True(await child.WaitAsync(Timeout) == 0, child.Output);
                continue;
            }
            child.KillHard();
            await child.WaitAsync(Timeout);
            kills++;
            Assert.True(seen >= target);
            eventsAfterLastKill = JournalReader.CountEvents(database);
        }
        Assert.True(kills >= 1, $"no kill landed (points {string.Join(",", killPoints)})");
        var status = SearchSummary(dir.Path, "crash");
        if (status.Status != "completed")
        {
            using var final = MnasNetProcess.Start(dir.Path, "resume", "crash", "--journal-dir", dir.Path, "--plain");
            Assert.True(await final.WaitAsync(Timeout) == 0, final.Output);
            resumes++;
        }
        Assert.Equal(Simulated.Fingerprint(dir.Path, "reference"), Simulated.Fingerprint(dir.Path, "crash"));
        var events = JournalReader.ReadEvents(dir.Path, "crash").Select(e => e.Event).ToList();
        Assert.Equal(120, events.OfType<RewardComputed>().Count());
        Assert.Equal(120, events.OfType<RewardComputed>().Select(r => r.TrialId).Distinct().Count());
        Assert.Equal(120, events.OfType<TrialTrained>().Select(r => r.TrialId).Distinct().Count());
        Assert.Equal(events.OfType<TrialTrained>().Count(), events.OfType<TrialTrained>().Select(r => r.TrialId).Distinct().Count());
        Assert.True(kills == 0 || resumes >= kills - 1, $"{kills} kills, {resumes} resumes");
        Assert.True(resumes == events.OfType<SearchResumed>().Count(),
            $"{resumes} resumes wrote events, journal: {string.Join(" ", events.Select((e, i) => e is SearchResumed or SearchStarted or SearchCompleted ? $"{i + 1}:{e.GetType().Name}" : null).OfType<string>())}; kills {kills}, log {string.Join(",", log)}");
    }

    [Fact]
    public async Task A_search_killed_under_one_kernel_set_and_thread_count_resumes_under_others_and_audits_as_a_different_platform()
    {
        using var dir = new TempDir();
        var events = await KillAndResumeAsync(dir, "kernels", new() { ["ATEN_CPU_CAPABILITY"] = "avx2" }, new() { ["ATEN_CPU_CAPABILITY"] = "default" }, MnasNet.Controller.ControllerEngines.Libtorch, "--set", "controller.threads=2");
        var platforms = events.OfType<PolicyUpdated>().Select(p => p.Policy!.Platform).ToList();
        Assert.Contains(platforms, p => p is { Kernels: "avx2", Threads: 1 });
        Assert.Contains(platforms, p => p is { Kernels: "default", Threads: 2 });

        // The test process is a third setting: this CPU's best kernels.
        var replay = await InProcessCli.RunAsync("replay", "kernels", "--journal-dir", dir.Path, "--verify", "--rows", "0");
        Assert.True(replay.ExitCode == ExitCodes.Success, replay.Output + replay.Error);
        Assert.Contains("6/6 updates reproduced", replay.Output, StringComparison.Ordinal);
        Assert.Contains("on a different platform", replay.Output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_managed_search_killed_with_512_bit_vectors_resumes_with_256_bit_vectors_and_two_threads_and_audits_bit_for_bit()
    {
        using var dir = new TempDir();
        // No AVX-512 in the second process: the managed engine's kernels run on 256-bit vectors there.
        var events = await KillAndResumeAsync(dir, "vectors", [], new() { ["DOTNET_EnableAVX512F"] = "0" }, MnasNet.Controller.ControllerEngines.Managed, "--set", "controller.threads=2");
        // The managed engine journals its state with snapshot updates (every second here) and the last: each process wrote some.
        Assert.Equal([1, 2], events.OfType<PolicyUpdated>().Where(p => p.Policy is not null).Select(p => p.Policy!.Platform.Threads).Distinct().Order());

        var replay = await InProcessCli.RunAsync("replay", "vectors", "--journal-dir", dir.Path, "--verify", "--rows", "0");
        Assert.True(replay.ExitCode == ExitCodes.Success, replay.Output + replay.Error);
        Assert.Contains("6/6 updates reproduced", replay.Output, StringComparison.Ordinal);
        Assert.Contains("bit for bit", replay.Output, StringComparison.Ordinal);
        Assert.DoesNotContain("max |Δθ|", replay.Output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Updates_run_with_another_thread_count_after_a_resume_are_audited_bit_for_bit_with_that_count()
    {
        using var dir = new TempDir();
        // libtorch: its bits depend on the thread count (the managed engine's do not).
        var events = await KillAndResumeAsync(dir, "threads", [], [], MnasNet.Controller.ControllerEngines.Libtorch, "--set", "controller.threads=2");
        Assert.Equal([1, 2], events.OfType<PolicyUpdated>().Select(p => p.Policy!.Platform.Threads).Distinct().Order());

        // Same CPU and kernels as both writers: each update re-run with the count that wrote it gives the same bits.
        var replay = await InProcessCli.RunAsync("replay", "threads", "--journal-dir", dir.Path, "--verify", "--rows", "0");
        Assert.True(replay.ExitCode == ExitCodes.Success, replay.Output + replay.Error);
        Assert.Contains("6/6 updates reproduced", replay.Output, StringComparison.Ordinal);
        Assert.Contains("bit for bit", replay.Output, StringComparison.Ordinal);
        Assert.DoesNotContain("different platform", replay.Output, StringComparison.Ordinal);
    }

    /// <summary>A 36-trial LSTM PPO search killed after its second policy update, resumed in a second process.</summary>
    private static async Task<List<ISearchEvent>> KillAndResumeAsync(TempDir dir, string id, Dictionary<string, string> first, Dictionary<string, string> second, string engine, params string[] resumeArgs)
    {
        var settings = Simulated.Settings(dir.Path, id, batchSize: 6, batches: 6, trainSeconds: 0.01, clock: SimulationClock.Real) with { Strategy = "ppo", Policy = new PolicySettings { Engine = engine } };
        var config = Simulated.WriteConfig(dir, settings);
        var database = JournalFiles.Database(dir.Path, id);
        using (var killed = MnasNetProcess.Start(dir.Path, first, "search", "--config", config, "--plain"))
        {
            // Past the second policy update: the resumed process continues from journaled policy states.
            await WaitForAsync(() => killed.HasExited || (File.Exists(database) && JournalReader.ReadEvents(dir.Path, id).Count(e => e.Event is PolicyUpdated) >= 2), killed);
            Assert.False(killed.HasExited, killed.Output);
            killed.KillHard();
            await killed.WaitAsync(Timeout);
        }
        using (var resumed = MnasNetProcess.Start(dir.Path, second, ["resume", id, "--journal-dir", dir.Path, "--plain", .. resumeArgs]))
        {
            Assert.True(await resumed.WaitAsync(Timeout) == 0, resumed.Output);
        }

        var events = JournalReader.ReadEvents(dir.Path, id).Select(e => e.Event).ToList();
        Assert.Equal("completed", SearchSummary(dir.Path, id).Status);
        Assert.Equal(36, events.OfType<RewardComputed>().Count());
        Assert.Equal(36, events.OfType<RewardComputed>().Select(r => r.TrialId).Distinct().Count());
        Assert.Equal(36, events.OfType<TrialTrained>().Count());
        Assert.Equal(6, events.OfType<PolicyUpdated>().Count());
        return events;
    }

    private static async Task WaitForAsync(Func<bool> condition, MnasNetProcess process)
    {
        var deadline = DateTime.UtcNow + Timeout;
        while (!condition())
        {
            Assert.True(DateTime.UtcNow < deadline, $"timed out; output: {process.Output}");
            await Task.Delay(50, TestContext.Current.CancellationToken);
        }
    }

    [Fact]
    public async Task Pause_from_another_process_then_resume_completes_like_an_uninterrupted_run()
    {
        using var dir = new TempDir();
        var settings = Simulated.Settings(dir.Path, "paused", batchSize: 8, batches: 10, trainSeconds: 0.02, clock: SimulationClock.Real);
        var database = JournalFiles.Database(dir.Path, "paused");
        using (var child = MnasNetProcess.Start(dir.Path, "search", "--config", Simulated.WriteConfig(dir, settings), "--plain"))
        {
            await child.WaitForEventsAsync(database, 60, Timeout);
            Assert.False(child.HasExited, child.Output);
            var pause = await InProcessCli.RunAsync("pause", "paused", "--journal-dir", dir.Path);
            Assert.True(pause.ExitCode == 0, pause.Error);
            Assert.Equal(0, await child.WaitAsync(Timeout));
            Assert.Contains("paused after", child.Output);
        }
        var summary = SearchSummary(dir.Path, "paused");
        Assert.Equal("paused", summary.Status);
        Assert.True(summary.Rewarded.Count() < 80);
        Assert.False(JournalFiles.IsRunning(dir.Path, "paused"));
        var resumed = await InProcessCli.RunAsync("resume", "paused", "--journal-dir", dir.Path, "--plain");
        Assert.True(resumed.ExitCode == 0, resumed.Error);
        Assert.Equal("completed", SearchSummary(dir.Path, "paused").Status);

        Assert.Equal("completed", (await SearchRunner.RunAsync(settings with { Id = "straight" }, resume: false)).Status);
        Assert.Equal(Simulated.Fingerprint(dir.Path, "straight"), Simulated.Fingerprint(dir.Path, "paused"));
    }

    [Fact]
    public async Task Sigterm_pauses_gracefully_and_a_second_search_on_the_same_journal_is_refused_while_it_runs()
    {
        using var dir = new TempDir();
        var settings = Simulated.Settings(dir.Path, "term", batchSize: 8, batches: 50, trainSeconds: 0.05, clock: SimulationClock.Real);
        var database = JournalFiles.Database(dir.Path, "term");
        using var child = MnasNetProcess.Start(dir.Path, "search", "--config", Simulated.WriteConfig(dir, settings), "--plain");
        await child.WaitForEventsAsync(database, 20, Timeout);
        Assert.False(child.HasExited, child.Output);

        var busy = await InProcessCli.RunAsync("resume", "term", "--journal-dir", dir.Path, "--plain");
        Assert.Equal(ExitCodes.Busy, busy.ExitCode);
        var running = await InProcessCli.RunAsync("status", "term", "--journal-dir", dir.Path);
        Assert.Contains("(running)", running.Output);

        child.Terminate();
        Assert.Equal(0, await child.WaitAsync(Timeout));
        var events = JournalReader.ReadEvents(dir.Path, "term").Select(e => e.Event).ToList();
        var paused = Assert.IsType<SearchPaused>(events[^1]);
        Assert.Contains("SIGTERM", paused.Reason);
        // In-flight trials finished within the grace period: every dispatched piece of work has its result.
        var dispatched = events.OfType<TrialDispatched>().Select(d => (d.TrialId, d.Kind)).ToHashSet();
        var finished = events.OfType<TrialTrained>().Select(t => (t.TrialId, WorkKind.Train))
            .Concat(events.OfType<LatencyMeasured>().Select(m => (m.TrialId, WorkKind.Measure)))
            .Concat(events.OfType<TrialFailed>().Select(f => (f.TrialId, f.Kind))).ToHashSet();
        Assert.Subset(finished, dispatched);
    }

    private static State.SearchSummary SearchSummary(string dir, string id) => State.SearchSummary.From(id, JournalReader.ReadEvents(dir, id));
}
