using Akka.Actor;
using Akka.Cluster.Hosting;
using Akka.Cluster.Hosting.SBR;
using Akka.Cluster.Sharding;
using Akka.Configuration;
using Akka.Event;
using Akka.Hosting;
using Akka.Logger.Serilog;
using Akka.Persistence.Sql.Hosting;
using Akka.Remote.Hosting;
using LinqToDB;
using MnasNet.Actors.Actors;
using MnasNet.Actors.Backends;
using MnasNet.Actors.Hosting;
using MnasNet.Actors.Journal;
using MnasNet.Actors.Protocol;
using MnasNet.Actors.Serialization;
using MnasNet.Actors.Settings;
using MnasNet.SearchSpace;

namespace MnasNet.Cluster;

public static class NodeRoles
{
    public const string Controller = "controller";
    public const string Trainer = "trainer";
    public const string Device = "device";

    public static readonly IReadOnlyList<string> All = [Controller, Trainer, Device];
}

/// <summary>Where this node sits in the cluster and what it runs.</summary>
public sealed record ClusterNodeOptions(
    IReadOnlyList<string> Roles,
    IReadOnlyList<string> SeedNodes,
    string Hostname = "127.0.0.1",
    int Port = 0,
    int? Trainers = null,
    int? Devices = null,
    IReadOnlyList<DevicePlatform>? DeviceSpecs = null)
{
    public const string SystemName = "mnasnet";
    public const string RegionName = "search";

    public bool Has(string role) => Roles.Contains(role);

    /// <summary>
    /// The devices of a device-role node: one per <c>--device</c> spec, or else <c>--devices</c> (default
    /// workers.devices) of the platform the node's settings name; each with the CPU model and threads of this host.
    /// A <c>latency.backend = adb:…</c> in the settings is the node's one adb spec (one worker per phone, as with
    /// <c>--device adb:…</c>): a phone's platform is known only once the phone is asked.
    /// </summary>
    public IReadOnlyList<DevicePlatform> DevicePlatforms(SearchSettings settings)
    {
        if (DeviceSpecs is { Count: > 0 } specs)
        {
            return [.. specs.Select(d => d.OnThisHost(settings.Threads))];
        }
        if (!settings.Simulated && SettingsValidation.BackendName(settings.Latency.Backend) == DevicePlatform.Adb)
        {
            return Devices switch
            {
                0 => [],
                null or 1 => [DevicePlatform.Parse(settings.Latency.Backend)],
                _ => throw new SettingsException($"--devices {Devices} with latency.backend '{settings.Latency.Backend}': an adb device node runs one worker per phone on its adb server; drop --devices"),
            };
        }
        var platform = DevicePlatform.LocalDeviceOf(settings);
        return [.. Enumerable.Repeat(platform, Devices ?? settings.Workers.Devices)];
    }

    public static ClusterNodeOptions Parse(string roles, IEnumerable<string> seedNodes, string hostname, int port, int? trainers, int? devices, IEnumerable<string>? deviceSpecs = null)
    {
        var list = roles.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Distinct().ToList();
        if (list.Count == 0)
        {
            throw new SettingsException($"--roles is empty: give one or more of {string.Join(", ", NodeRoles.All)}");
        }
        foreach (var r in list.Where(r => !NodeRoles.All.Contains(r)))
        {
            throw new SettingsException($"unknown role '{r}': expected one or more of {string.Join(", ", NodeRoles.All)}");
        }
        var seeds = Seeds(seedNodes, port);
        if (trainers is < 0 or > 64 || devices is < 0 or > 64)
        {
            throw new SettingsException("--trainers and --devices must be between 0 and 64");
        }
        var specs = (deviceSpecs ?? []).Select(d => DevicePlatform.Parse(d)).ToList();
        if (specs.Count > 0 && devices is not null)
        {
            throw new SettingsException("give either --device SPEC (one device each) or --devices N, not both");
        }
        if (specs.Count > 0 && !list.Contains(NodeRoles.Device))
        {
            throw new SettingsException("--device needs the device role (--roles …,device)");
        }
        return new ClusterNodeOptions(list, seeds, hostname, port, trainers, devices, specs);
    }

    /// <summary>A member with no role (e.g. <c>mnasnet pause --cluster</c>): it reaches searches through a shard region proxy.</summary>
    public static ClusterNodeOptions Client(IEnumerable<string> seedNodes, string hostname, int port) => new([], Seeds(seedNodes, port), hostname, port);

    private static List<string> Seeds(IEnumerable<string> seedNodes, int port)
    {
        var seeds = seedNodes.SelectMany(s => s.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)).ToList();
        if (seeds.Count == 0)
        {
            throw new SettingsException("--seed-nodes is required, e.g. akka.tcp://mnasnet@127.0.0.1:4053");
        }
        foreach (var s in seeds)
        {
            if (!Address.TryParse(s, out var address) || address.System != SystemName || address.Port is null)
            {
                throw new SettingsException($"seed node '{s}' is not an address like akka.tcp://{SystemName}@HOST:PORT");
            }
        }
        if (port is < 0 or > 65535)
        {
            throw new SettingsException($"--port must be between 0 and 65535, got {port}");
        }
        return seeds;
    }
}

