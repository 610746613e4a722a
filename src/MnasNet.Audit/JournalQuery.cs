using System.Runtime.Serialization;
using Akka.Actor;
using Akka.Hosting;
using Akka.Persistence;
using Akka.Persistence.Query;
using Akka.Persistence.Sql.Hosting;
using Akka.Persistence.Sql.Query;
using Akka.Streams;
using Akka.Streams.Dsl;
using LinqToDB;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using MnasNet.Actors.Actors;
using MnasNet.Actors.Journal;
using MnasNet.Actors.Protocol;
using MnasNet.Actors.Serialization;

namespace MnasNet.Audit;

/// <summary>One journaled event: sequence number, manifest, the decoded event, and the row's timestamp (UTC) when known.</summary>
public sealed record JournalRecord(long SequenceNr, string Manifest, ISearchEvent Event, DateTime? Timestamp);

/// <summary>Sequence numbers missing from the journal: <see cref="From"/> to <see cref="To"/> inclusive.</summary>
public sealed record SequenceGap(long From, long To)
{
    public long Missing => To - From + 1;
}

/// <summary>What was read: the events in sequence order, gaps, and the controller's latest snapshot if asked for.</summary>
public sealed record JournalRead(string SearchId, IReadOnlyList<JournalRecord> Records, IReadOnlyList<SequenceGap> Gaps, SnapshotRecord? Snapshot, JournalHead? Head = null);

/// <summary>The latest snapshot of the controller: its sequence number and its policy state.</summary>
public sealed record SnapshotRecord(long SequenceNr, SearchSnapshot Snapshot);

/// <summary>An event the journal holds but this build cannot read (unknown or newer manifest).</summary>
public sealed class UnreadableEventException(string message, Exception? inner = null) : Exception(message, inner);

/// <summary>
/// Where a journal is: an Akka.Persistence.Sql connection string and its LinqToDB provider (SQLite or PostgreSQL).
/// </summary>
public sealed record JournalSource(string ConnectionString, string Provider, string Description)
{
    public const string Sqlite = "sqlite";
    public const string PostgreSql = "postgresql";

    /// <summary>A search's SQLite file under a journal directory (the layout of <see cref="JournalFiles"/>).</summary>
    public static JournalSource ForSearch(string directory, string id)
    {
        var database = JournalFiles.Database(directory, id);
        if (!File.Exists(database))
        {
            throw new SearchNotFoundException($"no search '{id}' in '{directory}' (no journal {database}); 'mnasnet list' shows the searches there");
        }
        return ForSqliteFile(database);
    }

    /// <summary>A SQLite journal file, opened read-only (WAL: readable while the search writes).</summary>
    public static JournalSource ForSqliteFile(string database)
    {
        if (!File.Exists(database))
        {
            throw new SearchNotFoundException($"journal file '{database}' does not exist");
        }
        var connection = new SqliteConnectionStringBuilder { DataSource = Path.GetFullPath(database), Mode = SqliteOpenMode.ReadOnly, DefaultTimeout = 30 }.ToString();
        return new JournalSource(connection, Sqlite, Path.GetFullPath(database));
    }

    internal string LinqToDbProvider => Provider == PostgreSql ? ProviderName.PostgreSQL15 : ProviderName.SQLiteMS;
}

/// <summary>
/// Reads a search's events through Akka.Persistence.Query (<see cref="SqlReadJournal"/>,
/// CurrentEventsByPersistenceId): read-only, no table creation, works while the search runs, any provider
/// Akka.Persistence.Sql supports. A short-lived actor system hosts the query; it is stopped after reading.
/// </summary>
public static class JournalQuery
{
    public static async Task<JournalRead> ReadAsync(JournalSource source, string searchId, bool withSnapshot = false, CancellationToken cancellationToken = default)
    {
        var host = new HostBuilder()
            .ConfigureServices(services => services.AddSingleton<IHostLifetime, NoLifetime>().AddAkka($"mnasnet-replay-{Guid.NewGuid():N}", builder => builder
                .ConfigureLoggers(loggers => loggers.LogLevel = Akka.Event.LogLevel.ErrorLevel)
                .WithSqlPersistence(source.ConnectionString, source.LinqToDbProvider, autoInitialize: false)
                .WithCustomSerializer("mnasnet-search", [typeof(ISearchMessage)], system => new SearchSerializer(system))))
            .Build();
        await host.StartAsync(cancellationToken);
        try
        {
            var system = host.Services.GetRequiredService<ActorSystem>();
            var persistenceId = SearchController.PersistenceIdFor(searchId);
            var records = await ReadEventsAsync(system, persistenceId, source, cancellationToken);
            var snapshot = withSnapshot ? await LatestSnapshotAsync(system, persistenceId, cancellationToken) : null;
            var head = withSnapshot ? await LatestHeadAsync(system, SearchController.HeadIdFor(searchId), cancellationToken) : null;
            return new JournalRead(searchId, records, SequenceGaps.Find(records.Select(r => r.SequenceNr)), snapshot, head);
        }
        finally
        {
            await host.StopAsync(CancellationToken.None);
            host.Dispose();
        }
    }

