using System.CommandLine;
using System.Globalization;
using MnasNet.Actors.State;
using MnasNet.Cli.Commands.Search;
using MnasNet.Controller;
using MnasNet.SearchSpace;
using MnasNet.Torch;

namespace MnasNet.Cli.Commands;

/// <summary><c>mnasnet controller simulate</c>, <c>mnasnet controller fit-landscape</c>.</summary>
public sealed class ControllerCommand : Command
{
    public ControllerCommand() : base("controller", "Run the search controller (PPO, random, evolution, TPE) without actors.")
    {
        Subcommands.Add(new ControllerSimulateCommand());
        Subcommands.Add(new ControllerFitLandscapeCommand());
    }
}

public sealed class ControllerSimulateCommand : CliCommand
{
    private readonly Option<string> _strategy = new("--strategy") { Description = "ppo, random, evolution or tpe.", Required = true };
    private readonly Option<int> _budget = new("--budget") { Description = "Architectures to sample in total.", Required = true };
    private readonly Option<int> _batch = new("--batch") { Description = "Architectures per batch (one PPO update per batch).", DefaultValueFactory = _ => 32 };
    private readonly Option<ulong> _seed = new("--seed") { Description = "Seed of the strategy.", DefaultValueFactory = _ => 0UL };
    private readonly Option<string> _reward = new("--reward") { Description = "Reward preset: soft (α=β=−0.07) or hard (α=0, β=−1).", DefaultValueFactory = _ => "soft" };
    private readonly Option<double> _targetMs = new("--target-ms") { Description = "Target latency T in ms.", DefaultValueFactory = _ => 75.0 };
    private readonly Option<ulong> _objectiveSeed = new("--objective-seed") { Description = "Seed of the objective (the problem; ignored by the fitted family).", DefaultValueFactory = _ => 1UL };
    private readonly Option<string> _family = new("--family") { Description = $"Objective family: {string.Join(", ", ObjectiveFamilies.All)}.", DefaultValueFactory = _ => ObjectiveFamilies.Surrogate };
    private readonly Option<bool> _optimum = new("--optimum") { Description = "Also compute the surrogate's exact optimum for comparison." };
    private readonly Option<bool> _json = new("--json") { Description = "Print JSON." };
    private readonly Option<string> _engine = new("--engine") { Description = "Engine of strategy ppo: managed (exact arithmetic) or libtorch.", DefaultValueFactory = _ => ControllerEngines.Managed };

    public ControllerSimulateCommand() : base("simulate", "Search the surrogate objective (deterministic accuracy, analytic latency) and print the best reward, architecture and learning curve.")
    {
        _strategy.AcceptOnlyFromAmong([.. SearchStrategies.All]);
        _reward.AcceptOnlyFromAmong("soft", "hard");
        _family.AcceptOnlyFromAmong([.. ObjectiveFamilies.All]);
        _engine.AcceptOnlyFromAmong([.. ControllerEngines.All]);
        Options.Add(_strategy);
        Options.Add(_budget);
        Options.Add(_batch);
        Options.Add(_seed);
        Options.Add(_reward);
        Options.Add(_targetMs);
        Options.Add(_objectiveSeed);
        Options.Add(_family);
        Options.Add(_optimum);
        Options.Add(_json);
        Options.Add(_engine);
    }

    protected override int? ExitCodeFor(Exception e) => e switch
    {
        ControllerException => ExitCodes.InvalidInput,
        TorchLoadException => ExitCodes.Failure,
        _ => base.ExitCodeFor(e),
    };

