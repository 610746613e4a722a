using MnasNet.Actors.Journal;

namespace MnasNet.Actors.Tests;

/// <summary>
/// What a process killed right after an event leaves behind: a copy of a search's SQLite journal with every event
/// after <c>lastSeq</c> (and every snapshot taken after it) removed. Deterministic where a live kill races the search.
/// </summary>
internal static class JournalCut
{
    public static void CopyUpTo(string from, string to, string id, long lastSeq)
    {
        foreach (var suffix in new[] { "", "-wal", "-shm" }.Where(x => File.Exists(JournalFiles.Database(from, id) + x)))
        {
            File.Copy(JournalFiles.Database(from, id) + suffix, JournalFiles.Database(to, id) + suffix);
        }
        using var connection = new Microsoft.Data.Sqlite.SqliteConnection($"Data Source={JournalFiles.Database(to, id)};Pooling=False");
        connection.Open();
        foreach (var sql in new[] { "DELETE FROM journal WHERE sequence_number > $s", "DELETE FROM snapshot WHERE sequence_number > $s OR persistence_id LIKE '%-head'" })
        {
            using var command = connection.CreateCommand();
            command.CommandText = sql;
            command.Parameters.AddWithValue("$s", lastSeq);
            command.ExecuteNonQuery();
        }
    }
}
