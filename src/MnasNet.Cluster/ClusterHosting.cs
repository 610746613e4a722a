using Akka.Actor;
using Akka.Cluster.Hosting;
using Akka.Cluster.Hosting.SBR;
using Akka.Configuration;
using Akka.Event;
using Akka.Hosting;
using Akka.Logger.Serilog;
using Akka.Persistence.Sql.Hosting;
using Akka.Remote.Hosting;
using MnasNet.Actors.Actors;
using MnasNet.Actors.Backends;
using MnasNet.Actors.Hosting;
using MnasNet.Actors.Protocol;
using MnasNet.Actors.Serialization;
using MnasNet.Actors.Settings;

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
    int? Devices = null)
{
    public const string SystemName = "mnasnet";
    public const string SingletonName = "search-controller";

    public bool Has(string role) => Roles.Contains(role);

    public static ClusterNodeOptions Parse(string roles, IEnumerable<string> seedNodes, string hostname, int port, int? trainers, int? devices)
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
        if (trainers is < 0 or > 64 || devices is < 0 or > 64)
        {
            throw new SettingsException("--trainers and --devices must be between 0 and 64");
        }
        return new ClusterNodeOptions(list, seeds, hostname, port, trainers, devices);
    }
}

public static class ClusterHostingExtensions
{
    /// <summary>
    /// One cluster node: remoting, clustering with the split-brain resolver (keep-majority, stable-after from the
    /// settings), the search serializer, and by role: the search controller as a cluster singleton on controller-role
    /// nodes (journal in the configured provider, PostgreSQL for real clusters), trainer and device workers that reach
    /// it through the singleton proxy and pull work.
    /// </summary>
    public static AkkaConfigurationBuilder AddMnasNetClusterNode(
        this AkkaConfigurationBuilder builder,
        SearchSettings settings,
        ClusterNodeOptions node,
        IBackendFactory backends,
        Action<ISearchCommand>? onNotification = null)
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
            .WithRemoting(node.Hostname, node.Port)
            .WithClustering(new ClusterOptions
            {
                Roles = [.. node.Roles],
                SeedNodes = [.. node.SeedNodes],
                SplitBrainResolver = new KeepMajorityOption(),
                FailureDetector = new PhiAccrualFailureDetectorOptions
                {
                    HeartbeatInterval = TimeSpan.FromSeconds(c.HeartbeatIntervalSeconds),
                    AcceptableHeartbeatPause = TimeSpan.FromSeconds(c.AcceptableHeartbeatPauseSeconds),
                },
            })
            // Akka.Cluster.Hosting's KeepMajorityOption has no stable-after: this one key is set as HOCON.
            .AddHocon(ConfigurationFactory.ParseString(
                $"akka.cluster.split-brain-resolver.stable-after = {c.StableAfterSeconds.ToString(System.Globalization.CultureInfo.InvariantCulture)}s"), HoconAddMode.Prepend);

        var singletonOptions = new ClusterSingletonOptions { Role = NodeRoles.Controller, BufferSize = 10000 };
        if (node.Has(NodeRoles.Controller))
        {
            builder
                .WithSqlPersistence(SearchHostingExtensions.JournalConnection(settings, new SearchHostOptions(Actors.Journal.JournalFiles.Database(settings.Journal.Directory, settings.Id), backends)),
                    SearchHostingExtensions.JournalProvider(settings), autoInitialize: true)
                .WithActors((system, registry) =>
                {
                    registry.Register<SearchSubscriberKey>(system.ActorOf(Props.Create(() => new NotificationForwarder(onNotification)), "subscriber"));
                    registry.Register<RewardActorKey>(system.ActorOf(RewardActor.Props(), "reward"));
                })
                .WithSingleton<SearchControllerKey>(ClusterNodeOptions.SingletonName, (_, registry, _) =>
                    SearchController.Props(settings, registry.Get<RewardActorKey>(), registry.Get<SearchSubscriberKey>()), singletonOptions, createProxyToo: true);
        }
        else
        {
            builder.WithSingletonProxy<SearchControllerKey>(ClusterNodeOptions.SingletonName, singletonOptions);
        }

        var repeat = TimeSpan.FromSeconds(c.WorkRequestIntervalSeconds);
        // Worker ids name the node, so the journal says where each trial ran.
        var prefix = node.Port == 0 ? $"{node.Hostname}-pid{Environment.ProcessId}" : $"{node.Hostname}-{node.Port}";
        builder.WithActors((system, registry) =>
        {
            var controller = registry.Get<SearchControllerKey>();
            if (node.Has(NodeRoles.Trainer))
            {
                for (var i = 0; i < (node.Trainers ?? settings.Workers.Trainers); i++)
                {
                    system.ActorOf(TrainerWorker.Props(controller, backends.CreateTrainer(i), repeat), $"trainer-{prefix}-{i}");
                }
            }
            if (node.Has(NodeRoles.Device))
            {
                for (var i = 0; i < (node.Devices ?? settings.Workers.Devices); i++)
                {
                    system.ActorOf(DeviceWorker.Props(controller, backends.CreateDevice(i), repeat), $"device-{prefix}-{i}");
                }
            }
        });
        return builder;
    }
}

/// <summary>Hands controller notifications (progress, stopped) to a callback outside the actor system.</summary>
internal sealed class NotificationForwarder : ReceiveActor
{
    public NotificationForwarder(Action<ISearchCommand>? callback) => Receive<ISearchCommand>(m => callback?.Invoke(m));
}
