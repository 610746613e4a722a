namespace MnasNet.SearchSpace;

/// <summary>An architecture, token sequence or architecture file is invalid; the message names the problem.</summary>
public sealed class ArchitectureException : Exception
{
    public ArchitectureException(string message) : base(message) { }

    public ArchitectureException(string message, Exception inner) : base(message, inner) { }

    public ArchitectureException() { }
}
