using System.Buffers.Binary;
using System.Globalization;
using System.Net.Sockets;
using System.Text;

namespace MnasNet.Latency.Adb;

/// <summary>One line of <c>host:devices-l</c>: serial, state (device, offline, unauthorized…) and the key:value fields.</summary>
public sealed record AdbDeviceEntry(string Serial, string State, IReadOnlyDictionary<string, string> Fields)
{
    public bool IsOnline => State == "device";

    public string? Model => Fields.TryGetValue("model", out var m) ? m : null;
}

/// <summary>What a shell command produced. <see cref="Stderr"/> is empty on a legacy shell (merged into stdout).</summary>
public sealed record AdbShellResult(string Stdout, string Stderr, int ExitCode, bool ShellV2);

/// <summary>A sync STAT/STA2 answer; <see cref="Exists"/> false when the device has no such file.</summary>
public sealed record AdbFileStat(bool Exists, uint Mode, long Size, long ModifiedUnixSeconds);

/// <summary>
/// A client of the adb server (not of adbd): every call opens one connection to the server, sends a length-prefixed
/// service request and reads OKAY or FAIL. Device services go through <c>host:transport:SERIAL</c> first. Every call
/// is bounded by <see cref="Timeout"/> (a shell command by its own timeout) and honours cancellation; a FAIL reply
/// becomes an <see cref="AdbException"/> carrying the server's message.
/// </summary>
public sealed class AdbClient(AdbServerEndpoint? endpoint = null, TimeSpan? timeout = null)
{
    private const int SyncChunk = 64 * 1024;

    public AdbServerEndpoint Endpoint { get; } = endpoint ?? AdbServerEndpoint.Resolve();

    public TimeSpan Timeout { get; } = timeout ?? TimeSpan.FromSeconds(10);

    /// <summary><c>host:version</c>: the server's protocol version (41 for platform-tools 29–35).</summary>
    public Task<int> GetServerVersionAsync(CancellationToken cancellationToken = default) =>
        RunAsync("host:version", Timeout, async (c, ct) =>
        {
            await c.RequestAsync("host:version", ct).ConfigureAwait(false);
            var text = await c.ReadLengthPrefixedAsync(ct).ConfigureAwait(false);
            return int.Parse(text, NumberStyles.HexNumber, CultureInfo.InvariantCulture);
        }, cancellationToken);

    /// <summary><c>host:devices-l</c>: every device the server knows, in any state.</summary>
    public Task<IReadOnlyList<AdbDeviceEntry>> ListDevicesAsync(CancellationToken cancellationToken = default) =>
        RunAsync("host:devices-l", Timeout, async (c, ct) =>
        {
            await c.RequestAsync("host:devices-l", ct).ConfigureAwait(false);
            return ParseDevices(await c.ReadLengthPrefixedAsync(ct).ConfigureAwait(false));
        }, cancellationToken);

