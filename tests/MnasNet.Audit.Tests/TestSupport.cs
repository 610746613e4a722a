using System.Text.Json.Nodes;
using Microsoft.Data.Sqlite;
using MnasNet.Actors.Hosting;
using MnasNet.Actors.Journal;
using MnasNet.Actors.Settings;

namespace MnasNet.Audit.Tests;

/// <summary>Real simulated searches through the actors project's own runner (actors, SQLite journal, snapshots).</summary>
internal static class Searches
{
    public static SearchSettings Settings(string dir, string id, string strategy = "ppo", int batchSize = 4, int batches = 3, int snapshotEvery = 100, double failureRate = 0.25, int policyStateEvery = 8) =>
        SettingsValidation.Validate(Simulated.Settings(dir, id, batchSize, batches) with
        {
            Seed = 8,
            Strategy = strategy,
            Simulation = new SimulationSettings { FailureRate = failureRate },
            Journal = new JournalSettings { Directory = dir, SnapshotEvery = snapshotEvery, PolicyStateEvery = policyStateEvery },
            Workers = new WorkerSettings { Trainers = 2, Devices = 2, LeaseTimeoutSeconds = 60, PauseGraceSeconds = 10 },
        });

    /// <summary>Runs the search to completion and returns its journal file, checkpointed (no WAL left beside it).</summary>
    public static async Task<string> RunAsync(SearchSettings settings)
    {
        var outcome = await SearchRunner.RunAsync(settings, resume: false);
        Assert.Equal("completed", outcome.Status);
        var database = JournalFiles.Database(settings.Journal.Directory, settings.Id);
        // The journal's pooled connections would keep the file open (and locked against journal_mode changes).
        SqliteConnection.ClearAllPools();
        Sql.Execute(database, "PRAGMA wal_checkpoint(TRUNCATE);");
        return database;
    }

    /// <summary>A copy of a journal under another directory, so each test tampers with its own file.</summary>
    public static string Copy(string database, TempDir to, string id)
    {
        var target = JournalFiles.Database(to.Path, id);
        File.Copy(database, target, overwrite: true);
        return target;
    }
}

/// <summary>Direct SQL on a journal file: how the tamper tests change what the search wrote.</summary>
internal static class Sql
{
    public static void Execute(string database, string sql, params (string Name, object Value)[] parameters)
    {
        using var connection = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = database, Pooling = false }.ToString());
        connection.Open();
        using var command = connection.CreateCommand();
        command.CommandText = sql;
        foreach (var (name, value) in parameters)
        {
            command.Parameters.AddWithValue(name, value);
        }
        command.ExecuteNonQuery();
    }

    /// <summary>(sequence number, manifest, payload as JSON) of every row, in sequence order.</summary>
    public static List<(long Seq, string Manifest, JsonObject Payload)> Rows(string database)
    {
        using var connection = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = database, Pooling = false }.ToString());
        connection.Open();
        using var command = connection.CreateCommand();
        command.CommandText = "SELECT sequence_number, manifest, message FROM journal ORDER BY sequence_number";
        using var reader = command.ExecuteReader();
        var rows = new List<(long, string, JsonObject)>();
        while (reader.Read())
        {
            rows.Add((reader.GetInt64(0), reader.GetString(1), JsonNode.Parse((byte[])reader.GetValue(2))!.AsObject()));
        }
        return rows;
    }

    /// <summary>Rewrites one event's JSON payload (the journal's message column).</summary>
    public static void RewritePayload(string database, long seq, Action<JsonObject> change)
    {
        var row = Rows(database).Single(r => r.Seq == seq);
        change(row.Payload);
        Execute(database, "UPDATE journal SET message = $m WHERE sequence_number = $s", ("$m", System.Text.Encoding.UTF8.GetBytes(row.Payload.ToJsonString())), ("$s", seq));
    }
}
