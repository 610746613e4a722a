using System.Data.Common;
using System.Runtime.Serialization;
using Microsoft.Data.Sqlite;
using MnasNet.Actors.Protocol;
using MnasNet.Actors.Serialization;
using Npgsql;

namespace MnasNet.Actors.Journal;

/// <summary>One journaled event: sequence number, manifest, the decoded event, and when its row was written (UTC) if known.</summary>
public sealed record JournalEntry(long SequenceNr, string Manifest, ISearchEvent Event, DateTime? WrittenAt = null);

/// <summary>A persistence id's rows: how many, and when the newest was written.</summary>
public sealed record JournalRows(string PersistenceId, long Events, DateTime? LastWrittenAt);

/// <summary>The latest snapshot of a persistence id and the sequence number it was taken at.</summary>
public sealed record JournalSnapshot(long SequenceNr, SearchSnapshot Snapshot);

/// <summary>An event the journal holds but this build cannot read (unknown or newer manifest).</summary>
public sealed class UnreadableEventException(string message, Exception? inner = null) : Exception(message, inner);

/// <summary>
/// Akka.Persistence.Sql's journal and snapshot tables read directly, read-only (SQLite in WAL mode, or PostgreSQL),
/// with payloads decoded by the search serializer: the only code that reads them. No actor system needed, and the
/// search may be running. A database without the tables (nothing journaled yet) reads as empty.
/// </summary>
public sealed class JournalDatabase
{
    private readonly Func<DbConnection> _connect;
    private readonly Func<Exception, bool> _noTable;
    private readonly Func<Exception, Exception?> _translate;

    private JournalDatabase(string description, Func<DbConnection> connect, Func<Exception, bool> noTable, Func<Exception, Exception?> translate)
    {
        Description = description;
        _connect = connect;
        _noTable = noTable;
        _translate = translate;
    }

    /// <summary>Where it is, for messages: a file, or host:port/database (never a password).</summary>
    public string Description { get; }

    public static JournalDatabase Sqlite(string file)
    {
        var connection = new SqliteConnectionStringBuilder { DataSource = Path.GetFullPath(file), Mode = SqliteOpenMode.ReadOnly, DefaultTimeout = 30 }.ToString();
        return new JournalDatabase(Path.GetFullPath(file), () => new SqliteConnection(connection),
            e => e is SqliteException { SqliteErrorCode: 1 } s && s.Message.Contains("no such table", StringComparison.Ordinal),
            e => e is SqliteException s ? new JournalException($"journal '{file}' cannot be read: {s.Message}", s) : null);
    }

    public static JournalDatabase Postgres(string connectionString)
    {
        var where = PostgresJournal.Describe(connectionString);
        return new JournalDatabase(where, () => new NpgsqlConnection(connectionString),
            e => e is PostgresException { SqlState: PostgresErrorCodes.UndefinedTable },
            e => e switch
            {
                PostgresException p => new JournalException($"PostgreSQL journal {where} cannot be read: {p.MessageText} ({p.SqlState})", p),
                NpgsqlException n => new JournalUnavailableException($"PostgreSQL server of the journal {where} is unreachable: {n.Message}{(n.InnerException is { } inner ? $": {inner.Message}" : "")}", n),
                _ => null,
            });
    }

    /// <summary>The persistence id's events in sequence order (the first <paramref name="limit"/> if given).</summary>
    public IReadOnlyList<JournalEntry> ReadEvents(string persistenceId, int? limit = null) => Query(command =>
    {
        command.CommandText = "SELECT sequence_number, manifest, message, created FROM journal WHERE persistence_id = @id AND deleted = @deleted ORDER BY sequence_number"
            + (limit is { } n ? $" LIMIT {n}" : "");
        Parameter(command, "id", persistenceId);
        Parameter(command, "deleted", false);
        using var reader = command.ExecuteReader();
        var result = new List<JournalEntry>();
        while (reader.Read())
        {
            var (sequenceNr, manifest) = (reader.GetInt64(0), reader.GetString(1));
            result.Add(new JournalEntry(sequenceNr, manifest, Decode<ISearchEvent>(persistenceId, result, (byte[])reader.GetValue(2), manifest), JournalTime.FromTicks(reader.GetInt64(3))));
        }
        return result;
    }, []);

