using MnasNet.Actors.Actors;
using MnasNet.Actors.Protocol;
using MnasNet.Actors.Serialization;
using MnasNet.Actors.Settings;
using Npgsql;

namespace MnasNet.Actors.Journal;

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

    public static IReadOnlyList<JournalEntry> ReadEvents(string connectionString, string id)
    {
        var result = new List<JournalEntry>();
        try
        {
            using var connection = new NpgsqlConnection(connectionString);
            connection.Open();
            using var command = connection.CreateCommand();
            command.CommandText = "SELECT sequence_number, manifest, message FROM journal WHERE persistence_id = @id AND deleted = false ORDER BY sequence_number";
            command.Parameters.AddWithValue("id", SearchController.PersistenceIdFor(id));
            using var reader = command.ExecuteReader();
            while (reader.Read())
            {
                var manifest = reader.GetString(1);
                var payload = (byte[])reader.GetValue(2);
                result.Add(new JournalEntry(reader.GetInt64(0), manifest, (ISearchEvent)SearchJson.FromBinary(payload, manifest)));
            }
        }
        catch (PostgresException e) when (e.SqlState == PostgresErrorCodes.UndefinedTable)
        {
            return result;
        }
        catch (NpgsqlException e)
        {
            throw new JournalException($"PostgreSQL journal cannot be read: {e.Message}", e);
        }
        return result;
    }
}
