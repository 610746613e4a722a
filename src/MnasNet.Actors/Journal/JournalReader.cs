using Microsoft.Data.Sqlite;
using MnasNet.Actors.Actors;
using MnasNet.Actors.Protocol;
using MnasNet.Actors.Serialization;

namespace MnasNet.Actors.Journal;

/// <summary>One journaled event with its sequence number.</summary>
public sealed record JournalEntry(long SequenceNr, string Manifest, ISearchEvent Event);

/// <summary>
/// Reads a search's events straight from its SQLite journal (read-only, WAL: works while the search runs), decoding
/// payloads with the search serializer. Used by status, list, report and export, which need no actor system.
/// </summary>
public static class JournalReader
{
    /// <summary>The first event only (search-started): what resume needs, without reading a long journal.</summary>
    public static JournalEntry? ReadFirstEvent(string directory, string id) => ReadEvents(directory, id, limit: 1).FirstOrDefault();

    public static IReadOnlyList<JournalEntry> ReadEvents(string directory, string id, int? limit = null)
    {
        var database = JournalFiles.Database(directory, id);
        if (!File.Exists(database))
        {
            throw new SearchNotFoundException($"no search '{id}' in '{directory}' (no journal {database}); 'mnasnet list' shows the searches there");
        }
        var builder = new SqliteConnectionStringBuilder { DataSource = database, Mode = SqliteOpenMode.ReadOnly, DefaultTimeout = 30 };
        var result = new List<JournalEntry>();
        try
        {
            using var connection = new SqliteConnection(builder.ToString());
            connection.Open();
            using var command = connection.CreateCommand();
            command.CommandText = "SELECT sequence_number, manifest, message FROM journal WHERE persistence_id = $id AND deleted = 0 ORDER BY sequence_number" + (limit is { } n ? $" LIMIT {n}" : "");
            command.Parameters.AddWithValue("$id", SearchController.PersistenceIdFor(id));
            using var reader = command.ExecuteReader();
            while (reader.Read())
            {
                var manifest = reader.GetString(1);
                var payload = (byte[])reader.GetValue(2);
                result.Add(new JournalEntry(reader.GetInt64(0), manifest, (ISearchEvent)SearchJson.FromBinary(payload, manifest)));
            }
        }
        catch (SqliteException e) when (e.SqliteErrorCode == 1 && e.Message.Contains("no such table", StringComparison.Ordinal))
        {
            return result;
        }
        catch (SqliteException e)
        {
            throw new JournalException($"journal '{database}' cannot be read: {e.Message}", e);
        }
        return result;
    }

    /// <summary>One search's event count and newest write time; null when it has no journal file.</summary>
    public static JournaledSearch? FindSearch(string directory, string id)
    {
        var database = JournalFiles.Database(directory, id);
        if (!File.Exists(database))
        {
            return null;
        }
        var builder = new SqliteConnectionStringBuilder { DataSource = database, Mode = SqliteOpenMode.ReadOnly, DefaultTimeout = 30 };
        try
        {
            using var connection = new SqliteConnection(builder.ToString());
            connection.Open();
            using var command = connection.CreateCommand();
            command.CommandText = "SELECT COUNT(*), MAX(created) FROM journal WHERE persistence_id = $id AND deleted = 0";
            command.Parameters.AddWithValue("$id", SearchController.PersistenceIdFor(id));
            using var reader = command.ExecuteReader();
            reader.Read();
            return new JournaledSearch(id, reader.GetInt64(0), reader.IsDBNull(1) ? null : JournalTime.FromTicks(reader.GetInt64(1)));
        }
        catch (SqliteException e) when (e.SqliteErrorCode == 1 && e.Message.Contains("no such table", StringComparison.Ordinal))
        {
            return new JournaledSearch(id, 0, null);
        }
        catch (SqliteException e)
        {
            throw new JournalException($"journal '{database}' cannot be read: {e.Message}", e);
        }
    }

    public static long CountEvents(string database)
    {
        var builder = new SqliteConnectionStringBuilder { DataSource = database, Mode = SqliteOpenMode.ReadOnly };
        using var connection = new SqliteConnection(builder.ToString());
        connection.Open();
        using var command = connection.CreateCommand();
        command.CommandText = "SELECT COUNT(*) FROM journal";
        try
        {
            return (long)command.ExecuteScalar()!;
        }
        catch (SqliteException)
        {
            return 0;
        }
    }
}
