using System.CommandLine;

namespace MnasNet.Cli.Commands;

/// <summary><c>mnasnet bench …</c>: figures printed on this machine, not pass/fail tests.</summary>
public sealed class BenchCommand : Command
{
    public BenchCommand() : base("bench", "Benchmarks that print figures.")
    {
        Subcommands.Add(new BenchLatencyCommand());
    }
}
