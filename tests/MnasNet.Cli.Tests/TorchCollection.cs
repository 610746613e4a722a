namespace MnasNet.Cli.Tests;

/// <summary>
/// libtorch's thread count and random generator are process-wide: tests that compare torch results bit for bit run
/// alone, so no other test changes them mid-run.
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class TorchCollection
{
    public const string Name = "torch (runs alone)";
}
