using Microsoft.Data.Sqlite;
using MnasNet.Actors.Actors;
using MnasNet.Actors.Journal;
using MnasNet.Actors.Protocol;

namespace MnasNet.Audit;

/// <summary>Sequence numbers missing from the journal: <see cref="From"/> to <see cref="To"/> inclusive.</summary>
public sealed record SequenceGap(long From, long To)
{
    public long Missing => To - From + 1;
}

/// <summary>What was read: the events in sequence order, gaps, and the controller's latest snapshot if asked for.</summary>
public sealed record JournalRead(string SearchId, IReadOnlyList<JournalEntry> Records, IReadOnlyList<SequenceGap> Gaps, JournalSnapshot? Snapshot, JournalHead? Head = null);

/// <summary>Where a journal is: a connection string and its provider (SQLite or PostgreSQL).</summary>
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

    public JournalDatabase Open() => Provider == PostgreSql
        ? JournalDatabase.Postgres(ConnectionString)
        : JournalDatabase.Sqlite(new SqliteConnectionStringBuilder(ConnectionString).DataSource);
}

/// <summary>Reads a search's events (and, if asked, its latest snapshot) for replay and export: read-only, works while the search runs.</summary>
public static class JournalQuery
{
    public static Task<JournalRead> ReadAsync(JournalSource source, string searchId, bool withSnapshot = false, CancellationToken cancellationToken = default) => Task.Run(() =>
    {
        var database = source.Open();
        var persistenceId = SearchController.PersistenceIdFor(searchId);
        var records = database.ReadEvents(persistenceId);
        var snapshot = withSnapshot ? database.LatestSnapshot(persistenceId) : null;
        var head = withSnapshot ? database.LatestHead(SearchController.HeadIdFor(searchId)) : null;
        return new JournalRead(searchId, records, SequenceGaps.Find(records.Select(r => r.SequenceNr)), snapshot, head);
    }, cancellationToken);
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
