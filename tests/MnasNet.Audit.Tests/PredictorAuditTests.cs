using MnasNet.Actors.Backends;
using MnasNet.Actors.Settings;
using MnasNet.Cli;

namespace MnasNet.Audit.Tests;

/// <summary>One simulated search with a latency predictor (a quarter of each batch measured), run once for the class.</summary>
public sealed class PredictedJournal : IAsyncLifetime
{
    public TempDir Dir { get; } = new();

    public string Database { get; private set; } = "";

    public string Table { get; private set; } = "";

    public const string Id = "predicted";

    public async ValueTask InitializeAsync()
    {
        Table = await SimulatedTable.WriteAsync(Dir.File("sim-table.json"));
        var settings = Searches.Settings(Dir.Path, Id, strategy: "ppo-tabular", batchSize: 8, batches: 2, failureRate: 0.125);
        Database = await Searches.RunAsync(settings with { Latency = settings.Latency with { Predictor = $"table:{Table}", MeasureTop = 0.25 } });
    }

    public ValueTask DisposeAsync()
    {
        Dir.Dispose();
        return ValueTask.CompletedTask;
    }
}

public sealed class PredictorAuditTests(PredictedJournal journal) : IClassFixture<PredictedJournal>, IDisposable
{
    private readonly TempDir _dir = new();

    public void Dispose() => _dir.Dispose();

    private string CopyJournal() => Searches.Copy(journal.Database, _dir, PredictedJournal.Id);

    private async Task<AuditReport> Audit(string? table = null) => Auditor.Audit(
        await JournalQuery.ReadAsync(JournalSource.ForSearch(_dir.Path, PredictedJournal.Id), PredictedJournal.Id, cancellationToken: TestContext.Current.CancellationToken),
        new AuditOptions(Learning: false, TablePath: table));

    [Fact]
    public async Task A_clean_journal_verifies_its_selections_and_its_predictions_from_the_table()
    {
        CopyJournal();
        var report = await Audit();

        Assert.True(report.Verified, string.Join("\n", report.Divergences));
        var predictor = report.Predictor!;
        Assert.Equal(2, predictor.Selections);
        Assert.Equal(2, predictor.SelectionsVerified);
        Assert.True(predictor.Predictions >= 12, $"{predictor.Predictions} predictions");
        Assert.Equal(predictor.Predictions, predictor.PredictionsRecomputed);
        Assert.Contains("recomputed from table", predictor.Note, StringComparison.Ordinal);

        var r = await InProcessCli.RunAsync("replay", PredictedJournal.Id, "--journal-dir", _dir.Path, "--verify");
        Assert.True(r.ExitCode == ExitCodes.Success, r.Output + r.Error);
        Assert.Contains("predictor selections 2/2 re-derived", r.Output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Without_the_table_the_predictions_are_taken_as_journaled()
    {
        CopyJournal();
        var report = await Audit(_dir.File("elsewhere.json"));

        Assert.True(report.Verified, string.Join("\n", report.Divergences));
        Assert.Equal(0, report.Predictor!.PredictionsRecomputed);
        Assert.Contains("predictions taken as journaled", report.Predictor.Note, StringComparison.Ordinal);
        Assert.Contains("elsewhere.json", report.Predictor.Note, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_tampered_selection_is_a_divergence()
    {
        var db = CopyJournal();
        var (seq, _, payload) = Sql.Rows(db).First(x => x.Manifest == "measure-selected.v1");
        var ranked = payload["ranked"]!.AsArray().Select(r => (long)r!["trialId"]!).ToList();
        var chosen = payload["chosen"]!.AsArray().Select(c => (long)c!).ToList();
        // The worst-ranked trial measured in place of the best one.
        Sql.RewritePayload(db, seq, p => p["chosen"] = new System.Text.Json.Nodes.JsonArray([.. chosen.Where(c => c != ranked[0]).Append(ranked[^1]).Order().Select(c => (System.Text.Json.Nodes.JsonNode)c)]));

        var report = await Audit();

        var d = Assert.Single(report.Divergences, x => x.Kind == "measure-selected");
        Assert.Equal(seq, d.SequenceNr);
        Assert.Contains($"chosen {string.Join(", ", chosen)}", d.Expected, StringComparison.Ordinal);
        var r = await InProcessCli.RunAsync("replay", PredictedJournal.Id, "--journal-dir", _dir.Path);
        Assert.Equal(ExitCodes.VerificationFailed, r.ExitCode);
    }

    [Fact]
    public async Task A_reward_computed_with_the_wrong_latency_is_a_divergence()
    {
        var db = CopyJournal();
        var rows = Sql.Rows(db);
        var chosen = (long)rows.First(x => x.Manifest == "measure-selected.v1").Payload["chosen"]![0]!;
        var predictedMs = (double)rows.First(x => x.Manifest == "latency-predicted.v1" && (long)x.Payload["trialId"]! == chosen).Payload["predictedMs"]!;
        var (seq, _, payload) = rows.First(x => x.Manifest == "reward-computed.v1" && (long)x.Payload["trialId"]! == chosen);
        var inputs = payload["inputs"]!;
        // A consistent reward of the chosen trial's predicted latency: only the selection says it had to be measured.
        var wrong = MnasNetReward.Compute((double)inputs["accuracy"]!, predictedMs, (double)inputs["targetMs"]!, (double)inputs["alpha"]!, (double)inputs["beta"]!, false);
        Sql.RewritePayload(db, seq, p =>
        {
            var i = p["inputs"]!;
            i["latencyMs"] = wrong.LatencyMs;
            i["exponent"] = wrong.Exponent;
            i["reward"] = wrong.Reward;
            i["latencySource"] = "predicted";
        });

        var report = await Audit();

        var d = Assert.Single(report.Divergences, x => x.Kind == "reward-computed");
        Assert.Equal(seq, d.SequenceNr);
        Assert.Equal(chosen, d.TrialId);
        Assert.Contains("the measured latency", d.Expected, StringComparison.Ordinal);
        Assert.Contains("the predicted latency", d.Found, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_changed_prediction_is_a_divergence_when_the_table_is_at_hand()
    {
        var db = CopyJournal();
        var (seq, _, payload) = Sql.Rows(db).Last(x => x.Manifest == "latency-predicted.v1");
        Sql.RewritePayload(db, seq, p => p["predictedMs"] = (double)p["predictedMs"]! * 0.5);

        var report = await Audit(journal.Table);

        var d = Assert.Single(report.Divergences, x => x.Kind == "latency-predicted");
        Assert.Equal(seq, d.SequenceNr);
        Assert.Equal((long)payload["trialId"]!, d.TrialId);
    }
}
