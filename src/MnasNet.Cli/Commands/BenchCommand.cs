using System.CommandLine;
using System.Globalization;
using MnasNet.Bench;
using MnasNet.Controller;
using MnasNet.Torch;

namespace MnasNet.Cli.Commands;

/// <summary><c>mnasnet bench …</c>: throughput figures (speed goals live here, not in timed tests).</summary>
public sealed class BenchCommand : Command
{
    public BenchCommand() : base("bench", "Measure throughput and print the figures.")
    {
        Subcommands.Add(new BenchControllerCommand());
        Subcommands.Add(new Search.BenchClusterCommand());
    }
}

/// <summary>
/// <c>mnasnet bench controller</c>: the strategy benchmark suite (every strategy on every objective family and reward
/// preset, several budgets and seeds: best reward and regret, a PNG of best-so-far curves), or with
/// <c>--throughput</c> the controller's samples/s and PPO updates/s.
/// </summary>
public sealed class BenchControllerCommand : CliCommand
{
    private const string FontFile = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf";

    private readonly Option<bool> _throughput = new("--throughput") { Description = "Measure sampling and PPO-update throughput instead of search quality." };
    private readonly Option<bool> _quick = new("--quick") { Description = "CI-sized suite: two families, budgets 48 and 96, two seeds (explicit options still apply)." };
    private readonly Option<string[]> _strategies = new("--strategies") { Description = $"Strategies to compare (default: {string.Join(", ", SearchStrategies.Compared)}).", AllowMultipleArgumentsPerToken = true };
    private readonly Option<string[]> _families = new("--families") { Description = $"Objective families (default: {string.Join(", ", ObjectiveFamilies.All)}).", AllowMultipleArgumentsPerToken = true };
    private readonly Option<string[]> _rewards = new("--rewards") { Description = "Reward presets: soft, hard (default: both).", AllowMultipleArgumentsPerToken = true };
    private readonly Option<int[]> _budgets = new("--budgets") { Description = "Budgets in architectures (default: 250 500 1000 2000).", AllowMultipleArgumentsPerToken = true };
    private readonly Option<int?> _seeds = new("--seeds") { Description = "Strategy seeds 1..N per cell (default 5)." };
    private readonly Option<int> _batch = new("--batch") { Description = "Architectures per batch (suite: per Observe / PPO update; throughput: per sampling call and update).", DefaultValueFactory = _ => 16 };
    private readonly Option<double> _targetMs = new("--target-ms") { Description = "Target latency T in ms.", DefaultValueFactory = _ => 75.0 };
    private readonly Option<int> _parallel = new("--parallel") { Description = "Runs in parallel (default: the number of cores).", DefaultValueFactory = _ => Environment.ProcessorCount };
    private readonly Option<string[]> _ppo = new("--ppo") { Description = "Override a PPO controller option, Name=value (e.g. LearningRate=0.03, Advantage=rank); repeatable." };
    private readonly Option<string[]> _evolution = new("--evolution") { Description = "Override an evolution option, Name=value (PopulationSize, SampleSize); repeatable." };
    private readonly Option<string[]> _tpe = new("--tpe") { Description = "Override a TPE option, Name=value (StartupTrials, Candidates, GammaFraction, MaxGood, PriorWeight); repeatable." };
    private readonly Option<string?> _out = new("--out") { Description = "Directory for controller-bench.json and controller-bench.png (default: ./controller-bench)." };
    private readonly Option<int> _sampleBatches = new("--sample-batches") { Description = "Throughput: timed sampling calls.", DefaultValueFactory = _ => 20 };
    private readonly Option<int> _updates = new("--updates") { Description = "Throughput: timed PPO updates.", DefaultValueFactory = _ => 10 };
    private readonly Option<int> _threads = new("--threads") { Description = "Throughput: the controller's threads (libtorch intra-op threads, or the managed engine's).", DefaultValueFactory = _ => 1 };
    private readonly Option<string?> _engine = new("--engine") { Description = $"Engine of strategy ppo: {string.Join(" or ", ControllerEngines.All)} (suite default: managed; throughput default: both)." };
    private readonly Option<bool> _json = new("--json") { Description = "Print JSON." };
    private readonly Option<double?> _warmStartFrom = new("--warm-start-from-ms") { Description = "Warm-start mode: each strategy first searches at this target (ms), then at --target-ms cold and warm-started from that run (as search --warm-start); prints the best reward of both and the budget the warm run needs to reach the cold run's best." };
    private readonly Option<int?> _sourceBudget = new("--source-budget") { Description = "Warm-start mode: architectures of the source run (default: the largest budget)." };

