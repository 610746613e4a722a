using System.Globalization;

namespace MnasNet.Latency.Adb;

/// <summary>
/// Where the adb server listens. Resolved like adb itself does: an explicit setting, else <c>ADB_SERVER_SOCKET</c>
/// (<c>tcp:HOST:PORT</c> or <c>tcp:PORT</c>), else <c>ANDROID_ADB_SERVER_PORT</c> on 127.0.0.1, else 127.0.0.1:5037.
/// </summary>
public sealed record AdbServerEndpoint(string Host, int Port)
{
    public const int DefaultPort = 5037;

    public static AdbServerEndpoint Default { get; } = new("127.0.0.1", DefaultPort);

    public override string ToString() => $"{Host}:{Port.ToString(CultureInfo.InvariantCulture)}";

    /// <param name="setting">HOST:PORT, PORT or tcp:HOST:PORT; null or empty: from the environment.</param>
    public static AdbServerEndpoint Resolve(string? setting = null, Func<string, string?>? environment = null)
    {
        environment ??= Environment.GetEnvironmentVariable;
        if (!string.IsNullOrWhiteSpace(setting))
        {
            return Parse(setting, "adb server setting");
        }
        if (environment("ADB_SERVER_SOCKET") is { Length: > 0 } socket)
        {
            if (!socket.StartsWith("tcp:", StringComparison.Ordinal))
            {
                throw new AdbException($"ADB_SERVER_SOCKET '{socket}': only tcp:HOST:PORT is supported", transient: false);
            }
            return Parse(socket, "ADB_SERVER_SOCKET");
        }
        if (environment("ANDROID_ADB_SERVER_PORT") is { Length: > 0 } port)
        {
            return new AdbServerEndpoint("127.0.0.1", ParsePort(port, "ANDROID_ADB_SERVER_PORT"));
        }
        return Default;
    }

    public static AdbServerEndpoint Parse(string text, string what = "adb server")
    {
        var t = text.Trim();
        if (t.StartsWith("tcp:", StringComparison.Ordinal))
        {
            t = t[4..];
        }
        var colon = t.LastIndexOf(':');
        if (colon < 0)
        {
            return new AdbServerEndpoint("127.0.0.1", ParsePort(t, what));
        }
        var host = t[..colon].Trim('[', ']');
        return new AdbServerEndpoint(host.Length == 0 ? "127.0.0.1" : host, ParsePort(t[(colon + 1)..], what));
    }

    private static int ParsePort(string text, string what) =>
        int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var port) && port is > 0 and < 65536
            ? port
            : throw new AdbException($"{what} '{text}': not a TCP port (1–65535)", transient: false);
}
