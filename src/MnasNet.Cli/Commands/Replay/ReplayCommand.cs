using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using MnasNet.Actors.Journal;
using MnasNet.Audit;
using MnasNet.Cli.Commands.Search;

namespace MnasNet.Cli.Commands.Replay;

/// <summary>
/// <c>mnasnet replay ID [--verify] [--what-if key=value …] [--json] [--report FILE]</c>: reads the journal read-only
/// (also while the search runs), recomputes every reward bit for bit and, with --verify, re-runs the policy and
/// checks every batch and parameter hash. Exit 0 only when everything verifies, 6 on any mismatch.
/// </summary>
public sealed class ReplayCommand : SearchCliCommand
{
    private static readonly JsonSerializerOptions ReportJson = new(Json) { NumberHandling = System.Text.Json.Serialization.JsonNumberHandling.AllowNamedFloatingPointLiterals };

    private readonly Argument<string> _id = IdArgument();
    private readonly JournalOptions _journal = new(withSqliteFile: true);
    private readonly Option<bool> _verify = new("--verify") { Description = "Also verify learning: re-run the policy from its journaled initial state; every batch and parameter hash must match." };
    private readonly Option<bool> _fromSnapshot = new("--from-snapshot") { Description = "With --verify: start the policy from the latest snapshot instead of the beginning (faster, checks only later batches)." };
    private readonly Option<string[]> _whatIf = new("--what-if") { Description = "Re-score under other reward settings: reward=soft|hard, alpha=, beta=, target-ms=, device= (repeatable).", AllowMultipleArgumentsPerToken = true };
    private readonly Option<int> _top = new("--top") { Description = "Top-k size for what-if.", DefaultValueFactory = _ => 10 };
    private readonly Option<int> _rows = new("--rows") { Description = "Decision rows printed in text mode (all rows go to --json and --report).", DefaultValueFactory = _ => 50 };
    private readonly Option<bool> _json = new("--json") { Description = "Print the whole report as JSON." };
    private readonly Option<string?> _report = new("--report") { Description = "Write the whole report (every decision row) as JSON to this file." };
    private readonly Option<string?> _keyFile = new("--key-file") { Description = $"With --verify: the key of an HMAC-chained journal (default: ${Actors.Journal.JournalChain.KeyVariable}). Never give the key itself on the command line." };
    private readonly Option<string?> _table = new("--table") { Description = "A search with a latency predictor: the lookup table to recompute its predictions from (default: the file search-started names)." };
    private readonly Option<double> _tolerance = new("--tolerance") { Description = "With --verify: largest parameter / log-probability difference accepted for updates written on another platform.", DefaultValueFactory = _ => LearningAudit.DefaultTolerance };

    public ReplayCommand() : base("replay", "Audit a search from its journal: recompute every reward, re-run every policy update (--verify), what-if re-scoring.")
    {
        Arguments.Add(_id);
        _journal.AddTo(this);
        Options.Add(_verify);
        Options.Add(_fromSnapshot);
        Options.Add(_whatIf);
        Options.Add(_top);
        Options.Add(_rows);
        Options.Add(_json);
        Options.Add(_report);
        Options.Add(_keyFile);
        Options.Add(_tolerance);
        Options.Add(_table);
    }

    public sealed record ReplayOutput(AuditReport Audit, WhatIfReport? WhatIf, ReplayTimings Timings)
    {
        /// <summary>The finalists of train-final as the journal tells them (absent from the JSON without them).</summary>
        [System.Text.Json.Serialization.JsonIgnore(Condition = System.Text.Json.Serialization.JsonIgnoreCondition.WhenWritingNull)]
        public IReadOnlyList<Actors.State.FinalistSummary>? Finalists { get; init; }

        [System.Text.Json.Serialization.JsonIgnore(Condition = System.Text.Json.Serialization.JsonIgnoreCondition.WhenWritingNull)]
        public double? ProxyFidelityTau { get; init; }

        [System.Text.Json.Serialization.JsonIgnore]
        public Actors.State.SearchSummary? Summary { get; init; }
    }

    public sealed record ReplayTimings(double ReadSeconds, double AuditSeconds, double WhatIfSeconds);

