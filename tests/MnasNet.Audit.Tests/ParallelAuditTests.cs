namespace MnasNet.Audit.Tests;

/// <summary>A PPO search of eight updates, each journaling its policy state: enough to split the learning audit into several stretches.</summary>
public sealed class EightUpdateJournal : IAsyncLifetime
{
    public TempDir Dir { get; } = new();

    public string Database { get; private set; } = "";

    public const string Id = "eight-updates";

    public async ValueTask InitializeAsync() =>
        Database = await Searches.RunAsync(Searches.Settings(Dir.Path, Id, batchSize: 3, batches: 8, failureRate: 0.1, policyStateEvery: 1));

    public ValueTask DisposeAsync()
    {
        Dir.Dispose();
        return ValueTask.CompletedTask;
    }
}

public sealed class ParallelAuditTests(EightUpdateJournal journal) : IClassFixture<EightUpdateJournal>, IDisposable
{
    private readonly TempDir _dir = new();

    public void Dispose() => _dir.Dispose();

    private async Task<AuditReport> AuditAsync(int parallelism) =>
        Auditor.Audit(await JournalQuery.ReadAsync(JournalSource.ForSearch(_dir.Path, EightUpdateJournal.Id), EightUpdateJournal.Id, cancellationToken: TestContext.Current.CancellationToken),
            new AuditOptions(Parallelism: parallelism));

    [Fact]
    public async Task Stretches_audited_at_once_give_the_report_of_one_pass()
    {
        Searches.Copy(journal.Database, _dir, EightUpdateJournal.Id);
        var one = await AuditAsync(1);
        var three = await AuditAsync(3);

        Assert.True(one.Verified, string.Join("\n", one.Divergences));
        Assert.Equal(8, one.Totals.UpdatesVerified);
        Assert.Equal(1, one.LearningStretches);
        Assert.Equal(3, three.LearningStretches);
        Assert.Equal(one.Totals, three.Totals);
        Assert.Equal(one.Platform, three.Platform);
        Assert.Equal(one.Rows.Select(r => (r.TrialId, r.LearningVerified)), three.Rows.Select(r => (r.TrialId, r.LearningVerified)));
    }

    [Fact]
    public async Task A_divergence_in_a_later_stretch_is_reported_as_one_pass_reports_it()
    {
        var db = Searches.Copy(journal.Database, _dir, EightUpdateJournal.Id);
        var (seq, _, _) = Sql.Rows(db).Where(x => x.Manifest == "batch-sampled.v1").ElementAt(6);
        Sql.RewritePayload(db, seq, p => p["trials"]![1]!["logProb"] = (double)p["trials"]![1]!["logProb"]! - 1e-9);

        var one = await AuditAsync(1);
        var four = await AuditAsync(4);

        Assert.False(one.Verified);
        Assert.Equal(seq, Assert.Single(one.Divergences).SequenceNr);
        Assert.Equal(4, four.LearningStretches);
        Assert.Equal(one.Divergences, four.Divergences);
        Assert.Equal(6, four.Totals.UpdatesVerified);
        Assert.Equal(6, four.Totals.BatchesSampleVerified);
        Assert.Equal(one.Totals, four.Totals);
        Assert.Equal(one.Rows.Select(r => (r.TrialId, r.LearningVerified)), four.Rows.Select(r => (r.TrialId, r.LearningVerified)));
    }

    [Fact]
    public async Task With_states_journaled_every_second_update_stretches_start_at_them_and_re_run_the_updates_between()
    {
        var database = await Searches.RunAsync(Searches.Settings(_dir.Path, "every-second", batchSize: 3, batches: 8, failureRate: 0.1, policyStateEvery: 2));
        Assert.Equal(4, Sql.Rows(database).Count(x => x.Manifest == "policy-updated.v1" && x.Payload["policy"] is not null));
        var facts = await JournalQuery.ReadAsync(JournalSource.ForSearch(_dir.Path, "every-second"), "every-second", cancellationToken: TestContext.Current.CancellationToken);
        var one = Auditor.Audit(facts, new AuditOptions(Parallelism: 1));
        var two = Auditor.Audit(facts, new AuditOptions(Parallelism: 2));

        Assert.True(one.Verified, string.Join("\n", one.Divergences));
        Assert.Equal(8, one.Totals.UpdatesVerified);
        Assert.Equal(2, two.LearningStretches);
        Assert.Equal(one.Totals, two.Totals);
        Assert.Equal(one.Platform, two.Platform);
    }
}
