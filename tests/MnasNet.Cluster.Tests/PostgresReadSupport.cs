using System.Text.Json.Nodes;
using MnasNet.Actors.Actors;
using MnasNet.Actors.Hosting;
using MnasNet.Actors.Settings;
using MnasNet.Cli;
using Npgsql;

namespace MnasNet.Cluster.Tests;

/// <summary>
/// A real PostgreSQL server holding two completed simulated searches, journaled by the single-node SearchRunner
/// with journal.provider = postgresql: <see cref="Audited"/> (LSTM PPO, 6 × 3, some failed trials, a snapshot after
/// update 2) and
/// <see cref="Tampered"/> (tabular PPO, 4 × 2; the tamper test changes it).
/// </summary>
public sealed class PostgresSearches : IAsyncLifetime
{
    public const string Audited = "pg-read";
    public const string Tampered = "pg-tamper";

    public PostgresServer Server { get; } = new();

    public TempDir Dir { get; } = new();

    public string ConnectionFile => Dir.File("pg.conn");

    public DateTime StartedAt { get; } = DateTime.UtcNow;

    public async ValueTask InitializeAsync()
    {
        await Server.InitializeAsync();
        await File.WriteAllTextAsync(ConnectionFile, Server.ConnectionString);
        // The audited search's third batch takes real time (0.3 s per trial) so that the snapshot taken after the second
        // update is committed before the search completes and its actor system stops (a pending snapshot write is rolled
        // back then: with zero-duration trials the last snapshot would be lost).
        foreach (var settings in new[] { Settings(Audited, "ppo", batchSize: 6, batches: 3, trainSeconds: 0.3), Settings(Tampered, "ppo-tabular", batchSize: 4, batches: 2, trainSeconds: 0) })
        {
            var outcome = await SearchRunner.RunAsync(settings, resume: false);
            Assert.Equal("completed", outcome.Status);
        }
    }

    private SearchSettings Settings(string id, string strategy, int batchSize, int batches, double trainSeconds)
    {
        var s = Simulated.Settings(Dir.Path, id, batchSize, batches, trainSeconds);
        return SettingsValidation.Validate(s with
        {
            Strategy = strategy,
            Simulation = s.Simulation with { FailureRate = 0.2 },
            Journal = s.Journal with { Provider = "postgresql", ConnectionStringFile = ConnectionFile },
        });
    }

    public async ValueTask DisposeAsync()
    {
        NpgsqlConnection.ClearAllPools();
        await Server.DisposeAsync();
        Dir.Dispose();
    }
}

/// <summary>Direct SQL on the PostgreSQL journal table: how the tamper test changes what a search wrote.</summary>
internal static class PostgresRows
{
    /// <summary>(sequence number, manifest, payload as JSON) of every event of a search, in sequence order.</summary>
    public static List<(long Seq, string Manifest, JsonObject Payload)> Of(string connectionString, string searchId)
    {
        using var connection = new NpgsqlConnection(connectionString);
        connection.Open();
        using var command = new NpgsqlCommand("SELECT sequence_number, manifest, message FROM journal WHERE persistence_id = @id ORDER BY sequence_number", connection);
        command.Parameters.AddWithValue("id", SearchController.PersistenceIdFor(searchId));
        using var reader = command.ExecuteReader();
        var rows = new List<(long, string, JsonObject)>();
        while (reader.Read())
        {
            rows.Add((reader.GetInt64(0), reader.GetString(1), JsonNode.Parse((byte[])reader.GetValue(2))!.AsObject()));
        }
        return rows;
    }

    /// <summary>Sequence numbers of a search's snapshots in the snapshot table.</summary>
    public static List<long> Snapshots(string connectionString, string searchId)
    {
        using var connection = new NpgsqlConnection(connectionString);
        connection.Open();
        using var command = new NpgsqlCommand("SELECT sequence_number FROM snapshot WHERE persistence_id = @id ORDER BY sequence_number", connection);
        command.Parameters.AddWithValue("id", SearchController.PersistenceIdFor(searchId));
        using var reader = command.ExecuteReader();
        var result = new List<long>();
        while (reader.Read())
        {
            result.Add(reader.GetInt64(0));
        }
        return result;
    }

    /// <summary>Rewrites one event's JSON payload (the journal's message column) with an SQL UPDATE.</summary>
    public static void RewritePayload(string connectionString, string searchId, long seq, Action<JsonObject> change)
    {
        var payload = Of(connectionString, searchId).Single(r => r.Seq == seq).Payload;
        change(payload);
        using var connection = new NpgsqlConnection(connectionString);
        connection.Open();
        using var command = new NpgsqlCommand("UPDATE journal SET message = @m WHERE persistence_id = @id AND sequence_number = @s", connection);
        command.Parameters.AddWithValue("m", System.Text.Encoding.UTF8.GetBytes(payload.ToJsonString()));
        command.Parameters.AddWithValue("id", SearchController.PersistenceIdFor(searchId));
        command.Parameters.AddWithValue("s", seq);
        Assert.Equal(1, command.ExecuteNonQuery());
    }
}