    /// <summary>How many events the persistence id has and when the newest was written.</summary>
    public JournalRows Rows(string persistenceId) => Query(command =>
    {
        command.CommandText = "SELECT COUNT(*), MAX(created) FROM journal WHERE persistence_id = @id AND deleted = @deleted";
        Parameter(command, "id", persistenceId);
        Parameter(command, "deleted", false);
        using var reader = command.ExecuteReader();
        reader.Read();
        return new JournalRows(persistenceId, reader.GetInt64(0), reader.IsDBNull(1) ? null : JournalTime.FromTicks(reader.GetInt64(1)));
    }, new JournalRows(persistenceId, 0, null));

    /// <summary>Every persistence id starting with <paramref name="prefix"/>, ordered by id.</summary>
    public IReadOnlyList<JournalRows> List(string prefix) => Query(command =>
    {
        command.CommandText = "SELECT persistence_id, COUNT(*), MAX(created) FROM journal WHERE substr(persistence_id, 1, @length) = @prefix AND deleted = @deleted GROUP BY persistence_id";
        Parameter(command, "length", prefix.Length);
        Parameter(command, "prefix", prefix);
        Parameter(command, "deleted", false);
        using var reader = command.ExecuteReader();
        var result = new List<JournalRows>();
        while (reader.Read())
        {
            result.Add(new JournalRows(reader.GetString(0), reader.GetInt64(1), JournalTime.FromTicks(reader.GetInt64(2))));
        }
        return result.OrderBy(r => r.PersistenceId, StringComparer.Ordinal).ToList();
    }, []);

    /// <summary>The latest snapshot of the persistence id, or null.</summary>
    public JournalSnapshot? LatestSnapshot(string persistenceId) =>
        Latest<SearchSnapshot>(persistenceId) is { } latest ? new JournalSnapshot(latest.SequenceNr, latest.Value) : null;

    /// <summary>The sealed head of a stopped search's journal (kept as a snapshot under its own id), or null.</summary>
    public JournalHead? LatestHead(string headId) => Latest<JournalHead>(headId)?.Value;

    private (long SequenceNr, T Value)? Latest<T>(string persistenceId) where T : class => Query<(long, T)?>(command =>
    {
        command.CommandText = "SELECT sequence_number, manifest, snapshot FROM snapshot WHERE persistence_id = @id ORDER BY sequence_number DESC LIMIT 1";
        Parameter(command, "id", persistenceId);
        using var reader = command.ExecuteReader();
        return reader.Read() && !reader.IsDBNull(2)
            ? (reader.GetInt64(0), Decode<T>(persistenceId, null, (byte[])reader.GetValue(2), reader.GetString(1)))
            : null;
    }, null);

    private T Decode<T>(string persistenceId, List<JournalEntry>? before, byte[] payload, string manifest)
    {
        try
        {
            return (T)SearchJson.FromBinary(payload, manifest);
        }
        catch (Exception e) when (e is SerializationException or System.Text.Json.JsonException or InvalidCastException)
        {
            var after = before is { Count: > 0 } ? before[^1].SequenceNr : 0;
            var what = before is null ? "the latest snapshot" : $"the event after sequence number {after} (sequence number {after + 1})";
            throw new UnreadableEventException(
                $"journal {Description}, search '{persistenceId}': {what} cannot be read: {e.Message}. This build reads manifests " +
                $"{string.Join(", ", SearchJson.KnownManifests.Where(m => !m.StartsWith("search-snapshot", StringComparison.Ordinal)).Order(StringComparer.Ordinal))}; replay it with the version that wrote it.", e);
        }
    }

    private static void Parameter(DbCommand command, string name, object value)
    {
        var p = command.CreateParameter();
        p.ParameterName = name;
        p.Value = value;
        command.Parameters.Add(p);
    }

    private T Query<T>(Func<DbCommand, T> query, T noTable)
    {
        try
        {
            using var connection = _connect();
            connection.Open();
            using var command = connection.CreateCommand();
            return query(command);
        }
        catch (Exception e) when (_noTable(e))
        {
            return noTable;
        }
        catch (Exception e) when (_translate(e) is { } translated)
        {
            throw translated;
        }
    }
}
