using System.CommandLine;

namespace MnasNet.Cli.Commands;

/// <summary><c>mnasnet bench …</c>: benchmarks that print figures (speed and memory goals live here, not in tests).</summary>
public sealed class BenchCommand : Command
{
    public BenchCommand() : base("bench", "Benchmarks: print speed and memory figures for this machine.")
    {
        Subcommands.Add(new BenchTrainCommand());
    }
}