public static class ClusterHostingExtensions
{
    /// <summary>
    /// One cluster node: remoting, clustering with the split-brain resolver (keep-majority, stable-after from the
    /// settings), distributed pub-sub (the work topic), the search serializer, and by role: on controller-role nodes
    /// the shard region of searches (one <see cref="SearchHost"/> per search id, remembered, journal and sharding
    /// state in PostgreSQL); trainer and device workers that pull work from every search through the work topic.
    /// </summary>
    public static AkkaConfigurationBuilder AddMnasNetClusterNode(this AkkaConfigurationBuilder builder, SearchSettings settings, ClusterNodeOptions node)
    {
        var c = settings.Cluster;
        builder
            .ConfigureLoggers(loggers =>
            {
                loggers.ClearLoggers();
                loggers.AddLogger<SerilogLogger>();
                loggers.LogLevel = LogLevel.InfoLevel;
            })
            .WithCustomSerializer("mnasnet-search", [typeof(ISearchMessage)], system => new SearchSerializer(system))
            .WithRemoting(ClusterTls.Remoting(node, c.Tls))
            .WithClustering(new ClusterOptions
            {
                Roles = [.. node.Roles],
                SeedNodes = [.. ClusterTls.SeedNodes(node.SeedNodes, c.Tls.Enabled)],
                SplitBrainResolver = new KeepMajorityOption(),
                FailureDetector = new PhiAccrualFailureDetectorOptions
                {
                    HeartbeatInterval = TimeSpan.FromSeconds(c.HeartbeatIntervalSeconds),
                    AcceptableHeartbeatPause = TimeSpan.FromSeconds(c.AcceptableHeartbeatPauseSeconds),
                },
            })
            .WithDistributedPubSub("")
            // Akka.Cluster.Hosting's KeepMajorityOption has no stable-after: this one key is set as HOCON.
            .AddHocon(ConfigurationFactory.ParseString(
                $"akka.cluster.split-brain-resolver.stable-after = {c.StableAfterSeconds.ToString(System.Globalization.CultureInfo.InvariantCulture)}s"), HoconAddMode.Prepend);

        if (node.Has(NodeRoles.Controller))
        {
            // Failover speed: the defaults back a shard off 10 s after its remembered searches failed to load within
            // 5 s (PostgreSQL under load) and retry the coordinator every 2–5 s. ShardOptions has none of these keys.
            builder.AddHocon(ConfigurationFactory.ParseString("""
                akka.cluster.sharding {
                  updating-state-timeout = 20s
                  shard-failure-backoff = 2s
                  entity-restart-backoff = 2s
                  coordinator-failure-backoff = 2s
                  retry-interval = 1s
                }
                """), HoconAddMode.Prepend);
            var connection = PostgresJournal.ConnectionString(settings.Journal);
            builder
                .WithSqlPersistence(connection, ProviderName.PostgreSQL15, autoInitialize: true)
                .WithActors((system, registry) => registry.Register<RewardActorKey>(system.ActorOf(RewardActor.Props(), "reward")))
                .WithShardRegion<SearchRegionKey>(ClusterNodeOptions.RegionName,
                    (_, registry, _) => searchId => SearchHost.Props(searchId, connection, registry.Get<RewardActorKey>(), settings.Node),
                    new SearchMessageExtractor(),
                    new ShardOptions
                    {
                        Role = NodeRoles.Controller,
                        RememberEntities = true,
                        RememberEntitiesStore = RememberEntitiesStore.Eventsourced,
                        StateStoreMode = StateStoreMode.Persistence,
                    });
        }

        else if (node.Roles.Count == 0)
        {
            builder.WithShardRegionProxy<SearchRegionKey>(ClusterNodeOptions.RegionName, NodeRoles.Controller, new SearchMessageExtractor());
        }

        var repeat = TimeSpan.FromSeconds(c.WorkRequestIntervalSeconds);
        // Worker ids name the node, so the journal says where each trial ran.
        var prefix = node.Port == 0 ? $"{node.Hostname}-pid{Environment.ProcessId}" : $"{node.Hostname}-{node.Port}";
        var factories = new SearchBackendFactories();
        var space = MnasNetSearchSpace.Default;
        builder.WithActors((system, _) =>
        {
            if (!node.Has(NodeRoles.Trainer) && !node.Has(NodeRoles.Device))
            {
                return;
            }
            var work = system.ActorOf(WorkBroadcaster.Props(), "work");
            if (node.Has(NodeRoles.Trainer))
            {
                for (var i = 0; i < (node.Trainers ?? settings.Workers.Trainers); i++)
                {
                    var index = i;
                    var backends = WorkerBackends<ITrainerBackend>.PerSearch(s => factories.For(s).CreateTrainer(index), b => b.Dispose(), settings.Node);
                    system.ActorOf(TrainerWorker.Props(work, backends, repeat), $"trainer-{prefix}-{i}");
                }
            }
            if (node.Has(NodeRoles.Device))
            {
                var platforms = node.DevicePlatforms(settings);
                var retry = DeviceRetry.Of(settings);
                var i = 0;
                foreach (var platform in platforms)
                {
                    // An adb spec stands for phones: one worker per phone, advertising that phone's platform.
                    var devices = platform.Backend == DevicePlatform.Adb
                        ? PhoneDiscovery.Discover(platform, settings.Threads).Select(p => (p.Platform, Create: (Func<SearchSettings, int, IDeviceBackend>)((s, _) => PhoneDeviceBackend.Connect(s, space, p.Settings)))).ToList()
                        : [(platform, (s, index) => CreateDevice(platform, s, space, index))];
                    foreach (var (advertised, create) in devices)
                    {
                        var index = i++;
                        var backends = WorkerBackends<IDeviceBackend>.PerSearch(s => create(s, index), DeviceWorker.DisposeDevice, settings.Node);
                        system.ActorOf(DeviceWorker.Props(work, backends, advertised, repeat, retry), $"device-{prefix}-{index}");
                    }
                }
            }
        });
        return builder;
    }

