using Akka.Actor;
using Akka.Configuration;
using Akka.Event;
using Akka.Hosting;
using Akka.Logger.Serilog;
using Akka.Persistence.Sql.Hosting;
using LinqToDB;
using MnasNet.Actors.Actors;
using MnasNet.Actors.Backends;
using MnasNet.Actors.Journal;
using MnasNet.Actors.Protocol;
using MnasNet.Actors.Serialization;
using MnasNet.Actors.Settings;
using MnasNet.Actors.Timing;
using MnasNet.SearchSpace;

namespace MnasNet.Actors.Hosting;

/// <summary>Registry keys of the search's actors.</summary>
public sealed class SearchControllerKey;

public sealed class RewardActorKey;

public sealed class SearchSubscriberKey;

/// <summary>
/// What the host needs beyond the settings: where the journal is, which backends, who hears progress, a new search's
/// warm start, and the clock the search runs on (null: the real one; the backends must wait on the same clock).
/// <paramref name="Final"/>: train these finalists (trainers only, no devices) instead of running the search.
/// <paramref name="VirtualOrigin"/>: the virtual time the search started at, which <c>simulation.journalOutages</c>
/// count from (null: the clock's time when the host is built).
/// <paramref name="Predictor"/>: <c>latency.predictor</c>'s table as the caller loaded and checked it (null: the
/// controller loads it from the file the settings name).
/// </summary>
public sealed record SearchHostOptions(
    string Database,
    IBackendFactory Backends,
    Action<ISearchCommand>? OnNotification = null,
    bool SerializeMessages = false,
    bool StartWorkers = true,
    Policy.WarmStartPlan? WarmStart = null,
    SearchClock? Clock = null,
    Decisions.FinalTrainingPlan? Final = null,
    DateTimeOffset? VirtualOrigin = null,
    LatencyPredictor? Predictor = null);

public static class SearchHostingExtensions
{
    /// <summary>
    /// Everything a search needs on one ActorSystem: SQLite journal + snapshots (Akka.Persistence.Sql), the search
    /// serializer for every message and event, Serilog logging, and the actors (controller, reward, workers).
    /// Tests call it with their own backends and <c>SerializeMessages = true</c>.
    /// </summary>
    public static AkkaConfigurationBuilder AddMnasNetSearch(this AkkaConfigurationBuilder builder, SearchSettings settings, SearchHostOptions options)
    {
        var clock = options.Clock ?? SearchClock.Real;
        builder.ConfigureLoggers(loggers =>
        {
            loggers.ClearLoggers();
            loggers.AddLogger<SerilogLogger>();
            loggers.LogLevel = LogLevel.InfoLevel;
        });
        var outages = JournalOutage.Parse(settings.Simulation.JournalOutages);
        if (outages.Count > 0 && clock.IsVirtual)
        {
            var interceptor = new JournalOutageInterceptor(clock, options.VirtualOrigin ?? clock.Now, outages);
            builder.WithSqlPersistence(new DataOptions().UseConnectionString(JournalProvider(settings), JournalConnection(settings, options)).UseInterceptor(interceptor), autoInitialize: true);
        }
        else
        {
            builder.WithSqlPersistence(JournalConnection(settings, options), JournalProvider(settings), autoInitialize: true);
        }
        builder
            .WithCustomSerializer("mnasnet-search", [typeof(ISearchMessage)], system => new SearchSerializer(system))
            // SIGTERM/Ctrl-C pause the search (SearchRunner) instead of shutting the actor system down under it. Akka.Hosting
            // has no API for this key nor for serialize-messages: these two one-key Configs are the only HOCON we use.
            .AddHocon(ConfigurationFactory.ParseString("akka.coordinated-shutdown.run-by-clr-shutdown-hook = off"), HoconAddMode.Prepend);
        if (options.SerializeMessages)
        {
            builder.AddHocon(ConfigurationFactory.ParseString("akka.actor.serialize-messages = on"), HoconAddMode.Prepend);
        }
        builder.WithActors((system, registry) =>
        {
            var subscriber = system.ActorOf(Props.Create(() => new NotificationForwarder(options.OnNotification)), "subscriber");
            registry.Register<SearchSubscriberKey>(subscriber);
            var reward = system.ActorOf(RewardActor.Props(clock), "reward");
            registry.Register<RewardActorKey>(reward);
            var controller = system.ActorOf(SearchController.Props(settings, reward, subscriber, options.WarmStart, clock, options.Final, options.Predictor), $"search-{settings.Id}");
            registry.Register<SearchControllerKey>(controller);
            if (options.StartWorkers)
            {
                for (var i = 0; i < settings.Workers.Trainers; i++)
                {
                    system.ActorOf(TrainerWorker.Props(controller, options.Backends.CreateTrainer(i), clock), $"trainer-{i}");
                }
                var platform = DevicePlatform.LocalDeviceOf(settings);
                for (var i = 0; i < (options.Final is null ? settings.Workers.Devices : 0); i++)
                {
                    var device = options.Backends.CreateDevice(i);
                    system.ActorOf(DeviceWorker.Props(controller, device, device.Platform ?? platform, DeviceRetry.Of(settings), clock), $"device-{i}");
                }
            }
        });
        return builder;
    }

    public static string JournalConnection(SearchSettings settings, SearchHostOptions options) => settings.Journal.Provider == "postgresql"
        ? PostgresJournal.ConnectionString(settings.Journal)
        : JournalFiles.ConnectionString(options.Database);

    public static string JournalProvider(SearchSettings settings) =>
        settings.Journal.Provider == "postgresql" ? ProviderName.PostgreSQL15 : ProviderName.SQLiteMS;

    public static IBackendFactory DefaultBackends(SearchSettings settings, SearchClock? clock = null) => settings.Simulated
        ? new SimulatedBackendFactory(settings, MnasNetSearchSpace.Default, clock)
        : new RealBackendFactory(settings, MnasNetSearchSpace.Default, settings.Journal.Directory);
}

/// <summary>Hands controller notifications (progress, stopped) to a callback outside the actor system.</summary>
internal sealed class NotificationForwarder : ReceiveActor
{
    public NotificationForwarder(Action<ISearchCommand>? callback)
    {
        Receive<ISearchCommand>(m => callback?.Invoke(m));
    }
}
