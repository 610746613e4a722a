using MnasNet.Actors.Actors;
using MnasNet.Actors.Settings;
using Npgsql;

namespace MnasNet.Actors.Journal;

/// <summary>The journal's database server cannot be reached (down, wrong host or port, network).</summary>
public sealed class JournalUnavailableException(string message, Exception? inner = null) : Exception(message, inner);

/// <summary>
/// The PostgreSQL journal (clusters): where its connection string comes from, and a search's events read through
/// <see cref="JournalDatabase"/>. Tables are Akka.Persistence.Sql's defaults.
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
    public static IReadOnlyList<JournalEntry> ReadEvents(string connectionString, string id) =>
        JournalDatabase.Postgres(connectionString).ReadEvents(SearchController.PersistenceIdFor(id));

    /// <summary>Where a connection string points, for messages: host:port/database (never the password).</summary>
    public static string Describe(string connectionString)
    {
        var b = new NpgsqlConnectionStringBuilder(connectionString);
        return $"{b.Host}:{b.Port}/{b.Database ?? b.Username}";
    }
}