    protected override async Task<int> ExecuteAsync(ParseResult parseResult, TextWriter output, CancellationToken cancellationToken)
    {
        var id = parseResult.GetValue(_id)!;
        var verify = parseResult.GetValue(_verify);
        var whatIfPairs = parseResult.GetValue(_whatIf) ?? [];
        var change = whatIfPairs.Length > 0 ? WhatIfSettings.Parse(whatIfPairs) : null;
        if (parseResult.GetValue(_fromSnapshot) && !verify)
        {
            throw new CliInputException("--from-snapshot starts learning verification: use it with --verify");
        }
        if (parseResult.GetValue(_top) < 1)
        {
            throw new CliInputException($"--top must be at least 1, got {parseResult.GetValue(_top)}");
        }
        if (parseResult.GetValue(_tolerance) is var tolerance && !(tolerance >= 0 && double.IsFinite(tolerance)))
        {
            throw new CliInputException($"--tolerance must be a finite number ≥ 0, got {tolerance}");
        }
        byte[]? key;
        try
        {
            key = Actors.Journal.JournalChain.LoadKey(parseResult.GetValue(_keyFile));
        }
        catch (Actors.Journal.JournalKeyException e)
        {
            throw new CliInputException(e.Message);
        }
        var clock = Stopwatch.StartNew();
        var read = await JournalQuery.ReadAsync(_journal.Resolve(parseResult).Source(id), id, withSnapshot: verify, cancellationToken);
        var readSeconds = clock.Elapsed.TotalSeconds;
        clock.Restart();
        var audit = Auditor.Audit(read, new AuditOptions(Learning: verify, FromSnapshot: parseResult.GetValue(_fromSnapshot), ChainKey: key, Tolerance: tolerance, TablePath: parseResult.GetValue(_table)));
        var auditSeconds = clock.Elapsed.TotalSeconds;
        clock.Restart();
        var whatIf = change is null ? null : MnasNet.Audit.WhatIf.Run(read, change, parseResult.GetValue(_top));
        var summary = Actors.State.SearchSummary.From(id, read.Records);
        var result = new ReplayOutput(audit, whatIf, new ReplayTimings(readSeconds, auditSeconds, clock.Elapsed.TotalSeconds))
        {
            Finalists = summary.Finalists.Count > 0 ? summary.Finalists : null,
            ProxyFidelityTau = summary.ProxyFidelityTau is { } tau && double.IsFinite(tau) ? tau : null,
            Summary = summary,
        };

        if (parseResult.GetValue(_report) is { Length: > 0 } reportPath)
        {
            await File.WriteAllTextAsync(reportPath, JsonSerializer.Serialize(result, ReportJson), cancellationToken);
        }
        if (parseResult.GetValue(_json))
        {
            await output.WriteLineAsync(JsonSerializer.Serialize(result, ReportJson));
        }
        else
        {
            await WriteTextAsync(output, result, parseResult.GetValue(_rows));
        }
        return audit.Verified ? ExitCodes.Success : ExitCodes.VerificationFailed;
    }

