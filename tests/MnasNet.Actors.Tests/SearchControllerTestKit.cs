using Akka.Actor;
using Akka.Hosting;
using MnasNet.Actors.Actors;
using MnasNet.Actors.Backends;
using MnasNet.Actors.Hosting;
using MnasNet.Actors.Journal;
using MnasNet.Actors.Protocol;
using MnasNet.Actors.Settings;
using MnasNet.SearchSpace;

namespace MnasNet.Actors.Tests;

/// <summary>
/// The SearchController with test probes as workers, on a real SQLite journal (its own directory under the class's
/// <see cref="TempDir"/>), serialize-messages on. Built with the same AddMnasNetSearch the product uses (workers off:
/// the probes are the workers); every command it sends out of the search is kept.
/// </summary>
public abstract class SearchControllerTestKit : Akka.Hosting.TestKit.TestKit
{
    private readonly List<ISearchCommand> _received = [];

    /// <param name="settings">The search's settings, given its journal directory.</param>
    protected SearchControllerTestKit(string systemName, TempDir root, Func<string, SearchSettings> settings) : base(systemName)
    {
        JournalDirectory = Directory.CreateDirectory(root.File(Guid.NewGuid().ToString("N"))).FullName;
        Settings = settings(JournalDirectory);
        JournalFiles.EnableWal(JournalFiles.Database(JournalDirectory, Settings.Id));
    }

    protected string JournalDirectory { get; }

    protected SearchSettings Settings { get; }

    protected IActorRef Controller => ActorRegistry.Get<SearchControllerKey>();

    protected static TrainingRecord Trained(double acc) => new("probe", acc, null, [1.0], 1, 0, 0, 0, 0, null, 0);

    protected static LatencyRecord Measured(double ms) => new("probe", "test", "p", "p", 1, 224, 0, 1, "Runs", ms, ms, ms, ms, ms, 0, 0, 0, [ms], 0, 0);

    /// <summary>The SearchStopped the search announced, if it has stopped.</summary>
    protected SearchStopped? Stopped()
    {
        lock (_received)
        {
            return _received.OfType<SearchStopped>().FirstOrDefault();
        }
    }

    protected override void ConfigureAkka(AkkaConfigurationBuilder builder, IServiceProvider provider)
    {
        var options = new SearchHostOptions(JournalFiles.Database(JournalDirectory, Settings.Id), new SimulatedBackendFactory(Settings, MnasNetSearchSpace.Default),
            m => { lock (_received) { _received.Add(m); } }, SerializeMessages: true, StartWorkers: false);
        builder.AddMnasNetSearch(Settings, options);
    }
}
