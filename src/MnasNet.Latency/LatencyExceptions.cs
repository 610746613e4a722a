namespace MnasNet.Latency;

/// <summary>Base of every error this project reports; the message names the problem.</summary>
public class LatencyException : Exception
{
    public LatencyException(string message) : base(message) { }

    public LatencyException(string message, Exception inner) : base(message, inner) { }

    public LatencyException() { }
}

/// <summary>A backend spec names no known backend.</summary>
public sealed class UnknownBackendException : LatencyException
{
    public UnknownBackendException(string message) : base(message) { }

    public UnknownBackendException(string message, Exception inner) : base(message, inner) { }

    public UnknownBackendException() { }
}

/// <summary>A lookup-table file is missing, malformed, of another format version, or lacks a layer.</summary>
public sealed class LatencyTableException : LatencyException
{
    public LatencyTableException(string message) : base(message) { }

    public LatencyTableException(string message, Exception inner) : base(message, inner) { }

    public LatencyTableException() { }
}

/// <summary>The architecture does not fit the input resolution (see <see cref="ResolutionLimits"/>).</summary>
public sealed class ArchitectureTooLargeException : LatencyException
{
    public ArchitectureTooLargeException(string message) : base(message) { }

    public ArchitectureTooLargeException(string message, Exception inner) : base(message, inner) { }

    public ArchitectureTooLargeException() { }
}

/// <summary>The device failed to measure. <see cref="Transient"/>: retrying (later, or elsewhere) may succeed.</summary>
public sealed class LatencyBackendException : LatencyException
{
    public bool Transient { get; }

    public LatencyBackendException(string message, bool transient) : base(message) => Transient = transient;

    public LatencyBackendException(string message, bool transient, Exception inner) : base(message, inner) => Transient = transient;

    public LatencyBackendException(string message) : base(message) { }

    public LatencyBackendException(string message, Exception inner) : base(message, inner) { }

    public LatencyBackendException() { }
}
