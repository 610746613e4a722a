using System.Text.Json.Nodes;
using Microsoft.Data.Sqlite;
using MnasNet.Actors.Hosting;
using MnasNet.Actors.Journal;
using MnasNet.Actors.Settings;
using MnasNet.Cli;

namespace MnasNet.Audit.Tests;

/// <summary>A fresh temporary directory per test, deleted at the end.</summary>
public sealed class TempDir : IDisposable
{
    public TempDir() => Directory.CreateDirectory(Path);

    public string Path { get; } = System.IO.Path.Combine(System.IO.Path.GetTempPath(), $"mnasnet-audit-{Guid.NewGuid():N}");

    public string File(string name) => System.IO.Path.Combine(Path, name);

    public void Dispose()
    {
        try
        {
            Directory.Delete(Path, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}

/// <summary>Real simulated searches through the actors project's own runner (actors, SQLite journal, snapshots).</summary>
internal static class Searches
{
    public static SearchSettings Settings(string dir, string id, string strategy = "ppo", int batchSize = 4, int batches = 3, int snapshotEvery = 100, double failureRate = 0.25) =>
        SettingsValidation.Validate(new SearchSettings
        {
            Id = id,
            Seed = 8,
            Strategy = strategy,
            Mode = "simulated",
            BatchSize = batchSize,
            Batches = batches,
            Reward = new RewardSettings { Preset = "soft", TargetMs = 80 },
            Latency = new LatencySettings { Backend = "simulated", Runs = 5 },
            Simulation = new SimulationSettings { FailureRate = failureRate },
            Journal = new JournalSettings { Directory = dir, SnapshotEvery = snapshotEvery },
            Workers = new WorkerSettings { Trainers = 2, Devices = 2, LeaseTimeoutSeconds = 60, PauseGraceSeconds = 10 },
            Logging = new LoggingSettings { Level = "Warning", Console = false },
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

/// <summary>Runs the real command tree in-process.</summary>
internal static class Cli
{
    public sealed record Result(int ExitCode, string Output, string Error);

    public static async Task<Result> RunAsync(params string[] args)
    {
        using var output = new StringWriter();
        using var error = new StringWriter();
        var code = await MnasNetCli.RunAsync(args, output, error, TestContext.Current.CancellationToken);
        return new Result(code, output.ToString(), error.ToString());
    }
}
