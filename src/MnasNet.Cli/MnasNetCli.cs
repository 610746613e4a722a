using System.CommandLine;
using MnasNet.Cli.Commands;
using MnasNet.Cli.Commands.Replay;
using MnasNet.Cli.Commands.Search;

namespace MnasNet.Cli;

public static class MnasNetCli
{
    /// <summary>The whole command tree; tests parse and invoke it with their own writers.</summary>
    public static RootCommand Create()
    {
        var root = new RootCommand("MnasNet.Actors: platform-aware neural architecture search (MnasNet) on Akka.NET actors.");
        root.Subcommands.Add(new SpaceCommand());
        root.Subcommands.Add(new ArchCommand());
        root.Subcommands.Add(new SearchCommand());
        root.Subcommands.Add(new ResumeCommand());
        root.Subcommands.Add(new NodeCommand());
        root.Subcommands.Add(new PauseCommand());
        root.Subcommands.Add(new StatusCommand());
        root.Subcommands.Add(new ListCommand());
        root.Subcommands.Add(new ReportCommand());
        root.Subcommands.Add(new ExportTrialCommand());
        root.Subcommands.Add(new TrainFinalCommand());
        root.Subcommands.Add(new ReplayCommand());
        root.Subcommands.Add(new JournalCommand());
        root.Subcommands.Add(new ControllerCommand());
        root.Subcommands.Add(new TrainCommand());
        root.Subcommands.Add(new LatencyCommand());
        root.Subcommands.Add(new LatencyTableCommand());
        root.Subcommands.Add(new ExportCommand());
        root.Subcommands.Add(new DevicesCommand());
        root.Subcommands.Add(new Commands.Plan.PlanCommand());
        var bench = new BenchCommand();
        bench.Subcommands.Add(new BenchSearchCommand());
        bench.Subcommands.Add(new BenchSimulateCommand());
        bench.Subcommands.Add(new BenchTrainCommand());
        bench.Subcommands.Add(new BenchLatencyCommand());
        bench.Subcommands.Add(new BenchProxyFidelityCommand());
        bench.Subcommands.Add(new BenchAuditCommand());
        root.Subcommands.Add(bench);
        return root;
    }

    private static IEnumerable<string> CommandPath(ParseResult parseResult)
    {
        var names = new List<string>();
        for (var result = parseResult.CommandResult; result.Parent is System.CommandLine.Parsing.CommandResult parent; result = parent)
        {
            names.Insert(0, result.Command.Name);
        }
        return names;
    }

    public static Task<int> RunAsync(string[] args, TextWriter? output = null, TextWriter? error = null, CancellationToken cancellationToken = default)
    {
        var config = new InvocationConfiguration
        {
            Output = output ?? Console.Out,
            Error = error ?? Console.Error,
            // Commands that need graceful shutdown (search, resume) handle SIGINT/SIGTERM themselves.
            ProcessTerminationTimeout = null,
        };
        var parseResult = Create().Parse(args);
        // Usage errors get one line each and their own exit code instead of the full help text.
        if (parseResult.Errors.Count > 0 && parseResult.Action is not System.CommandLine.Help.HelpAction)
        {
            foreach (var parseError in parseResult.Errors)
            {
                config.Error.WriteLine($"error: {parseError.Message}");
            }
            config.Error.WriteLine($"Run 'mnasnet {string.Join(' ', CommandPath(parseResult))} --help' for usage.");
            return Task.FromResult(ExitCodes.UsageError);
        }
        return parseResult.InvokeAsync(config, cancellationToken);
    }
}
