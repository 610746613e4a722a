using System.Globalization;
using MnasNet.Actors.Journal;
using MnasNet.Actors.Protocol;
using MnasNet.Actors.Settings;
using MnasNet.Cluster;
using Npgsql;

namespace MnasNet.Bench;

/// <summary>The cluster benchmark could not produce its figures (a node failed, a bound ran out); the message says which and quotes its output.</summary>
public sealed class ClusterBenchmarkException(string message) : Exception(message);

/// <summary>
/// What <see cref="ClusterBenchmark"/> measures: simulated trials of <see cref="TrialSeconds"/> real seconds with each
/// trainer-process count; <see cref="Base"/> gives the cluster timings and the lease (everything else is fixed).
/// Batches hold 2 × the largest process count, so every trainer can be busy; one warm-up batch precedes the timed ones.
/// </summary>
public sealed record ClusterBenchOptions(IReadOnlyList<int> TrainerProcesses, double TrialSeconds, int Trials, bool Failover, SearchSettings Base)
{
    public const int MaxTrainerProcesses = 16;
    public const double MaxTrialSeconds = 600;

    /// <summary>The lease when no config file sets one: long enough for a trial, short enough to measure failover.</summary>
    public const double DefaultLeaseSeconds = 10;

    public int BatchSize => 2 * TrainerProcesses.Max();

    /// <summary>The timed batches plus the warm-up batch.</summary>
    public int Batches => (Trials / BatchSize) + 1;

    /// <summary>Failover searches: a warm-up batch, the batch the kill hits, and at least two more to see the search go on.</summary>
    public int FailoverBatches => Math.Max(Batches, 4);

    /// <summary>How often the controller looks for expired leases (SearchController: a quarter of the lease, 0.05 to 5 s).</summary>
    public double LeaseCheckSeconds => Math.Clamp(Base.Workers.LeaseTimeoutSeconds / 4, 0.05, 5);

    /// <summary>"1,2,4" → [1, 2, 4]; each a count of trainer processes from 1 to <see cref="MaxTrainerProcesses"/>, no repeats.</summary>
    public static IReadOnlyList<int> ParseProcessCounts(string text)
    {
        var parts = text.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries);
        if (parts.Length == 0)
        {
            throw new SettingsException("--trainer-processes is empty: give counts of trainer processes, e.g. 1,2,4");
        }
        var counts = new List<int>();
        foreach (var p in parts)
        {
            if (!int.TryParse(p, NumberStyles.None, CultureInfo.InvariantCulture, out var n) || n < 1 || n > MaxTrainerProcesses)
            {
                throw new SettingsException($"--trainer-processes: '{p}' is not a count of trainer processes from 1 to {MaxTrainerProcesses}");
            }
            if (counts.Contains(n))
            {
                throw new SettingsException($"--trainer-processes: {n} is given twice");
            }
            counts.Add(n);
        }
        return counts;
    }

    /// <summary>Rejects what cannot be measured; returns this.</summary>
    public ClusterBenchOptions Validate()
    {
        if (TrainerProcesses.Count == 0)
        {
            throw new SettingsException("--trainer-processes is empty");
        }
        if (!(TrialSeconds > 0 && TrialSeconds <= MaxTrialSeconds))
        {
            throw new SettingsException($"--trial-seconds must be more than 0 and at most {MaxTrialSeconds}, got {TrialSeconds.ToString(CultureInfo.InvariantCulture)}");
        }
        if (Trials < 1 || Trials % BatchSize != 0)
        {
            throw new SettingsException($"--trials must be a positive multiple of the batch size {BatchSize} (2 × the largest --trainer-processes), got {Trials}");
        }
        _ = SearchSettings("bench-check", Path.GetTempPath());
        return this;
    }

    /// <summary>The settings of one benchmark search: simulated, ppo-tabular (the controller costs ~nothing), PostgreSQL journal.</summary>
    public SearchSettings SearchSettings(string id, string directory, int? batches = null) => SettingsValidation.Validate(Base with
    {
        Id = id,
        Mode = SearchMode.Simulated,
        Strategy = "ppo-tabular",
        Threads = 1,
        BatchSize = BatchSize,
        Batches = batches ?? Batches,
        Reward = new RewardSettings { Preset = RewardExponents.Soft, TargetMs = 80 },
        Latency = new LatencySettings { Backend = "simulated", Runs = 5 },
        Simulation = new SimulationSettings { TrainSeconds = TrialSeconds, MeasureSeconds = 0 },
        Journal = new JournalSettings { Directory = directory, Provider = "postgresql", SnapshotEvery = Base.Journal.SnapshotEvery },
        Workers = Base.Workers with { Trainers = 1, Devices = 1 },
        Logging = new LoggingSettings { Level = "Warning", Console = true },
    });
}

