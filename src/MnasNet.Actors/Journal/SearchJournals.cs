namespace MnasNet.Actors.Journal;

/// <summary>A search as its journal lists it: id, number of events, write time (UTC) of the newest event.</summary>
public sealed record JournaledSearch(string Id, long Events, DateTime? LastEventAt);

/// <summary>Akka.Persistence.Sql's <c>created</c> column: the write time as .NET ticks (UTC), by the writer's clock.</summary>
public static class JournalTime
{
    public static DateTime? FromTicks(long ticks) => ticks > 0 && ticks <= DateTime.MaxValue.Ticks ? new DateTime(ticks, DateTimeKind.Utc) : null;
}

/// <summary>
/// The read side of where searches are journaled, whichever the provider: one SQLite file per search under a
/// directory (<see cref="JournalFiles"/>), or one PostgreSQL database holding every search of a cluster (persistence
/// ids "search-&lt;id&gt;"). Status, list, report and export-trial read through it.
/// </summary>
public interface ISearchJournals
{
    /// <summary>"sqlite" or "postgresql" (journal.provider).</summary>
    string Provider { get; }

    /// <summary>Where the journals are, for messages: a directory, or host:port/database (never a password).</summary>
    string Location { get; }

    /// <summary>Where one search's journal is: its SQLite file, or the database and persistence id.</summary>
    string LocationOf(string id);

    IReadOnlyList<JournaledSearch> List();

    /// <summary>Null when the journal does not know the search.</summary>
    JournaledSearch? Find(string id);

    /// <summary>Every event of the search in sequence order; <see cref="SearchNotFoundException"/> for an unknown id.</summary>
    IReadOnlyList<JournalEntry> ReadEvents(string id);

    /// <summary>The database holding the search's journal; <see cref="SearchNotFoundException"/> for an unknown id.</summary>
    JournalDatabase DatabaseOf(string id);

    /// <summary>
    /// Whether a process runs the search now. SQLite: the running process's file lock. PostgreSQL: null (unknown) —
    /// the processes of a cluster search hold no lock the reader could probe; its journaled status and newest event
    /// time are all the journal can tell.
    /// </summary>
    bool? IsRunning(string id);
}

/// <summary>SQLite: &lt;directory&gt;/&lt;id&gt;.db per search; running = its lock file is held.</summary>
public sealed class SqliteSearchJournals(string directory) : ISearchJournals
{
    public string Provider => "sqlite";

    public string Location => directory;

    public string LocationOf(string id) => Path.GetFullPath(JournalFiles.Database(directory, id));

    public IReadOnlyList<JournaledSearch> List() => JournalFiles.List(directory).Select(id => JournalReader.FindSearch(directory, id)).OfType<JournaledSearch>().ToList();

    public JournaledSearch? Find(string id) => JournalReader.FindSearch(directory, id);

    public IReadOnlyList<JournalEntry> ReadEvents(string id) => JournalReader.ReadEvents(directory, id);

    public JournalDatabase DatabaseOf(string id) => JournalReader.Database(directory, id);

    public bool? IsRunning(string id) => JournalFiles.IsRunning(directory, id);
}

/// <summary>PostgreSQL: one database for every search of a cluster; running cannot be known (null).</summary>
public sealed class PostgresSearchJournals(string connectionString) : ISearchJournals
{
    public string ConnectionString => connectionString;

    public string Provider => "postgresql";

    public string Location => $"postgresql {PostgresJournal.Describe(connectionString)}";

    public string LocationOf(string id) => $"{Location}, persistence id {Actors.SearchController.PersistenceIdFor(id)}";

    private static readonly string Prefix = Actors.SearchController.PersistenceIdFor("");

    private JournalDatabase Database { get; } = JournalDatabase.Postgres(connectionString);

    public IReadOnlyList<JournaledSearch> List() => Database.List(Prefix).Select(r => new JournaledSearch(r.PersistenceId[Prefix.Length..], r.Events, r.LastWrittenAt)).ToList();

    public JournaledSearch? Find(string id) =>
        Database.Rows(Actors.SearchController.PersistenceIdFor(id)) is { Events: > 0 } rows ? new JournaledSearch(id, rows.Events, rows.LastWrittenAt) : null;

    public IReadOnlyList<JournalEntry> ReadEvents(string id)
    {
        var events = Database.ReadEvents(Actors.SearchController.PersistenceIdFor(id));
        return events.Count > 0 ? events : throw NotFound(id);
    }

    public JournalDatabase DatabaseOf(string id) => Find(id) is null ? throw NotFound(id) : Database;

    public bool? IsRunning(string id) => null;

    public SearchNotFoundException NotFound(string id) =>
        new($"no search '{id}' in the PostgreSQL journal {PostgresJournal.Describe(connectionString)} (no events of {Actors.SearchController.PersistenceIdFor(id)}); 'mnasnet list --provider postgresql' shows the searches there");
}