    public BenchControllerCommand() : base("controller", "Compare search strategies on a suite of objectives with known optima (best reward and regret per budget, best-so-far curves); --throughput for samples/s and PPO updates/s.")
    {
        _rewards.AcceptOnlyFromAmong("soft", "hard");
        foreach (var option in new Option[] { _throughput, _quick, _strategies, _families, _rewards, _budgets, _seeds, _batch, _targetMs, _parallel, _ppo, _evolution, _tpe, _out, _sampleBatches, _updates, _threads, _engine, _json, _warmStartFrom, _sourceBudget })
        {
            Options.Add(option);
        }
    }

    protected override int? ExitCodeFor(Exception e) => e switch
    {
        ControllerException => ExitCodes.InvalidInput,
        TorchLoadException => ExitCodes.Failure,
        _ => base.ExitCodeFor(e),
    };

    protected override Task<int> ExecuteAsync(ParseResult parseResult, TextWriter output, CancellationToken cancellationToken) =>
        parseResult.GetValue(_throughput) ? ThroughputAsync(parseResult, output, cancellationToken) : SuiteAsync(parseResult, output, cancellationToken);

    private async Task<int> SuiteAsync(ParseResult parseResult, TextWriter output, CancellationToken cancellationToken)
    {
        var settings = parseResult.GetValue(_quick) ? SuiteSettings.Quick : SuiteSettings.Full;
        if (parseResult.GetValue(_strategies) is { Length: > 0 } strategies)
        {
            settings = settings with { Strategies = strategies };
        }
        if (parseResult.GetValue(_families) is { Length: > 0 } families)
        {
            settings = settings with { Families = families };
        }
        if (parseResult.GetValue(_rewards) is { Length: > 0 } rewards)
        {
            settings = settings with { Presets = rewards.Select(LatencyTarget.ParsePreset).Distinct().ToArray() };
        }
        if (parseResult.GetValue(_budgets) is { Length: > 0 } budgets)
        {
            settings = settings with { Budgets = budgets.Distinct().Order().ToArray() };
        }
        if (parseResult.GetValue(_seeds) is { } seeds)
        {
            settings = settings with { Seeds = seeds };
        }
        settings = settings with
        {
            Batch = parseResult.GetValue(_batch),
            TargetMs = parseResult.GetValue(_targetMs),
            Parallelism = parseResult.GetValue(_parallel),
            Ppo = OptionOverrides.Apply(ControllerOptions.Default with { Engine = Engine(parseResult) ?? ControllerEngines.Managed }, parseResult.GetValue(_ppo), "--ppo"),
            Evolution = OptionOverrides.Apply(EvolutionOptions.Default, parseResult.GetValue(_evolution), "--evolution"),
            Tpe = OptionOverrides.Apply(TpeOptions.Default, parseResult.GetValue(_tpe), "--tpe"),
        };
        var outDir = parseResult.GetValue(_out) ?? "controller-bench";
        var json = parseResult.GetValue(_json);
        var log = json ? TextWriter.Null : output;
        if (parseResult.GetValue(_warmStartFrom) is { } sourceTargetMs)
        {
            if (parseResult.GetValue(_strategies) is not { Length: > 0 })
            {
                settings = settings with { Strategies = [.. SearchStrategies.Compared.Where(x => WarmStarts.KindOf(x) is not null)] };
            }
            var warm = await Task.Run(() => WarmStartSuite.Execute(settings, sourceTargetMs, parseResult.GetValue(_sourceBudget), m => log.WriteLine(m), cancellationToken), cancellationToken);
            Directory.CreateDirectory(outDir);
            var warmPath = Path.Combine(outDir, "controller-warm-start.json");
            await File.WriteAllTextAsync(warmPath, System.Text.Json.JsonSerializer.Serialize(warm, Json), cancellationToken);
            if (json)
            {
                await WriteJsonAsync(output, warm);
                return ExitCodes.Success;
            }
            foreach (var line in ControllerSuiteTable.Lines(warm))
            {
                await output.WriteLineAsync(line);
            }
            await output.WriteLineAsync($"written: {warmPath}");
            return ExitCodes.Success;
        }
        settings.Validate();
        var result = await Task.Run(() => ControllerSuite.Execute(settings, m => log.WriteLine(m), cancellationToken), cancellationToken);
        Directory.CreateDirectory(outDir);
        var jsonPath = Path.Combine(outDir, "controller-bench.json");
        var pngPath = Path.Combine(outDir, "controller-bench.png");
        await File.WriteAllTextAsync(jsonPath, System.Text.Json.JsonSerializer.Serialize(result, Json), cancellationToken);
        ControllerBenchPlot.Save(result, pngPath, File.Exists(FontFile) ? FontFile : null);
        if (json)
        {
            await WriteJsonAsync(output, result);
            return ExitCodes.Success;
        }
        foreach (var line in ControllerSuiteTable.Lines(result))
        {
            await output.WriteLineAsync(line);
        }
        await output.WriteLineAsync($"written: {jsonPath}, {pngPath}");
        return ExitCodes.Success;
    }

