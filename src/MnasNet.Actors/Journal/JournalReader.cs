using MnasNet.Actors.Actors;

namespace MnasNet.Actors.Journal;

/// <summary>
/// A search's events in its SQLite journal under a journal directory (read-only, WAL: works while the search runs),
/// read through <see cref="JournalDatabase"/>. Used by resume, the CLI's read-side commands and tests.
/// </summary>
public static class JournalReader
{
    /// <summary>The first event only (search-started): what resume needs, without reading a long journal.</summary>
    public static JournalEntry? ReadFirstEvent(string directory, string id) => ReadEvents(directory, id, limit: 1).FirstOrDefault();

    public static IReadOnlyList<JournalEntry> ReadEvents(string directory, string id, int? limit = null) =>
        Database(directory, id).ReadEvents(SearchController.PersistenceIdFor(id), limit);

    /// <summary>One search's event count and newest write time; null when it has no journal file.</summary>
    public static JournaledSearch? FindSearch(string directory, string id) =>
        File.Exists(JournalFiles.Database(directory, id)) && Database(directory, id).Rows(SearchController.PersistenceIdFor(id)) is var rows
            ? new JournaledSearch(id, rows.Events, rows.LastWrittenAt)
            : null;

    /// <summary>Every event of every persistence id in a journal file; 0 while it cannot be read (being created).</summary>
    public static long CountEvents(string database)
    {
        try
        {
            return JournalDatabase.Sqlite(database).List("").Sum(r => r.Events);
        }
        catch (JournalException)
        {
            return 0;
        }
    }

    /// <summary>The search's journal file; <see cref="SearchNotFoundException"/> when there is none.</summary>
    public static JournalDatabase Database(string directory, string id)
    {
        var database = JournalFiles.Database(directory, id);
        return File.Exists(database)
            ? JournalDatabase.Sqlite(database)
            : throw new SearchNotFoundException($"no search '{id}' in '{directory}' (no journal {database}); 'mnasnet list' shows the searches there");
    }
}