/// <summary>Everything one invocation measured, with the settings the figures depend on.</summary>
public sealed record ClusterBenchResult(
    double TrialSeconds,
    int BatchSize,
    string Strategy,
    ClusterSettings Cluster,
    double LeaseSeconds,
    double LeaseCheckSeconds,
    string Journal,
    int ProcessorCount,
    string? LoadAverageBefore,
    string? LoadAverageAfter,
    IReadOnlyList<ScalingRow> Scaling,
    TrainerFailoverFigures? TrainerFailover,
    ControllerFailoverFigures? ControllerFailover);

/// <summary>
/// Starts real mnasnet processes on 127.0.0.1 (a controller, trainer nodes, a device node) against a PostgreSQL journal
/// — <c>MNASNET_PG_CONNECTION</c>'s server, or else a throwaway local one — and measures trials per minute per
/// trainer-process count from the journal's write times, then (optionally) failover times after SIGKILLs. Each run
/// gets a fresh database, so no cluster sees another's sharding state. Every process it starts is stopped on every path.
/// </summary>
public sealed class ClusterBenchmark(MnasNetLauncher launcher, ClusterBenchOptions options, Action<string> progress)
{
    private static readonly TimeSpan MemberUpBound = TimeSpan.FromSeconds(180);

    public async Task<ClusterBenchResult> RunAsync(CancellationToken cancellationToken)
    {
        var scratch = Directory.CreateTempSubdirectory("mnasnet-bench-cluster-").FullName;
        try
        {
            await using var postgres = await BenchPostgres.OpenAsync(cancellationToken);
            progress($"journal: {postgres.Description}");
            var loadBefore = LoadAverage();
            var runs = new List<ThroughputRun>();
            foreach (var n in options.TrainerProcesses)
            {
                runs.Add(await ThroughputAsync(postgres, scratch, n, cancellationToken));
            }
            TrainerFailoverFigures? trainer = null;
            ControllerFailoverFigures? controller = null;
            if (options.Failover)
            {
                trainer = await TrainerFailoverAsync(postgres, scratch, cancellationToken);
                controller = await ControllerFailoverAsync(postgres, scratch, cancellationToken);
            }
            return new ClusterBenchResult(options.TrialSeconds, options.BatchSize, "ppo-tabular", options.Base.Cluster, options.Base.Workers.LeaseTimeoutSeconds,
                options.LeaseCheckSeconds, postgres.Description, Environment.ProcessorCount, loadBefore, LoadAverage(),
                ClusterBenchFigures.Scaling(runs, options.TrialSeconds), trainer, controller);
        }
        finally
        {
            try
            {
                Directory.Delete(scratch, recursive: true);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
            }
        }
    }