    private static async Task WriteTextAsync(TextWriter o, ReplayOutput result, int maxRows)
    {
        var a = result.Audit;
        var t = a.Totals;
        var inv = CultureInfo.InvariantCulture;
        await o.WriteLineAsync(string.Create(inv, $"replay of search {a.SearchId} ({a.Strategy}, {a.Status}): {t.Events} events, {t.Trials} trials, {t.Batches} batches"));
        await o.WriteLineAsync(string.Create(inv, $"  rewards   {t.RewardsVerified}/{t.Rewarded} recomputed bit for bit ({t.Failed} failed trials, {t.Pending} pending)"));
        await o.WriteLineAsync(a.LearningChecked
            ? string.Create(inv, $"  learning  {t.BatchesSampleVerified}/{t.Batches} batches re-sampled, {t.UpdatesVerified}/{t.Updates} updates reproduced{(a.LearningStretches > 1 ? $" ({a.LearningStretches} stretches re-run at once)" : "")}; start: {a.LearningStart}")
            : "  learning  not checked (add --verify to re-run the policy)");
        if (a.LearningChecked && a.Platform is { } platform)
        {
            await o.WriteLineAsync($"  platform  {platform.Describe()}");
        }
        if (a.Chain is { } chain)
        {
            await o.WriteLineAsync($"  chain     {chain.Describe()}");
        }
        if (a.Predictor is { } predictor)
        {
            await o.WriteLineAsync(string.Create(inv, $"  predictor selections {predictor.SelectionsVerified}/{predictor.Selections} re-derived (top {predictor.Fraction:G4} by predicted reward); {predictor.PredictionsRecomputed}/{predictor.Predictions} predictions recomputed; {predictor.Note}"));
        }
        await o.WriteLineAsync(string.Create(inv, $"  journal   {(t.Gaps == 0 ? "no gaps" : $"{t.Gaps} gap(s) in the sequence numbers")}"));
        await o.WriteLineAsync(string.Create(inv, $"  time      read {result.Timings.ReadSeconds:F2} s, audit {result.Timings.AuditSeconds:F2} s"));
        await o.WriteLineAsync();
        await o.WriteLineAsync($"{"trial",6} {"batch",5} {"architecture",-18} {"ACC",8} {"LAT ms",9} {"T ms",7} {"w",6} {"reward",8} {"advantage",9} {"rank",4} verified");
        foreach (var r in a.Rows.Take(maxRows))
        {
            var verified = r.Pending ? "pending" : r.Verified ? (r.LearningVerified is null ? "reward" : "yes") : "NO";
            await o.WriteLineAsync(string.Create(inv,
                $"{r.TrialId,6} {r.Batch,5} {Short(r.ArchitectureId),-18} {N(r.Accuracy, "F4"),8} {N(r.LatencyMs, "F3"),9} {N(r.TargetMs, "G4"),7} {N(r.Exponent, "G3"),6} {N(r.Reward, "F4"),8} {N(r.Advantage, "F3"),9} {r.RankInBatch?.ToString(inv) ?? "-",4} {verified}{(r.Failed ? " (failed)" : "")}"));
        }
        if (a.Rows.Count > maxRows)
        {
            await o.WriteLineAsync(string.Create(inv, $"… {a.Rows.Count - maxRows} more rows (--rows N, --json or --report FILE for all)"));
        }
        await o.WriteLineAsync();
        if (a.Verified)
        {
            await o.WriteLineAsync(a.LearningChecked ? "VERIFIED: every reward and every policy update reproduces from the journal" : "VERIFIED: every reward reproduces from its journaled inputs (learning not checked)");
        }
        else if (a.Divergences.Count == 0 && a.Chain?.Break is { } broken)
        {
            await o.WriteLineAsync($"NOT VERIFIED: the hash chain is broken; first broken link: {broken}");
        }
        else
        {
            await o.WriteLineAsync(string.Create(inv, $"NOT VERIFIED: {a.Divergences.Count} divergence(s); first diverging event: {a.FirstDivergence}"));
            foreach (var d in a.Divergences.Skip(1).Take(9))
            {
                await o.WriteLineAsync($"  also: {d}");
            }
            if (a.Chain?.Break is { } alsoBroken)
            {
                await o.WriteLineAsync($"  also: hash chain broken at {alsoBroken}");
            }
        }
        if (result.Finalists is not null && result.Summary is { } summary)
        {
            await o.WriteLineAsync();
            await o.WriteLineAsync($"finalists (train-final), {summary.Finalists.Count}:");
            await Search.FinalTable.WriteAsync(o, summary);
        }
        if (result.WhatIf is { } w)
        {
            await o.WriteLineAsync();
            await o.WriteLineAsync(string.Create(inv, $"what-if: {w.Journaled}  →  {w.WhatIf} ({w.Trials} trials)"));
            await o.WriteLineAsync(string.Create(inv, $"  Kendall τ between the old and new rankings: {w.KendallTau:F4}"));
            await o.WriteLineAsync(string.Create(inv, $"  advantage changes sign for {w.AdvantageSignChanges.Count} trial(s){(w.AdvantageSignChanges.Count > 0 ? ": " + string.Join(", ", w.AdvantageSignChanges.Take(20).Select(x => x.TrialId)) + (w.AdvantageSignChanges.Count > 20 ? ", …" : "") : "")}"));
            await o.WriteLineAsync($"  {"new",4} {"old",4} {"trial",6} {"architecture",-18} {"ACC",8} {"LAT ms",9} {"old reward",10} {"new reward",10}");
            foreach (var x in w.NewTop)
            {
                await o.WriteLineAsync(string.Create(inv, $"  {x.NewRank,4} {x.OldRank,4} {x.TrialId,6} {Short(x.ArchitectureId),-18} {N(x.Accuracy, "F4"),8} {N(x.LatencyMs, "F3"),9} {x.OldReward,10:F4} {x.NewReward,10:F4}"));
            }
        }
    }

    private static string Short(string id) => id.Length <= 18 ? id : id[..17] + "…";

    private static string N(double? v, string format) => v?.ToString(format, CultureInfo.InvariantCulture) ?? "-";

    protected override int? ExitCodeFor(Exception e) => e switch
    {
        UnreadableEventException or AuditInputException => ExitCodes.InvalidInput,
        UnauthorizedAccessException => ExitCodes.InvalidInput,
        _ => base.ExitCodeFor(e),
    };
}