    /// <summary><c>host-serial:S:features</c>: what the device's adbd supports (shell_v2, stat_v2, cmd…).</summary>
    public Task<IReadOnlySet<string>> GetFeaturesAsync(string serial, CancellationToken cancellationToken = default) =>
        RunAsync($"features of {serial}", Timeout, async (c, ct) =>
        {
            await c.RequestAsync($"host-serial:{serial}:features", ct).ConfigureAwait(false);
            var text = await c.ReadLengthPrefixedAsync(ct).ConfigureAwait(false);
            return (IReadOnlySet<string>)text.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).ToHashSet(StringComparer.Ordinal);
        }, cancellationToken);

    /// <summary><c>host:connect:HOST:PORT</c> (adb connect): the server's answer, e.g. "connected to …" or "already connected to …".</summary>
    public Task<string> ConnectAsync(string hostPort, CancellationToken cancellationToken = default) =>
        RunAsync($"connect {hostPort}", Timeout, async (c, ct) =>
        {
            await c.RequestAsync($"host:connect:{hostPort}", ct).ConfigureAwait(false);
            var answer = await c.ReadLengthPrefixedAsync(ct).ConfigureAwait(false);
            return answer.StartsWith("failed", StringComparison.OrdinalIgnoreCase) || answer.StartsWith("cannot", StringComparison.OrdinalIgnoreCase)
                ? throw new AdbException($"adb connect {hostPort}: {answer}", transient: true, answer)
                : answer;
        }, cancellationToken);

    /// <summary><c>host:disconnect:HOST:PORT</c> (adb disconnect).</summary>
    public Task<string> DisconnectAsync(string hostPort, CancellationToken cancellationToken = default) =>
        RunAsync($"disconnect {hostPort}", Timeout, async (c, ct) =>
        {
            await c.RequestAsync($"host:disconnect:{hostPort}", ct).ConfigureAwait(false);
            return await c.ReadLengthPrefixedAsync(ct).ConfigureAwait(false);
        }, cancellationToken);

    /// <summary><c>host-serial:S:wait-for-any-device</c>: returns once the device is online, or throws after <paramref name="wait"/>.</summary>
    public Task WaitForDeviceAsync(string serial, TimeSpan wait, CancellationToken cancellationToken = default) =>
        RunAsync($"wait for {serial}", wait, async (c, ct) =>
        {
            await c.RequestAsync($"host-serial:{serial}:wait-for-any-device", ct).ConfigureAwait(false);
            await c.ReadStatusAsync($"host-serial:{serial}:wait-for-any-device", ct).ConfigureAwait(false);
            return true;
        }, cancellationToken);

    /// <summary>
    /// Runs a command: <c>shell,v2,raw:</c> (stdout, stderr, exit code) when the device has shell_v2, else the legacy
    /// <c>shell:</c> stream with the exit code echoed after a marker. A stream that ends without an exit code (the
    /// shell or the connection was killed) is a transient <see cref="AdbException"/>.
    /// </summary>
    public async Task<AdbShellResult> ShellAsync(string serial, string command, TimeSpan? commandTimeout = null, IReadOnlySet<string>? features = null, CancellationToken cancellationToken = default)
    {
        features ??= await GetFeaturesAsync(serial, cancellationToken).ConfigureAwait(false);
        var v2 = features.Contains("shell_v2");
        return await RunAsync($"shell on {serial}: {command}", commandTimeout ?? Timeout, async (c, ct) =>
        {
            await c.TransportAsync(serial, ct).ConfigureAwait(false);
            if (v2)
            {
                await c.RequestAsync($"shell,v2,raw:{command}", ct).ConfigureAwait(false);
                return await ReadShellV2Async(c, serial, command, ct).ConfigureAwait(false);
            }
            await c.RequestAsync($"shell:{command}; echo {LegacyExitMarker}$?", ct).ConfigureAwait(false);
            return ParseLegacyShell(await c.ReadToEndAsync(ct).ConfigureAwait(false), serial, command);
        }, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>sync STAT (STA2 when the device has stat_v2).</summary>
    public async Task<AdbFileStat> StatAsync(string serial, string remotePath, IReadOnlySet<string>? features = null, CancellationToken cancellationToken = default)
    {
        features ??= await GetFeaturesAsync(serial, cancellationToken).ConfigureAwait(false);
        var v2 = features.Contains("stat_v2");
        return await RunAsync($"stat {remotePath} on {serial}", Timeout, async (c, ct) =>
        {
            await c.TransportAsync(serial, ct).ConfigureAwait(false);
            await c.RequestAsync("sync:", ct).ConfigureAwait(false);
            var stat = await SyncStatAsync(c, remotePath, v2, ct).ConfigureAwait(false);
            await c.WriteSyncAsync("QUIT", 0, ReadOnlyMemory<byte>.Empty, ct).ConfigureAwait(false);
            return stat;
        }, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>sync SEND/DATA/DONE: writes <paramref name="content"/> to <paramref name="remotePath"/> with the given mode (e.g. 0644).</summary>
    public Task PushAsync(string serial, ReadOnlyMemory<byte> content, string remotePath, int mode = 420, CancellationToken cancellationToken = default) =>
        RunAsync($"push {remotePath} to {serial}", Timeout + TimeSpan.FromSeconds(content.Length / (1 << 20)), async (c, ct) =>
        {
            await c.TransportAsync(serial, ct).ConfigureAwait(false);
            await c.RequestAsync("sync:", ct).ConfigureAwait(false);
            var target = Encoding.UTF8.GetBytes($"{remotePath},{(0x8000 | mode).ToString(CultureInfo.InvariantCulture)}");
            await c.WriteSyncAsync("SEND", (uint)target.Length, target, ct).ConfigureAwait(false);
            for (var offset = 0; offset < content.Length; offset += SyncChunk)
            {
                var chunk = content.Slice(offset, Math.Min(SyncChunk, content.Length - offset));
                await c.WriteSyncAsync("DATA", (uint)chunk.Length, chunk, ct).ConfigureAwait(false);
            }
            await c.WriteSyncAsync("DONE", (uint)DateTimeOffset.UtcNow.ToUnixTimeSeconds(), ReadOnlyMemory<byte>.Empty, ct).ConfigureAwait(false);
            var (id, length) = await c.ReadSyncHeaderAsync(ct).ConfigureAwait(false);
            if (id == "FAIL")
            {
                var message = Encoding.UTF8.GetString(await c.ReadExactlyAsync((int)length, ct).ConfigureAwait(false));
                throw new AdbException($"push {remotePath} to {serial} failed: {message}", transient: false, message);
            }
            if (id != "OKAY")
            {
                throw new AdbException($"push {remotePath} to {serial}: unexpected sync reply '{id}'", transient: true);
            }
            await c.WriteSyncAsync("QUIT", 0, ReadOnlyMemory<byte>.Empty, ct).ConfigureAwait(false);
            return true;
        }, cancellationToken);

    internal const string LegacyExitMarker = "__mnasnet_exit=";

    /// <summary>Pure: <c>host:devices-l</c> text → entries (<c>SERIAL STATE key:value …</c> per line).</summary>
    public static IReadOnlyList<AdbDeviceEntry> ParseDevices(string text)
    {
        var devices = new List<AdbDeviceEntry>();
        foreach (var line in text.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            var parts = line.Split([' ', '\t'], StringSplitOptions.RemoveEmptyEntries);
            if (parts.Length < 2)
            {
                continue;
            }
            var fields = new SortedDictionary<string, string>(StringComparer.Ordinal);
            var state = parts[1];
            var rest = 2;
            // "no permissions (…)" spans several words before the key:value fields.
            while (rest < parts.Length && !parts[rest].Contains(':', StringComparison.Ordinal))
            {
                state += " " + parts[rest++];
            }
            foreach (var part in parts.Skip(rest))
            {
                var colon = part.IndexOf(':', StringComparison.Ordinal);
                if (colon > 0)
                {
                    fields[part[..colon]] = part[(colon + 1)..];
                }
            }
            devices.Add(new AdbDeviceEntry(parts[0], state, fields));
        }
        return devices;
    }

    /// <summary>Pure: a legacy shell's output with the exit marker → result; no marker = the shell was cut off.</summary>
    public static AdbShellResult ParseLegacyShell(string output, string serial, string command)
    {
        var text = output.Replace("\r", "", StringComparison.Ordinal);
        var at = text.LastIndexOf(LegacyExitMarker, StringComparison.Ordinal);
        if (at < 0 || !int.TryParse(text[(at + LegacyExitMarker.Length)..].Trim(), NumberStyles.Integer, CultureInfo.InvariantCulture, out var code))
        {
            throw new AdbException($"shell on {serial} ended before '{command}' finished (device disconnected or shell killed)", transient: true);
        }
        return new AdbShellResult(text[..at], "", code, ShellV2: false);
    }

    private static async Task<AdbShellResult> ReadShellV2Async(AdbConnection c, string serial, string command, CancellationToken ct)
    {
        // Close stdin at once: benchmark commands read none, and a command that does must not wait forever.
        await c.WriteAsync(new byte[] { 4, 0, 0, 0, 0 }, ct).ConfigureAwait(false);
        var stdout = new MemoryStream();
        var stderr = new MemoryStream();
        while (true)
        {
            var header = await c.TryReadExactlyAsync(5, ct).ConfigureAwait(false);
            if (header is null)
            {
                throw new AdbException($"shell on {serial} ended before '{command}' finished (device disconnected or shell killed)", transient: true);
            }
            var length = (int)BinaryPrimitives.ReadUInt32LittleEndian(header.AsSpan(1));
            var payload = await c.TryReadExactlyAsync(length, ct).ConfigureAwait(false)
                ?? throw new AdbException($"shell on {serial}: stream cut off inside a packet of '{command}'", transient: true);
            switch (header[0])
            {
                case 1:
                    stdout.Write(payload);
                    break;
                case 2:
                    stderr.Write(payload);
                    break;
                case 3:
                    return new AdbShellResult(Encoding.UTF8.GetString(stdout.ToArray()), Encoding.UTF8.GetString(stderr.ToArray()), length > 0 ? payload[0] : 0, ShellV2: true);
            }
        }
    }

    private static async Task<AdbFileStat> SyncStatAsync(AdbConnection c, string remotePath, bool v2, CancellationToken ct)
    {
        var path = Encoding.UTF8.GetBytes(remotePath);
        await c.WriteSyncAsync(v2 ? "STA2" : "STAT", (uint)path.Length, path, ct).ConfigureAwait(false);
        if (!v2)
        {
            var reply = await c.ReadExactlyAsync(16, ct).ConfigureAwait(false);
            Expect(reply, "STAT");
            var mode = BinaryPrimitives.ReadUInt32LittleEndian(reply.AsSpan(4));
            return new AdbFileStat(mode != 0, mode, BinaryPrimitives.ReadUInt32LittleEndian(reply.AsSpan(8)), BinaryPrimitives.ReadUInt32LittleEndian(reply.AsSpan(12)));
        }
        var r = await c.ReadExactlyAsync(72, ct).ConfigureAwait(false);
        Expect(r, "STA2");
        var error = BinaryPrimitives.ReadUInt32LittleEndian(r.AsSpan(4));
        var mode2 = BinaryPrimitives.ReadUInt32LittleEndian(r.AsSpan(24));
        return error != 0
            ? new AdbFileStat(false, 0, 0, 0)
            : new AdbFileStat(true, mode2, (long)BinaryPrimitives.ReadUInt64LittleEndian(r.AsSpan(40)), BinaryPrimitives.ReadInt64LittleEndian(r.AsSpan(56)));
    }

    private static void Expect(byte[] reply, string id)
    {
        var got = Encoding.ASCII.GetString(reply, 0, 4);
        if (got != id)
        {
            throw new AdbException($"sync: expected {id}, got '{got}'", transient: true);
        }
    }

    /// <summary>Opens a server connection, runs <paramref name="work"/> within <paramref name="limit"/>, maps socket and timeout errors.</summary>
    private async Task<T> RunAsync<T>(string what, TimeSpan limit, Func<AdbConnection, CancellationToken, Task<T>> work, CancellationToken cancellationToken)
    {
        using var timeoutSource = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeoutSource.CancelAfter(limit);
        var ct = timeoutSource.Token;
        try
        {
            using var tcp = new TcpClient { NoDelay = true };
            try
            {
                await tcp.ConnectAsync(Endpoint.Host, Endpoint.Port, ct).ConfigureAwait(false);
            }
            catch (SocketException e)
            {
                throw new AdbException($"no adb server at {Endpoint} ({e.SocketErrorCode}); start one with `adb start-server` (port from ANDROID_ADB_SERVER_PORT / ADB_SERVER_SOCKET)", transient: true, inner: e);
            }
            await using var stream = tcp.GetStream();
            return await work(new AdbConnection(stream), ct).ConfigureAwait(false);
        }
        catch (OperationCanceledException e) when (!cancellationToken.IsCancellationRequested)
        {
            throw new AdbException($"adb {what}: no answer within {limit.TotalSeconds:G4} s", transient: true, inner: e);
        }
        catch (Exception e) when (e is IOException or SocketException or EndOfStreamException)
        {
            throw new AdbException($"adb {what}: connection to the adb server at {Endpoint} lost ({e.Message})", transient: true, inner: e);
        }
    }
}

/// <summary>One socket to the adb server: the smart-socket framing (hex4 lengths, OKAY/FAIL) and sync's 8-byte headers.</summary>
internal sealed class AdbConnection(NetworkStream stream)
{
    public async Task RequestAsync(string service, CancellationToken ct)
    {
        var body = Encoding.UTF8.GetBytes(service);
        await WriteAsync(Encoding.ASCII.GetBytes(body.Length.ToString("x4", CultureInfo.InvariantCulture)).Concat(body).ToArray(), ct).ConfigureAwait(false);
        await ReadStatusAsync(service, ct).ConfigureAwait(false);
    }

    public Task TransportAsync(string serial, CancellationToken ct) => RequestAsync($"host:transport:{serial}", ct);

    public async Task ReadStatusAsync(string service, CancellationToken ct)
    {
        var status = Encoding.ASCII.GetString(await ReadExactlyAsync(4, ct).ConfigureAwait(false));
        if (status == "OKAY")
        {
            return;
        }
        if (status == "FAIL")
        {
            var message = await ReadLengthPrefixedAsync(ct).ConfigureAwait(false);
            throw new AdbException($"adb server refused '{service}': {message.Trim()}", AdbException.IsTransientFailure(message), message.Trim());
        }
        throw new AdbException($"adb server answered '{service}' with '{status}' (neither OKAY nor FAIL)", transient: true);
    }

    public async Task<string> ReadLengthPrefixedAsync(CancellationToken ct)
    {
        var hex = Encoding.ASCII.GetString(await ReadExactlyAsync(4, ct).ConfigureAwait(false));
        if (!int.TryParse(hex, NumberStyles.HexNumber, CultureInfo.InvariantCulture, out var length))
        {
            throw new AdbException($"adb server sent '{hex}' where a hex length was expected", transient: true);
        }
        return Encoding.UTF8.GetString(await ReadExactlyAsync(length, ct).ConfigureAwait(false));
    }

    public async Task<string> ReadToEndAsync(CancellationToken ct)
    {
        using var buffer = new MemoryStream();
        await stream.CopyToAsync(buffer, ct).ConfigureAwait(false);
        return Encoding.UTF8.GetString(buffer.ToArray());
    }

    public async Task WriteSyncAsync(string id, uint value, ReadOnlyMemory<byte> payload, CancellationToken ct)
    {
        var request = new byte[8 + payload.Length];
        Encoding.ASCII.GetBytes(id, request);
        BinaryPrimitives.WriteUInt32LittleEndian(request.AsSpan(4), value);
        payload.CopyTo(request.AsMemory(8));
        await WriteAsync(request, ct).ConfigureAwait(false);
    }

    public async Task<(string Id, uint Value)> ReadSyncHeaderAsync(CancellationToken ct)
    {
        var header = await ReadExactlyAsync(8, ct).ConfigureAwait(false);
        return (Encoding.ASCII.GetString(header, 0, 4), BinaryPrimitives.ReadUInt32LittleEndian(header.AsSpan(4)));
    }

    public Task WriteAsync(byte[] data, CancellationToken ct) => stream.WriteAsync(data, ct).AsTask();

    public async Task<byte[]> ReadExactlyAsync(int count, CancellationToken ct) =>
        await TryReadExactlyAsync(count, ct).ConfigureAwait(false) ?? throw new EndOfStreamException("the adb server closed the connection");

    /// <summary>Null when the stream ends before the first byte; throws when it ends inside.</summary>
    public async Task<byte[]?> TryReadExactlyAsync(int count, CancellationToken ct)
    {
        var buffer = new byte[count];
        var read = 0;
        while (read < count)
        {
            var n = await stream.ReadAsync(buffer.AsMemory(read), ct).ConfigureAwait(false);
            if (n == 0)
            {
                return read == 0 ? null : throw new EndOfStreamException($"the adb server closed the connection after {read} of {count} bytes");
            }
            read += n;
        }
        return buffer;
    }
}