    /// <summary>A device of this platform measuring for one search (its resolution, warm-up, runs; the device's threads).</summary>
    public static IDeviceBackend CreateDevice(DevicePlatform platform, SearchSettings search, MnasNetSearchSpace space, int index) => platform.Backend switch
    {
        "simulated" => new SimulatedBackendFactory(search, space).CreateDevice(index),
        "onnxruntime" or "tflite" => new HostDeviceBackend(search with { Threads = platform.Threads ?? search.Threads }, space, index, platform),
        _ => throw new SettingsException($"device platform '{platform}' has no backend on this node"),
    };
}

public sealed class SearchRegionKey;

/// <summary>
/// One backend factory per search on a worker node (shared by its trainers, so a dataset loads once per search);
/// the few most recently used searches are kept.
/// </summary>
internal sealed class SearchBackendFactories
{
    private readonly RecentlyUsed<IBackendFactory> _recent = new(4);

    public IBackendFactory For(SearchSettings settings)
    {
        lock (_recent)
        {
            if (!_recent.TryGet(settings.Id, out var factory))
            {
                var search = SearchHostingExtensions.DefaultBackends(settings);
                // A simulated search's finalists are trained for real, here as on one node.
                factory = settings.Simulated ? new WithRealFinalTraining(search, () => new RealBackendFactory(settings, MnasNetSearchSpace.Default, settings.Journal.Directory)) : search;
                _recent.Add(settings.Id, factory);
            }
            return factory;
        }
    }
}