    private string? Engine(ParseResult parseResult) => parseResult.GetValue(_engine) switch
    {
        null => null,
        var e when ControllerEngines.All.Contains(e) => e,
        var e => throw new CliInputException($"--engine must be one of {string.Join(", ", ControllerEngines.All)}, got '{e}'"),
    };

    private async Task<int> ThroughputAsync(ParseResult parseResult, TextWriter output, CancellationToken cancellationToken)
    {
        var batch = parseResult.GetValue(_batch);
        if (batch is < 1 or > 100_000)
        {
            throw new CliInputException($"--batch must be between 1 and 100000, got {batch}");
        }
        var engines = Engine(parseResult) is { } engine ? [engine] : ControllerEngines.All;
        var results = new List<ControllerBenchmarkResult>();
        foreach (var name in engines)
        {
            var options = (ControllerOptions.Default with { Threads = parseResult.GetValue(_threads), Engine = name }).Validate();
            results.Add(await Task.Run(() => ControllerBenchmark.Run(options, batch, parseResult.GetValue(_sampleBatches), parseResult.GetValue(_updates)), cancellationToken));
        }
        if (parseResult.GetValue(_json))
        {
            await WriteJsonAsync(output, results);
            return ExitCodes.Success;
        }
        var inv = CultureInfo.InvariantCulture;
        foreach (var r in results)
        {
            var o = r.Options;
            var runtime = o.Engine == ControllerEngines.Libtorch ? $"libtorch {TorchRuntime.LibTorchVersion}" : "managed (exact arithmetic)";
            await output.WriteLineAsync(string.Create(inv, $"controller [{o.Engine}]: {o.LstmLayers}-layer LSTM, {o.HiddenSize} hidden, {o.EmbeddingSize} embedding, {r.ParameterCount:N0} parameters, {o.Threads} thread(s), {runtime}"));
            await output.WriteLineAsync(string.Create(inv, $"  sampling: {r.SamplesPerSecond:F0} architectures/s (batches of {r.Batch}, {r.SampleBatches} timed calls; {r.CpuMillisecondsPerSampleBatch:F1} ms CPU per call)"));
            await output.WriteLineAsync(string.Create(inv, $"  ppo update: {r.UpdatesPerSecond:F2} updates/s, {r.MillisecondsPerUpdate:F1} ms each, {r.CpuMillisecondsPerUpdate:F1} ms CPU (batch {r.Batch}, {o.Epochs} epochs, {r.Updates} timed)"));
        }
        if (results.Count == 2)
        {
            await output.WriteLineAsync(string.Create(inv, $"managed / libtorch speed-up, wall (CPU): sampling {results[0].SamplesPerSecond / results[1].SamplesPerSecond:F1}x ({results[1].CpuMillisecondsPerSampleBatch / results[0].CpuMillisecondsPerSampleBatch:F1}x), update {results[1].MillisecondsPerUpdate / results[0].MillisecondsPerUpdate:F1}x ({results[1].CpuMillisecondsPerUpdate / results[0].CpuMillisecondsPerUpdate:F1}x)"));
        }
        return ExitCodes.Success;
    }
}