    /// <summary>The 1-, 5- and 15-minute load averages (Linux), or null.</summary>
    public static string? LoadAverage()
    {
        try
        {
            return string.Join(' ', File.ReadAllText("/proc/loadavg").Split(' ').Take(3));
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }

    /// <summary>How long a search of this many trials may take with n trainers before the run is called stuck.</summary>
    private TimeSpan RunBound(int trainers, int batches) => TimeSpan.FromSeconds(120 + (3 * batches * options.BatchSize * options.TrialSeconds / trainers));

    private async Task<ThroughputRun> ThroughputAsync(BenchPostgres postgres, string scratch, int n, CancellationToken cancellationToken)
    {
        await using var cluster = await BenchCluster.CreateAsync(launcher, options, postgres, scratch, $"bench-{n}", options.Batches, cancellationToken);
        progress($"{n} trainer process(es): starting a controller, {n} trainer node(s) and a device node (search {cluster.SearchId})");
        var controller = cluster.StartController();
        await cluster.WaitUpAsync([controller], cancellationToken);
        var workers = new List<NodeProcess> { cluster.StartNode("device", NodeRoles.Device) };
        for (var i = 1; i <= n; i++)
        {
            workers.Add(cluster.StartNode($"trainer-{i}", NodeRoles.Trainer));
        }
        await cluster.WaitUpAsync(workers, cancellationToken);
        progress($"{n} trainer process(es): cluster up; {options.Batches * options.BatchSize} trials of {options.TrialSeconds.ToString(CultureInfo.InvariantCulture)} s");
        var journal = await cluster.WaitForJournalAsync(j => j.Any(e => e.Event is SearchCompleted), RunBound(n, options.Batches), "the search to complete", cancellationToken);
        var run = ClusterBenchFigures.Throughput(n, journal);
        progress(string.Create(CultureInfo.InvariantCulture, $"{n} trainer process(es): {run.Trials} timed trials in {run.WallSeconds:F2} s, {run.TrialsPerMinute:F1} trials/min (load average now {LoadAverage() ?? "n/a"})"));
        return run;
    }

    private async Task<TrainerFailoverFigures> TrainerFailoverAsync(BenchPostgres postgres, string scratch, CancellationToken cancellationToken)
    {
        await using var cluster = await BenchCluster.CreateAsync(launcher, options, postgres, scratch, "bench-failover-trainer", options.FailoverBatches, cancellationToken);
        progress($"failover (trainer): a controller, two trainer nodes and a device node (search {cluster.SearchId})");
        var controller = cluster.StartController();
        await cluster.WaitUpAsync([controller], cancellationToken);
        var device = cluster.StartNode("device", NodeRoles.Device);
        var victim = cluster.StartNode("trainer-1", NodeRoles.Trainer);
        var survivor = cluster.StartNode("trainer-2", NodeRoles.Trainer);
        await cluster.WaitUpAsync([device, victim, survivor], cancellationToken);
        // Worker ids carry the node's port: trainer-127.0.0.1-PORT-0.
        var marker = $"-{cluster.PortOf(victim).ToString(CultureInfo.InvariantCulture)}-";
        await cluster.WaitForJournalAsync(j => ClusterBenchFigures.HeldBy(j, marker) is not null, RunBound(2, options.FailoverBatches), "a timed trial dispatched to trainer-1", cancellationToken, poll: TimeSpan.FromMilliseconds(10));
        cluster.KillHard(victim);
        var killedAt = DateTime.UtcNow;
        progress("failover (trainer): trainer-1 SIGKILLed while it held a trial; waiting for the search to complete");
        var bound = RunBound(1, options.FailoverBatches) + TimeSpan.FromSeconds(options.Base.Workers.LeaseTimeoutSeconds + options.Base.Cluster.StableAfterSeconds + 60);
        var journal = await cluster.WaitForJournalAsync(j => j.Any(e => e.Event is SearchCompleted), bound, "the search to complete after the trainer's kill", cancellationToken);
        return ClusterBenchFigures.TrainerFailover(journal, marker, killedAt);
    }

    private async Task<ControllerFailoverFigures> ControllerFailoverAsync(BenchPostgres postgres, string scratch, CancellationToken cancellationToken)
    {
        await using var cluster = await BenchCluster.CreateAsync(launcher, options, postgres, scratch, "bench-failover-controller", options.FailoverBatches, cancellationToken);
        progress($"failover (controller): a controller, a standby controller-role node, two trainer nodes and a device node (search {cluster.SearchId})");
        var controller = cluster.StartController();
        await cluster.WaitUpAsync([controller], cancellationToken);
        // The standby joins once the search is journaled, so the search's shard is already on the controller's node;
        // the workers after it, so the search has not moved on while the standby was starting.
        await cluster.WaitForJournalAsync(j => j.Count > 0, MemberUpBound, "the search to start", cancellationToken);
        var standby = cluster.StartNode("standby-controller", NodeRoles.Controller);
        await cluster.WaitUpAsync([standby], cancellationToken);
        var workers = new[] { cluster.StartNode("device", NodeRoles.Device), cluster.StartNode("trainer-1", NodeRoles.Trainer), cluster.StartNode("trainer-2", NodeRoles.Trainer) };
        await cluster.WaitUpAsync(workers, cancellationToken);
        await cluster.WaitForJournalAsync(
            j => j.SkipWhile(e => e.Event is not PolicyUpdated).Any(e => e.Event is TrialDispatched { Kind: WorkKind.Train }),
            RunBound(2, options.FailoverBatches), "a timed trial in flight", cancellationToken, poll: TimeSpan.FromMilliseconds(10));
        cluster.KillHard(controller);
        var killedAt = DateTime.UtcNow;
        progress("failover (controller): the controller's process SIGKILLed mid-batch; waiting for the standby to resume and complete the search");
        var bound = RunBound(1, options.FailoverBatches) + TimeSpan.FromSeconds((3 * options.Base.Cluster.StableAfterSeconds) + 120);
        var journal = await cluster.WaitForJournalAsync(j => j.Any(e => e.Event is SearchCompleted), bound, "the search to complete on the standby controller", cancellationToken);
        return ClusterBenchFigures.ControllerFailover(journal, killedAt);
    }

    /// <summary>The PostgreSQL server the runs' databases are made on: MNASNET_PG_CONNECTION's, or a throwaway local one.</summary>
    private sealed class BenchPostgres : IAsyncDisposable
    {
        private readonly string _serverConnection;
        private readonly LocalPostgresServer? _local;
        private readonly List<string> _created = [];

        private BenchPostgres(string serverConnection, LocalPostgresServer? local, string description)
        {
            _serverConnection = serverConnection;
            _local = local;
            Description = description;
        }

        public string Description { get; }

        public static async Task<BenchPostgres> OpenAsync(CancellationToken cancellationToken)
        {
            var variable = PostgresJournal.ConnectionEnvironmentVariable;
            if (Environment.GetEnvironmentVariable(variable) is { Length: > 0 } given)
            {
                NpgsqlConnectionStringBuilder builder;
                try
                {
                    builder = new NpgsqlConnectionStringBuilder(given);
                }
                catch (ArgumentException e)
                {
                    throw new SettingsException($"{variable} is not a PostgreSQL connection string: {e.Message}");
                }
                return new BenchPostgres(builder.ConnectionString, null, $"PostgreSQL at {builder.Host}:{builder.Port} ({variable}), a new database per run, dropped after");
            }
            LocalPostgresServer local;
            try
            {
                local = await LocalPostgresServer.StartAsync(cancellationToken);
            }
            catch (PostgresUnavailableException e)
            {
                throw new PostgresUnavailableException($"the benchmark needs a PostgreSQL journal: set {variable}, or install PostgreSQL 15 for a throwaway local server ({e.Message})", e);
            }
            return new BenchPostgres(local.ConnectionString("postgres"), local, $"throwaway PostgreSQL 15 on 127.0.0.1:{local.Port.ToString(CultureInfo.InvariantCulture)}, a new database per run");
        }

        public async Task<string> NewDatabaseAsync(string name, CancellationToken cancellationToken)
        {
            var connection = await ScratchDatabases.CreateAsync(_serverConnection, name, cancellationToken);
            _created.Add(name);
            return connection;
        }

        public async ValueTask DisposeAsync()
        {
            if (_local is not null)
            {
                await _local.DisposeAsync();
                return;
            }
            foreach (var name in _created)
            {
                await ScratchDatabases.DropAsync(_serverConnection, name);
            }
        }
    }

    /// <summary>One run's cluster: its database, config file, seed address and processes (all stopped on dispose).</summary>
    private sealed class BenchCluster : IAsyncDisposable
    {
        private readonly MnasNetLauncher _launcher;
        private readonly string _directory;
        private readonly string _config;
        private readonly int _seedPort = LocalPostgresServer.FreeLoopbackPort();
        private readonly Dictionary<string, string?> _environment;
        private readonly List<(NodeProcess Node, int Port)> _nodes = [];
        private readonly HashSet<NodeProcess> _killed = [];

        private BenchCluster(MnasNetLauncher launcher, string directory, string config, string searchId, string connection)
        {
            _launcher = launcher;
            _directory = directory;
            _config = config;
            SearchId = searchId;
            Connection = connection;
            _environment = new Dictionary<string, string?>
            {
                [PostgresJournal.ConnectionEnvironmentVariable] = connection,
                ["DOTNET_gcServer"] = "0",
            };
            // Setting overrides in this process's environment would apply to every node on top of the generated config.
            foreach (var key in Environment.GetEnvironmentVariables().Keys.Cast<string>().Where(k => k.StartsWith(SettingsLoader.EnvironmentPrefix, StringComparison.Ordinal)))
            {
                _environment[key] = null;
            }
        }

        public string SearchId { get; }

        public string Connection { get; }

        private string Seed => $"akka.tcp://{ClusterNodeOptions.SystemName}@127.0.0.1:{_seedPort.ToString(CultureInfo.InvariantCulture)}";

        public static async Task<BenchCluster> CreateAsync(MnasNetLauncher launcher, ClusterBenchOptions options, BenchPostgres postgres, string scratch, string prefix, int batches, CancellationToken cancellationToken)
        {
            var id = $"{prefix}-{Guid.NewGuid().ToString("N")[..8]}";
            var connection = await postgres.NewDatabaseAsync($"mnasnet_{id.Replace('-', '_')}", cancellationToken);
            var directory = Directory.CreateDirectory(Path.Combine(scratch, id)).FullName;
            var config = Path.Combine(directory, "search.json");
            await File.WriteAllTextAsync(config, SettingsLoader.ToJson(options.SearchSettings(id, directory, batches)), cancellationToken);
            return new BenchCluster(launcher, directory, config, id, connection);
        }

        /// <summary>The search's controller (<c>search --cluster</c>): the seed node, it starts the search and exits when it completes.</summary>
        public NodeProcess StartController() => Start("controller", _seedPort, ["search", "--cluster", "--config", _config, "--id", SearchId]);

        /// <summary>A node with one trainer or one device (or none: a controller-role node).</summary>
        public NodeProcess StartNode(string name, string roles) =>
            Start(name, LocalPostgresServer.FreeLoopbackPort(), ["node", "--roles", roles, "--config", _config, "--trainers", "1", "--devices", "1"]);

        public int PortOf(NodeProcess node) => _nodes.Single(n => n.Node == node).Port;

        public async Task WaitUpAsync(IEnumerable<NodeProcess> nodes, CancellationToken cancellationToken) =>
            await Task.WhenAll(nodes.Select(n => n.WaitForLineAsync("member up", MemberUpBound, cancellationToken)));

        public void KillHard(NodeProcess node)
        {
            _killed.Add(node);
            node.Kill();
        }

        /// <summary>
        /// Polls the journal until <paramref name="condition"/> holds; fails at once when a node that was not killed ends,
        /// and when <paramref name="bound"/> runs out.
        /// </summary>
        public async Task<IReadOnlyList<TimedEvent>> WaitForJournalAsync(Func<IReadOnlyList<TimedEvent>, bool> condition, TimeSpan bound, string what, CancellationToken cancellationToken, TimeSpan? poll = null)
        {
            var deadline = DateTime.UtcNow + bound;
            while (true)
            {
                var journal = ClusterBenchFigures.ReadJournal(Connection, SearchId);
                if (condition(journal))
                {
                    return journal;
                }
                // The controller exits by itself once the search completes: a last read settles whether that is what happened.
                var ended = _nodes.Select(n => n.Node).FirstOrDefault(n => n.HasExited && !_killed.Contains(n));
                if (ended is not null && !condition(ClusterBenchFigures.ReadJournal(Connection, SearchId)))
                {
                    throw new ClusterBenchmarkException($"{ended.Name} (pid {ended.Id}) exited (code {ended.ExitCode}) while waiting for {what} in search {SearchId}; its last output:{Environment.NewLine}{ended.Tail()}");
                }
                if (DateTime.UtcNow > deadline)
                {
                    var controller = _nodes[0].Node;
                    throw new ClusterBenchmarkException($"no {what} within {bound.TotalSeconds:F0} s (search {SearchId}, {journal.Count} events journaled); the controller's last output:{Environment.NewLine}{controller.Tail()}");
                }
                await Task.Delay(poll ?? TimeSpan.FromMilliseconds(100), cancellationToken);
            }
        }

        public async ValueTask DisposeAsync()
        {
            // SIGTERM lets the nodes leave together; anything still running after the grace period is SIGKILLed.
            await Task.WhenAll(_nodes.Select(n => n.Node.StopAsync(TimeSpan.FromSeconds(10))));
            foreach (var (node, _) in _nodes)
            {
                node.Dispose();
            }
        }

        private NodeProcess Start(string name, int port, string[] arguments)
        {
            var node = NodeProcess.Start(_launcher, name, _directory, _environment,
                [.. arguments, "--port", port.ToString(CultureInfo.InvariantCulture), "--seed-nodes", Seed]);
            _nodes.Add((node, port));
            return node;
        }
    }
}