    private static async Task<List<JournalRecord>> ReadEventsAsync(ActorSystem system, string persistenceId, JournalSource source, CancellationToken cancellationToken)
    {
        var journal = PersistenceQuery.Get(system).ReadJournalFor<SqlReadJournal>(SqlReadJournal.Identifier);
        var records = new List<JournalRecord>();
        try
        {
            await journal.CurrentEventsByPersistenceId(persistenceId, 0, long.MaxValue)
                .RunForeach(e => records.Add(ToRecord(e)), system.Materializer())
                .WaitAsync(cancellationToken);
        }
        catch (Exception e) when (Unwrap(e) is SerializationException s)
        {
            var after = records.Count > 0 ? records[^1].SequenceNr : 0;
            throw new UnreadableEventException(
                $"journal {source.Description}, search '{persistenceId}': the event after sequence number {after} (sequence number {after + 1}) cannot be read: {s.Message}. " +
                $"This build reads manifests {string.Join(", ", SearchJson.KnownManifests.Where(m => !m.StartsWith("search-snapshot", StringComparison.Ordinal)).Order(StringComparer.Ordinal))}; replay it with the version that wrote it.", s);
        }
        catch (Exception e) when (e is not OperationCanceledException and not UnreadableEventException)
        {
            throw new JournalException($"journal {source.Description} cannot be read: {Unwrap(e).Message}", e);
        }
        return records;
    }

    private static Exception Unwrap(Exception e)
    {
        while (e is AggregateException { InnerException: { } inner })
        {
            e = inner;
        }
        return e.InnerException is SerializationException s ? s : e;
    }

    private static JournalRecord ToRecord(EventEnvelope envelope)
    {
        if (envelope.Event is not ISearchEvent e)
        {
            throw new SerializationException($"sequence number {envelope.SequenceNr}: {envelope.Event?.GetType().Name ?? "null"} is not a search event");
        }
        return new JournalRecord(envelope.SequenceNr, SearchJson.Manifest(e), e, TimestampOf(envelope.Timestamp));
    }

    /// <summary>Akka.Persistence.Sql stores the write time as .NET ticks (UTC); anything else is not a time.</summary>
    internal static DateTime? TimestampOf(long value) =>
        value > new DateTime(2000, 1, 1, 0, 0, 0, DateTimeKind.Utc).Ticks && value < DateTime.MaxValue.Ticks ? new DateTime(value, DateTimeKind.Utc) : null;

    private static async Task<SnapshotRecord?> LatestSnapshotAsync(ActorSystem system, string persistenceId, CancellationToken cancellationToken)
    {
        var store = Persistence.Instance.Apply(system).SnapshotStoreFor(null);
        var result = await store.Ask<object>(new LoadSnapshot(persistenceId, SnapshotSelectionCriteria.Latest, long.MaxValue), TimeSpan.FromSeconds(60), cancellationToken);
        return result switch
        {
            LoadSnapshotResult { Snapshot: { Snapshot: SearchSnapshot s } selected } => new SnapshotRecord(selected.Metadata.SequenceNr, s),
            LoadSnapshotResult => null,
            LoadSnapshotFailed f => throw new JournalException($"snapshot of {persistenceId} cannot be read: {f.Cause.Message}", f.Cause),
            _ => null,
        };
    }

    private static async Task<JournalHead?> LatestHeadAsync(ActorSystem system, string headId, CancellationToken cancellationToken)
    {
        var store = Persistence.Instance.Apply(system).SnapshotStoreFor(null);
        var result = await store.Ask<object>(new LoadSnapshot(headId, SnapshotSelectionCriteria.Latest, long.MaxValue), TimeSpan.FromSeconds(60), cancellationToken);
        return result switch
        {
            LoadSnapshotResult { Snapshot.Snapshot: JournalHead h } => h,
            LoadSnapshotFailed f => throw new JournalException($"journal head {headId} cannot be read: {f.Cause.Message}", f.Cause),
            _ => null,
        };
    }

    private sealed class NoLifetime : IHostLifetime
    {
        public Task WaitForStartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

        public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    }
}

/// <summary>Missing sequence numbers (events are numbered 1, 2, 3, … and never deleted by the search).</summary>
public static class SequenceGaps
{
    public static IReadOnlyList<SequenceGap> Find(IEnumerable<long> sequenceNumbers)
    {
        var gaps = new List<SequenceGap>();
        var expected = 1L;
        foreach (var n in sequenceNumbers)
        {
            if (n > expected)
            {
                gaps.Add(new SequenceGap(expected, n - 1));
            }
            expected = Math.Max(expected, n + 1);
        }
        return gaps;
    }
}