/// <summary>Applies Name=value assignments to an options record through its JSON form (so every property is settable).</summary>
internal static class OptionOverrides
{
    public static T Apply<T>(T defaults, string[]? assignments, string option)
    {
        if (assignments is not { Length: > 0 })
        {
            return defaults;
        }
        var node = System.Text.Json.JsonSerializer.SerializeToNode(defaults)!.AsObject();
        foreach (var assignment in assignments)
        {
            var eq = assignment.IndexOf('=', StringComparison.Ordinal);
            var name = eq > 0 ? assignment[..eq] : throw new CliInputException($"{option} {assignment}: expected Name=value");
            var text = assignment[(eq + 1)..];
            var key = node.Select(kv => kv.Key).FirstOrDefault(k => string.Equals(k, name, StringComparison.OrdinalIgnoreCase))
                ?? throw new CliInputException($"{option} {name}: unknown option (known: {string.Join(", ", node.Select(kv => kv.Key))})");
            node[key] = node[key]?.GetValueKind() switch
            {
                System.Text.Json.JsonValueKind.Number => double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var d)
                    ? System.Text.Json.Nodes.JsonValue.Create(d)
                    : throw new CliInputException($"{option} {name}={text}: not a number"),
                System.Text.Json.JsonValueKind.True or System.Text.Json.JsonValueKind.False => bool.TryParse(text, out var b)
                    ? System.Text.Json.Nodes.JsonValue.Create(b)
                    : throw new CliInputException($"{option} {name}={text}: expected true or false"),
                _ => System.Text.Json.Nodes.JsonValue.Create(text),
            };
        }
        try
        {
            return System.Text.Json.JsonSerializer.Deserialize<T>(node) ?? defaults;
        }
        catch (System.Text.Json.JsonException e)
        {
            throw new CliInputException($"{option}: {e.Message}");
        }
    }
}

/// <summary>The suite's table: per problem and budget, one row per strategy (mean ± sd over seeds).</summary>
internal static class ControllerSuiteTable
{
    public static IEnumerable<string> Lines(WarmStartSuiteResult result)
    {
        var inv = CultureInfo.InvariantCulture;
        var s = result.Settings;
        yield return string.Create(inv, $"warm start: source runs of {result.SourceBudget} architectures at T = {result.SourceTargetMs} ms, then T = {s.TargetMs} ms cold and warm; {s.Seeds} seeds, batch {s.Batch}, {result.Seconds:F0} s");
        yield return "";
        yield return "| family | reward | strategy | budget N | cold best at N | warm best at N | warm budget to cold best at N (seeds reaching it) |";
        yield return "|---|---|---|---|---|---|---|";
        foreach (var c in result.Cells)
        {
            var needed = c.Reached == 0 ? $"> {s.MaxBudget} (0/{c.Seeds})" : string.Create(inv, $"{c.BudgetToColdBestMean:F0} ± {c.BudgetToColdBestSd:F0} ({c.Reached}/{c.Seeds})");
            yield return string.Create(inv, $"| {c.Family} | {c.Preset.ToString().ToLowerInvariant()} | {c.Strategy} | {c.Budget} | {c.ColdMean:F4} ± {c.ColdSd:F4} | {c.WarmMean:F4} ± {c.WarmSd:F4} | {needed} |");
        }
    }

