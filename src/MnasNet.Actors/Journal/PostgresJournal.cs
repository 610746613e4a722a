using MnasNet.Actors.Actors;
using MnasNet.Actors.Protocol;
using MnasNet.Actors.Serialization;
using MnasNet.Actors.Settings;
using Npgsql;

namespace MnasNet.Actors.Journal;

/// <summary>The journal's database server cannot be reached (down, wrong host or port, network).</summary>
public sealed class JournalUnavailableException(string message, Exception? inner = null) : Exception(message, inner);

/// <summary>
/// The PostgreSQL journal (clusters): where its connection string comes from, and a direct reader of a search's
/// events (status, report and tests need no actor system). Tables are Akka.Persistence.Sql's defaults.
/// </summary>
public static class PostgresJournal
{
    public const string ConnectionEnvironmentVariable = "MNASNET_PG_CONNECTION";

    /// <summary>
    /// The connection string from <c>journal.connectionStringFile</c> or else <c>MNASNET_PG_CONNECTION</c>; never from
    /// the settings themselves, which are journaled and may be committed.
    /// </summary>
    public static string ConnectionString(JournalSettings journal, Func<string, string?>? environment = null)
    {
        environment ??= Environment.GetEnvironmentVariable;
        string text;
        if (journal.ConnectionStringFile.Length > 0)
        {
            try
            {
                text = File.ReadAllText(journal.ConnectionStringFile).Trim();
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                throw new JournalException($"journal.connectionStringFile '{journal.ConnectionStringFile}' cannot be read: {e.Message}", e);
            }
            if (text.Length == 0)
            {
                throw new JournalException($"journal.connectionStringFile '{journal.ConnectionStringFile}' is empty");
            }
        }
        else
        {
            text = environment(ConnectionEnvironmentVariable)?.Trim() ?? "";
            if (text.Length == 0)
            {
                throw new JournalException($"journal.provider is postgresql but no connection string: set {ConnectionEnvironmentVariable} or journal.connectionStringFile");
            }
        }
        try
        {
            return new NpgsqlConnectionStringBuilder(text).ConnectionString;
        }
        catch (ArgumentException e)
        {
            throw new JournalException($"the PostgreSQL connection string is malformed: {e.Message}", e);
        }
    }

    /// <summary>Every event of a search, in sequence order; empty when the journal has none (or no tables yet).</summary>
    public static IReadOnlyList<JournalEntry> ReadEvents(string connectionString, string id) => Query(connectionString, connection =>
    {
        using var command = connection.CreateCommand();
        command.CommandText = "SELECT sequence_number, manifest, message FROM journal WHERE persistence_id = @id AND deleted = false ORDER BY sequence_number";
        command.Parameters.AddWithValue("id", SearchController.PersistenceIdFor(id));
        using var reader = command.ExecuteReader();
        var result = new List<JournalEntry>();
        while (reader.Read())
        {
            var manifest = reader.GetString(1);
            var payload = (byte[])reader.GetValue(2);
            result.Add(new JournalEntry(reader.GetInt64(0), manifest, (ISearchEvent)SearchJson.FromBinary(payload, manifest)));
        }
        return result;
    }, []);

    /// <summary>Every search in the journal (persistence ids "search-&lt;id&gt;"), ordered by id.</summary>
    public static IReadOnlyList<JournaledSearch> ListSearches(string connectionString) => Query(connectionString, connection =>
    {
        var prefix = SearchController.PersistenceIdFor("");
        using var command = connection.CreateCommand();
        command.CommandText = "SELECT persistence_id, COUNT(*), MAX(created) FROM journal WHERE starts_with(persistence_id, @prefix) AND deleted = false GROUP BY persistence_id";
        command.Parameters.AddWithValue("prefix", prefix);
        using var reader = command.ExecuteReader();
        var result = new List<JournaledSearch>();
        while (reader.Read())
        {
            result.Add(new JournaledSearch(reader.GetString(0)[prefix.Length..], reader.GetInt64(1), JournalTime.FromTicks(reader.GetInt64(2))));
        }
        return result.OrderBy(s => s.Id, StringComparer.Ordinal).ToList();
    }, []);

    /// <summary>One search's event count and newest write time; null when the journal has no event of it.</summary>
    public static JournaledSearch? FindSearch(string connectionString, string id) => Query(connectionString, connection =>
    {
        using var command = connection.CreateCommand();
        command.CommandText = "SELECT COUNT(*), MAX(created) FROM journal WHERE persistence_id = @id AND deleted = false";
        command.Parameters.AddWithValue("id", SearchController.PersistenceIdFor(id));
        using var reader = command.ExecuteReader();
        return reader.Read() && reader.GetInt64(0) > 0 ? new JournaledSearch(id, reader.GetInt64(0), JournalTime.FromTicks(reader.GetInt64(1))) : null;
    }, null);

    /// <summary>Where a connection string points, for messages: host:port/database (never the password).</summary>
    public static string Describe(string connectionString)
    {
        var b = new NpgsqlConnectionStringBuilder(connectionString);
        return $"{b.Host}:{b.Port}/{b.Database ?? b.Username}";
    }

    /// <summary>
    /// Runs one query on a fresh connection. No journal table yet (nothing ever journaled there) gives
    /// <paramref name="noTable"/>; a server that cannot be reached is <see cref="JournalUnavailableException"/>; an error
    /// the server reports (authentication, missing database) is <see cref="JournalException"/>.
    /// </summary>
    private static T Query<T>(string connectionString, Func<NpgsqlConnection, T> query, T noTable)
    {
        try
        {
            using var connection = new NpgsqlConnection(connectionString);
            connection.Open();
            return query(connection);
        }
        catch (PostgresException e) when (e.SqlState == PostgresErrorCodes.UndefinedTable)
        {
            return noTable;
        }
        catch (PostgresException e)
        {
            throw new JournalException($"PostgreSQL journal {Describe(connectionString)} cannot be read: {e.MessageText} ({e.SqlState})", e);
        }
        catch (NpgsqlException e)
        {
            var cause = e.InnerException is { } inner ? $": {inner.Message}" : "";
            throw new JournalUnavailableException($"PostgreSQL server of the journal {Describe(connectionString)} is unreachable: {e.Message}{cause}", e);
        }
    }
}
