namespace MnasNet.Latency.Adb;

/// <summary>
/// An adb server or device error. <see cref="ServerMessage"/> is the text of a FAIL reply (null for socket errors);
/// <see cref="Transient"/>: the server, the device or its connection is (for now) unavailable, so a later attempt
/// may succeed (server gone, device offline/unauthorized/not found, stream cut off).
/// </summary>
public sealed class AdbException : LatencyException
{
    public bool Transient { get; }

    public string? ServerMessage { get; }

    public AdbException(string message, bool transient, string? serverMessage = null, Exception? inner = null)
        : base(message, inner!)
    {
        Transient = transient;
        ServerMessage = serverMessage;
    }

    public AdbException(string message) : base(message) { }

    public AdbException(string message, Exception inner) : base(message, inner) { }

    public AdbException() { }

    /// <summary>FAIL replies about a device that is not (yet) usable; anything else (bad service, file errors) is permanent.</summary>
    public static bool IsTransientFailure(string serverMessage)
    {
        var m = serverMessage.ToLowerInvariant();
        return m.Contains("offline", StringComparison.Ordinal) || m.Contains("unauthorized", StringComparison.Ordinal)
            || m.Contains("not found", StringComparison.Ordinal) || m.Contains("no devices", StringComparison.Ordinal)
            || m.Contains("authorizing", StringComparison.Ordinal) || m.Contains("connecting", StringComparison.Ordinal)
            || m.Contains("closed", StringComparison.Ordinal);
    }
}
