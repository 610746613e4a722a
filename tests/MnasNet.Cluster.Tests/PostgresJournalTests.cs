using MnasNet.Actors.Hosting;
using MnasNet.Actors.Journal;
using MnasNet.Actors.Settings;

namespace MnasNet.Cluster.Tests;

public sealed class PostgresJournalTests(PostgresServer postgres) : IClassFixture<PostgresServer>
{
    [Fact]
    public async Task SimulatedSearchOnPostgresMatchesSqlite()
    {
        using var dir = new TempDir();
        var connectionFile = dir.File("pg.conn");
        await File.WriteAllTextAsync(connectionFile, postgres.ConnectionString, TestContext.Current.CancellationToken);
        var sqlite = Simulated.Settings(dir.Path, "same", batchSize: 6, batches: 3);
        var pg = sqlite with { Journal = sqlite.Journal with { Provider = "postgresql", ConnectionStringFile = connectionFile } };

        var a = await SearchRunner.RunAsync(sqlite, resume: false);
        var b = await SearchRunner.RunAsync(pg, resume: false);

        Assert.Equal("completed", a.Status);
        Assert.Equal("completed", b.Status);
        var events = PostgresJournal.ReadEvents(postgres.ConnectionString, "same");
        Assert.Equal(JournalReader.ReadEvents(dir.Path, "same").Count, events.Count);
        Assert.Equal(Simulated.Fingerprint(dir.Path, "same"), Simulated.Fingerprint("same", events));
        Assert.Equal(18, Simulated.Fingerprint("same", events).Trials.Split('\n').Length);

        var again = await Assert.ThrowsAsync<SettingsException>(() => SearchRunner.RunAsync(pg, resume: false));
        Assert.Contains("already exists in the PostgreSQL journal", again.Message);
    }

    [Fact]
    public void MissingConnectionStringIsAClearError()
    {
        var e = Assert.Throws<JournalException>(() => PostgresJournal.ConnectionString(new JournalSettings { Provider = "postgresql" }, _ => null));
        Assert.Contains(PostgresJournal.ConnectionEnvironmentVariable, e.Message);
        var file = Assert.Throws<JournalException>(() => PostgresJournal.ConnectionString(new JournalSettings { Provider = "postgresql", ConnectionStringFile = "/nonexistent/pg.conn" }));
        Assert.Contains("/nonexistent/pg.conn", file.Message);
        Assert.Equal("Host=db;Username=u", PostgresJournal.ConnectionString(new JournalSettings { Provider = "postgresql" }, _ => "Host=db;Username=u"));
    }
}