    public static IEnumerable<string> Lines(SuiteResult result)
    {
        var inv = CultureInfo.InvariantCulture;
        var s = result.Settings;
        yield return string.Create(inv, $"controller suite: {s.Seeds} seeds, batch {s.Batch}, T = {s.TargetMs} ms, {result.Seconds:F0} s");
        yield return "";
        yield return "| family | reward | optimum | budget | " + string.Join(" | ", s.Strategies.Select(x => $"{x} best (regret)")) + " |";
        yield return "|---|---|---|---|" + string.Concat(s.Strategies.Select(_ => "---|"));
        foreach (var group in result.Cells.GroupBy(c => (c.Family, c.Preset, c.Budget)))
        {
            var cells = s.Strategies.Select(x => group.First(c => c.Strategy == x)).ToArray();
            var bestMean = cells.Max(c => c.MeanBest);
            var row = cells.Select(c => string.Create(inv, $"{(c.MeanBest == bestMean ? "**" : "")}{c.MeanBest:F4} ± {c.SdBest:F4}{(c.MeanBest == bestMean ? "**" : "")} ({c.MeanRegret:F4} ± {c.SdRegret:F4})"));
            yield return string.Create(inv, $"| {group.Key.Family} | {group.Key.Preset.ToString().ToLowerInvariant()} | {cells[0].Optimum:F4} | {group.Key.Budget} | {string.Join(" | ", row)} |");
        }
    }
}

/// <summary>One panel per problem (family × preset): mean best-so-far reward per strategy, with the optimum as a line.</summary>
internal static class ControllerBenchPlot
{
    public static void Save(SuiteResult result, string path, string? fontFile)
    {
        const string font = "DejaVu Sans";
        if (fontFile is not null)
        {
            ScottPlot.Fonts.AddFontFile(font, fontFile);
        }
        var problems = result.Curves.Select(c => (c.Family, c.Preset)).Distinct().ToArray();
        var columns = Math.Min(problems.Length, result.Settings.Presets.Count);
        var rows = (problems.Length + columns - 1) / columns;
        var multiplot = new ScottPlot.Multiplot();
        ScottPlot.IMultiplotExtensions.AddPlots(multiplot, problems.Length);
        multiplot.Layout = new ScottPlot.MultiplotLayouts.Grid(rows, columns);
        for (var i = 0; i < problems.Length; i++)
        {
            var (family, preset) = problems[i];
            var plot = ScottPlot.IMultiplotExtensions.GetPlot(multiplot, i);
            if (fontFile is not null)
            {
                plot.Font.Set(font);
            }
            foreach (var curve in result.Curves.Where(c => c.Family == family && c.Preset == preset))
            {
                var line = plot.Add.Scatter(curve.Samples.Select(k => (double)k).ToArray(), curve.MeanBestSoFar.ToArray());
                line.MarkerSize = 0;
                line.LineWidth = 2;
                line.LegendText = curve.Strategy;
            }
            var optimum = result.Cells.First(c => c.Family == family && c.Preset == preset).Optimum;
            var h = plot.Add.HorizontalLine(optimum);
            h.LinePattern = ScottPlot.LinePattern.Dashed;
            h.LegendText = "optimum";
            plot.Title($"{family}, {preset.ToString().ToLowerInvariant()} reward");
            plot.XLabel("architectures");
            plot.YLabel("best reward so far");
            plot.ShowLegend(ScottPlot.Alignment.LowerRight);
        }
        ScottPlot.IMultiplotExtensions.SavePng(multiplot, path, 700 * columns, 450 * rows);
    }
}