    protected override async Task<int> ExecuteAsync(ParseResult parseResult, TextWriter output, CancellationToken cancellationToken)
    {
        var settings = new SimulationSettings(
            parseResult.GetValue(_strategy)!,
            parseResult.GetValue(_budget),
            parseResult.GetValue(_batch),
            parseResult.GetValue(_seed),
            LatencyTarget.ParsePreset(parseResult.GetValue(_reward)!),
            parseResult.GetValue(_targetMs),
            parseResult.GetValue(_objectiveSeed),
            Ppo: ControllerOptions.Default with { Engine = parseResult.GetValue(_engine)! },
            ComputeOptimum: parseResult.GetValue(_optimum)).Validate();
        var family = parseResult.GetValue(_family)!;
        var result = await Task.Run(() => ControllerSimulation.Run(settings, ObjectiveFamilies.Create(family, settings.ObjectiveSeed)), cancellationToken);
        var space = MnasNetSearchSpace.Default;
        var bestTokens = space.FormatTokens(result.BestTokens);
        if (parseResult.GetValue(_json))
        {
            await WriteJsonAsync(output, new
            {
                strategy = result.Strategy,
                family,
                budget = settings.Budget,
                batch = settings.Batch,
                seed = settings.Seed,
                reward = settings.Reward.ToString().ToLowerInvariant(),
                targetMs = settings.TargetMs,
                formulaId = RewardFormula.Id,
                result.BestReward,
                bestTokens,
                bestArchitectureId = space.Decode(result.BestTokens).Id,
                result.BestAccuracy,
                result.BestLatencyMs,
                result.MeanRewardLastBatch,
                result.Samples,
                curve = result.Curve,
                optimum = result.Optimum is { } o ? new { o.Reward, tokens = space.FormatTokens(o.Tokens), o.Accuracy, o.LatencyMs } : null,
            });
            return ExitCodes.Success;
        }
        var inv = CultureInfo.InvariantCulture;
        await output.WriteLineAsync(string.Create(inv, $"{result.Strategy} on {family}: {result.Samples} architectures in batches of {settings.Batch}, seed {settings.Seed}, {settings.Reward.ToString().ToLowerInvariant()} reward, T = {settings.TargetMs} ms ({RewardFormula.Id})"));
        await output.WriteLineAsync("batch  samples  mean reward  max reward  best so far");
        foreach (var p in result.Curve)
        {
            await output.WriteLineAsync(string.Create(inv, $"{p.Batch,5}  {p.Samples,7}  {p.MeanReward,11:F4}  {p.MaxReward,10:F4}  {p.BestSoFar,11:F4}"));
        }
        await output.WriteLineAsync(string.Create(inv, $"best reward {result.BestReward:F4} (accuracy {result.BestAccuracy:F4}, latency {result.BestLatencyMs:F2} ms): {bestTokens}"));
        await output.WriteLineAsync(string.Create(inv, $"mean reward of the last batch {result.MeanRewardLastBatch:F4}"));
        if (result.Optimum is { } optimum)
        {
            await output.WriteLineAsync(string.Create(inv, $"exact optimum {optimum.Reward:F4} (accuracy {optimum.Accuracy:F4}, latency {optimum.LatencyMs:F2} ms): {space.FormatTokens(optimum.Tokens)}"));
        }
        return ExitCodes.Success;
    }
}

/// <summary>
/// <c>mnasnet controller fit-landscape ID… --out FILE</c>: fits the per-decision accuracy regression of the "fitted"
/// objective family to the rewarded, successful trials of journaled searches.
/// </summary>
public sealed class ControllerFitLandscapeCommand : SearchCliCommand
{
    private readonly Argument<string[]> _ids = new("id") { Description = "Search ids whose trials to fit (their journals).", Arity = ArgumentArity.OneOrMore };
    private readonly JournalOptions _journal = new();
    private readonly Option<string> _out = new("--out") { Description = "Coefficient file to write (JSON).", Required = true };

    public ControllerFitLandscapeCommand() : base("fit-landscape", "Fit proxy accuracy per decision (ridge regression on one-hot tokens) to the trials of journaled searches; writes the coefficient file of the fitted objective family.")
    {
        Arguments.Add(_ids);
        _journal.AddTo(this);
        Options.Add(_out);
    }

    protected override int? ExitCodeFor(Exception e) => e is ControllerException ? ExitCodes.InvalidInput : base.ExitCodeFor(e);

    protected override async Task<int> ExecuteAsync(ParseResult parseResult, TextWriter output, CancellationToken cancellationToken)
    {
        var ids = parseResult.GetValue(_ids)!;
        var journals = _journal.Resolve(parseResult).Open();
        var trials = new List<(IReadOnlyList<int> Tokens, double Accuracy)>();
        foreach (var id in ids)
        {
            var summary = SearchSummary.From(id, journals.ReadEvents(id));
            trials.AddRange(summary.Rewarded.Where(t => !t.Failed && t.Accuracy is not null).Select(t => (t.Tokens, t.Accuracy!.Value)));
        }
        var command = $"mnasnet controller fit-landscape {string.Join(' ', ids)} --out {Path.GetFileName(parseResult.GetValue(_out)!)}";
        var source = $"{trials.Count} successful trials of searches {string.Join(", ", ids)}";
        var fit = FittedLandscape.Fit(trials, source, command);
        await File.WriteAllTextAsync(parseResult.GetValue(_out)!, FittedLandscape.Serialize(fit) + "\n", cancellationToken);
        await output.WriteLineAsync(string.Create(CultureInfo.InvariantCulture,
            $"fitted {fit.Trials} trials: λ {fit.Lambda}, intercept {fit.Intercept:F4}, leave-one-out RMSE {fit.LeaveOneOutRmse:F4} (accuracy sd {fit.AccuracyStd:F4}) → {parseResult.GetValue(_out)}"));
        return ExitCodes.Success;
    }
}
