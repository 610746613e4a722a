using System.Buffers.Binary;
using System.Collections.Concurrent;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text;
using System.Text.RegularExpressions;
using System.Threading.Channels;
using MnasNet.Latency.Adb;

namespace MnasNet.TestSupport.Adb;

/// <summary>What the fake phone's shell answered: stdout, stderr, exit code; <see cref="Drop"/> cuts the transport instead.</summary>
public sealed record FakeShellResult(string Stdout, string Stderr = "", int ExitCode = 0, bool Drop = false)
{
    public static FakeShellResult Dropped { get; } = new("", Drop: true);
}

public enum BenchmarkFormat
{
    /// <summary>Current benchmark_model: stats lines with median, INFO: prefixes.</summary>
    Current,

    /// <summary>TF 2.1: "Average inference timings in us: …" only, CRLF line ends.</summary>
    Tf21,
}

/// <summary>
/// A phone on loopback: the device side of the ADB transport (CNXN, OPEN, OKAY, WRTE, CLSE; AUTH only to stay
/// unauthorized) reached by the real adb server through <c>adb connect</c>. Its adbd serves <c>sync:</c> (STAT, STA2,
/// SEND/DATA/DONE into an in-memory file store), <c>shell,v2</c> and legacy <c>shell:</c> with a tiny shell:
/// getprop, the cpufreq and thermal reads, echo, exit, and benchmark_model printing recorded output whose timings are
/// a deterministic function of the pushed model.
/// </summary>
public sealed class FakePhone : IAsyncDisposable
{
    private const uint Cnxn = 0x4e584e43, Open = 0x4e45504f, Okay = 0x59414b4f, Wrte = 0x45545257, Clse = 0x45534c43, Auth = 0x48545541;

    private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
    private readonly CancellationTokenSource _stop = new();
    private readonly ConcurrentDictionary<int, TcpClient> _connections = new();
    private readonly Task _accepting;
    private int _connectionIds;

    public FakePhone(bool shellV2 = true, bool statV2 = true, bool unauthorized = false, BenchmarkFormat format = BenchmarkFormat.Current, string model = "Pixel")
    {
        Features = [.. new[] { shellV2 ? "shell_v2" : null, "cmd", statV2 ? "stat_v2" : null }.OfType<string>()];
        Unauthorized = unauthorized;
        Format = format;
        Properties = new Dictionary<string, string>
        {
            ["ro.product.model"] = model,
            ["ro.product.manufacturer"] = "Google",
            ["ro.build.fingerprint"] = "google/sailfish/sailfish:10/QP1A.191005.007.A3/5972272:user/release-keys",
            ["ro.product.cpu.abi"] = "arm64-v8a",
            ["ro.build.version.sdk"] = "29",
            ["ro.build.version.release"] = "10",
            ["ro.board.platform"] = "msm8996",
        };
        _listener.Start();
        _accepting = AcceptAsync();
    }

    public int Port => ((IPEndPoint)_listener.LocalEndpoint).Port;

    public string Serial => $"127.0.0.1:{Port.ToString(CultureInfo.InvariantCulture)}";

    public IReadOnlyList<string> Features { get; }

    public bool Unauthorized { get; }

    public BenchmarkFormat Format { get; set; }

    public Dictionary<string, string> Properties { get; }

    /// <summary>Pixel 1 layout: two little cores at 1.59 GHz, two big ones at 2.15 GHz.</summary>
    public int[] CpuMaxKHz { get; set; } = [1593600, 1593600, 2150400, 2150400];

    /// <summary>Thermal zone readings (millidegrees) per read of the state; the last repeats.</summary>
    public ConcurrentQueue<int[]> Temperatures { get; } = new();

    public string Governor { get; set; } = "schedutil";

    /// <summary>Path of a preinstalled benchmark_model (null: none; a pushed one still works).</summary>
    public string? InstalledBinary { get; set; } = "/data/local/tmp/benchmark_model";

    public ConcurrentDictionary<string, byte[]> Files { get; } = new();

    public ConcurrentQueue<string> Commands { get; } = new();

    public int Pushes => _pushes;

    public int Connections => _connectionIds;

    /// <summary>Asked first with every shell command; a non-null answer replaces the shell's.</summary>
    public Func<string, FakeShellResult?>? Intercept { get; set; }

    private int _pushes;
    private int[] _lastTemperatures = [35000, 33000];

    /// <summary>The latency benchmark_model reports for a model: 20–60 ms, fixed by its bytes.</summary>
    public static double LatencyUs(byte[] model) => 20000 + BinaryPrimitives.ReadUInt32LittleEndian(SHA256.HashData(model)) % 40000;

    /// <summary>The one pushed file a measurement's <c>modelSha256</c> names (pushed models are content-addressed).</summary>
    public byte[] PushedModel(IReadOnlyDictionary<string, string> measuredDevice) =>
        Assert.Single(Files, f => f.Key.Contains(measuredDevice["modelSha256"][..16], StringComparison.Ordinal)).Value;

    /// <summary>Cuts every transport connection (the cable is pulled); the listener stays, so adb can reconnect.</summary>
    public void DropConnections()
    {
        foreach (var (id, c) in _connections)
        {
            c.Dispose();
            _connections.TryRemove(id, out _);
        }
    }

    private async Task AcceptAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            TcpClient client;
            try
            {
                client = await _listener.AcceptTcpClientAsync(_stop.Token);
            }
            catch (Exception e) when (e is OperationCanceledException or ObjectDisposedException or SocketException)
            {
                return;
            }
            client.NoDelay = true;
            var id = Interlocked.Increment(ref _connectionIds);
            _connections[id] = client;
            _ = Task.Run(async () =>
            {
                try
                {
                    await new Transport(this, client).RunAsync(_stop.Token);
                }
                catch (Exception e) when (e is IOException or SocketException or ObjectDisposedException or OperationCanceledException or EndOfStreamException or ChannelClosedException)
                {
                }
                finally
                {
                    _connections.TryRemove(id, out _);
                    client.Dispose();
                }
            });
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        _listener.Stop();
        DropConnections();
        await _accepting;
        _stop.Dispose();
    }

    internal FakeShellResult Run(string command)
    {
        Commands.Enqueue(command);
        if (Intercept?.Invoke(command) is { } intercepted)
        {
            return intercepted;
        }
        if (command == PhoneCommands.Properties)
        {
            return new(string.Concat(Properties.Select(p => $"[{p.Key}]: [{p.Value}]\n")));
        }
        if (command == PhoneCommands.CpuMaxFrequencies)
        {
            return new(string.Concat(CpuMaxKHz.Select((f, i) => $"/sys/devices/system/cpu/cpu{i}/cpufreq/cpuinfo_max_freq {f}\n")));
        }
        if (command.StartsWith("echo governor=", StringComparison.Ordinal))
        {
            if (Temperatures.TryDequeue(out var temps))
            {
                _lastTemperatures = temps;
            }
            return new($"governor={Governor}\ntemps={string.Join(' ', _lastTemperatures)}\n");
        }
        if (Regex.Match(command, @"^exit (\d+)$") is { Success: true } exit)
        {
            return new("", ExitCode: int.Parse(exit.Groups[1].Value, CultureInfo.InvariantCulture));
        }
        if (Regex.Match(command, @"^echo (.*?)( >&2)?$") is { Success: true } echo)
        {
            return echo.Groups[2].Success ? new("", echo.Groups[1].Value + "\n") : new(echo.Groups[1].Value + "\n");
        }
        if (Regex.Match(command, @"^(taskset ([0-9a-f]+) )?(\S+) --graph=(\S+) --num_threads=(\d+) --warmup_runs=(\d+) --warmup_min_secs=0 --num_runs=(\d+) --min_secs=0 --use_xnnpack=(true|false)$") is { Success: true } bench)
        {
            return Benchmark(bench.Groups[3].Value, bench.Groups[4].Value, int.Parse(bench.Groups[7].Value, CultureInfo.InvariantCulture));
        }
        return new("", $"/system/bin/sh: {command.Split(' ')[0]}: inaccessible or not found\n", 127);
    }

    private FakeShellResult Benchmark(string binary, string graph, int runs)
    {
        if (binary != InstalledBinary && !Files.ContainsKey(binary))
        {
            return new("", $"/system/bin/sh: {binary}: inaccessible or not found\n", 127);
        }
        if (!Files.TryGetValue(graph, out var model))
        {
            return new($"INFO: STARTING!\nINFO: Graph: [{graph}]\n", $"ERROR: Could not open '{graph}'.\nERROR: Failed to mmap model {graph}\n", 1);
        }
        if (model.Length < 8)
        {
            return new("INFO: STARTING!\n", "ERROR: The model is not a valid Flatbuffer buffer\nERROR: Failed to mmap model " + graph + "\n", 1);
        }
        var us = LatencyUs(model);
        string F(double v) => v.ToString("G6", CultureInfo.InvariantCulture);
        if (Format == BenchmarkFormat.Tf21)
        {
            return new(
                $"STARTING!\r\nMin num runs: [{runs}]\r\nGraph: [{graph}]\r\nLoaded model {graph}\r\n" +
                $"count=3 first={F(us * 1.4)} curr={F(us * 1.05)} min={F(us)} max={F(us * 1.4)} avg={F(us * 1.15)} std=120\r\n" +
                $"count={runs} first={F(us * 1.1)} curr={F(us)} min={F(us * 0.97)} max={F(us * 1.2)} avg={F(us)} std=310\r\n" +
                $"Average inference timings in us: Warmup: {F(us * 1.15)}, Init: 38467, Inference: {F(us)}\r\n");
        }
        return new(
            $"INFO: STARTING!\nINFO: Log parameter values verbosely: [0]\nINFO: Min num runs: [{runs}]\nINFO: Graph: [{graph}]\n" +
            "INFO: Loaded model " + graph + "\nINFO: The input model file size (MB): 3.2\nINFO: Initialized session in 119.515ms.\n" +
            "INFO: Running benchmark for at least 3 iterations and at least 0 seconds but terminate if exceeding 150 seconds.\n" +
            $"INFO: count=3 first={F(us * 1.7)} curr={F(us * 1.1)} min={F(us * 1.05)} max={F(us * 1.7)} avg={F(us * 1.3)} std={F(us * 0.2)}\n\n" +
            $"INFO: Running benchmark for at least {runs} iterations and at least 0 seconds but terminate if exceeding 150 seconds.\n" +
            $"INFO: count={runs} first={F(us * 1.1)} curr={F(us)} min={F(us * 0.96)} max={F(us * 1.3)} avg={F(us * 1.02)} std={F(us * 0.05)} p5={F(us * 0.97)} median={F(us)} p95={F(us * 1.2)}\n\n" +
            $"INFO: Inference timings in us: Init: 119515, First inference: {F(us * 1.7)}, Warmup (avg): {F(us * 1.3)}, Inference (avg): {F(us * 1.02)}\n" +
            "INFO: Memory footprint delta from the start of the tool (MB): init=6.5 overall=13.2\n");
    }

    internal void Store(string path, byte[] content)
    {
        Files[path] = content;
        Interlocked.Increment(ref _pushes);
    }

    /// <summary>One transport connection from the adb server.</summary>
    private sealed class Transport(FakePhone phone, TcpClient client)
    {
        private readonly NetworkStream _net = client.GetStream();
        private readonly SemaphoreSlim _writeLock = new(1, 1);
        private readonly ConcurrentDictionary<uint, DeviceStream> _streams = new();
        private uint _nextId = 1;
        private int _maxPayload = 4096;

        public async Task RunAsync(CancellationToken ct)
        {
            while (true)
            {
                var header = new byte[24];
                await _net.ReadExactlyAsync(header, ct);
                var cmd = BinaryPrimitives.ReadUInt32LittleEndian(header);
                var arg0 = BinaryPrimitives.ReadUInt32LittleEndian(header.AsSpan(4));
                var arg1 = BinaryPrimitives.ReadUInt32LittleEndian(header.AsSpan(8));
                var payload = new byte[BinaryPrimitives.ReadUInt32LittleEndian(header.AsSpan(12))];
                await _net.ReadExactlyAsync(payload, ct);
                switch (cmd)
                {
                    case Cnxn:
                        _maxPayload = (int)Math.Min(arg1, 256 * 1024);
                        if (phone.Unauthorized)
                        {
                            await SendAsync(Auth, 1, 0, RandomNumberGenerator.GetBytes(20), ct);
                        }
                        else
                        {
                            var banner = $"device::{string.Concat(phone.Properties.Where(p => p.Key is "ro.product.model" or "ro.product.name" or "ro.product.device").Select(p => $"{p.Key}={p.Value};"))}ro.product.name=fake;ro.product.device=sailfish;features={string.Join(',', phone.Features)}";
                            await SendAsync(Cnxn, 0x01000001, 256 * 1024, Encoding.UTF8.GetBytes(banner), ct);
                        }
                        break;
                    case Auth when arg0 == 2:
                        // Reject every signature with a new token; out of keys, the server offers its public key
                        // (type 3, ignored) and lists the phone as unauthorized.
                        await SendAsync(Auth, 1, 0, RandomNumberGenerator.GetBytes(20), ct);
                        break;
                    case Open:
                        var local = _nextId++;
                        var stream = new DeviceStream(this, local, arg0);
                        _streams[local] = stream;
                        await SendAsync(Okay, local, arg0, [], ct);
                        var service = Encoding.UTF8.GetString(payload).TrimEnd('\0');
                        _ = Task.Run(() => stream.ServeAsync(phone, service, ct), ct);
                        break;
                    case Wrte:
                        if (_streams.TryGetValue(arg1, out var target))
                        {
                            await SendAsync(Okay, arg1, arg0, [], ct);
                            await target.Input.Writer.WriteAsync(payload, ct);
                        }
                        break;
                    case Okay:
                        if (_streams.TryGetValue(arg1, out var acked))
                        {
                            acked.Acks.Release();
                        }
                        break;
                    case Clse:
                        if (_streams.TryRemove(arg1, out var closed))
                        {
                            closed.Input.Writer.TryComplete();
                        }
                        break;
                }
            }
        }

        public async Task SendAsync(uint cmd, uint arg0, uint arg1, byte[] payload, CancellationToken ct)
        {
            var header = new byte[24];
            BinaryPrimitives.WriteUInt32LittleEndian(header, cmd);
            BinaryPrimitives.WriteUInt32LittleEndian(header.AsSpan(4), arg0);
            BinaryPrimitives.WriteUInt32LittleEndian(header.AsSpan(8), arg1);
            BinaryPrimitives.WriteUInt32LittleEndian(header.AsSpan(12), (uint)payload.Length);
            BinaryPrimitives.WriteUInt32LittleEndian(header.AsSpan(16), (uint)payload.Sum(b => b));
            BinaryPrimitives.WriteUInt32LittleEndian(header.AsSpan(20), cmd ^ 0xffffffff);
            await _writeLock.WaitAsync(ct);
            try
            {
                // One write per packet: a header and payload in two small writes meet Nagle and delayed ACKs (~40 ms).
                await _net.WriteAsync((byte[])[.. header, .. payload], ct);
            }
            finally
            {
                _writeLock.Release();
            }
        }

        public int MaxPayload => _maxPayload;

        public void Drop() => client.Dispose();

        public void Forget(uint local) => _streams.TryRemove(local, out _);
    }

    /// <summary>One OPENed service: bytes in from WRTE, bytes out as WRTE (each waits for the server's OKAY).</summary>
    private sealed class DeviceStream(Transport transport, uint local, uint remote)
    {
        private byte[] _pending = [];
        private int _offset;

        public Channel<byte[]> Input { get; } = Channel.CreateUnbounded<byte[]>();

        public SemaphoreSlim Acks { get; } = new(0);

        public async Task ServeAsync(FakePhone phone, string service, CancellationToken ct)
        {
            try
            {
                if (service.StartsWith("shell,v2", StringComparison.Ordinal) && phone.Features.Contains("shell_v2"))
                {
                    var result = phone.Run(service[(service.IndexOf(':', StringComparison.Ordinal) + 1)..]);
                    if (result.Drop)
                    {
                        transport.Drop();
                        return;
                    }
                    await WriteAsync([.. Packet(1, result.Stdout), .. Packet(2, result.Stderr)], ct);
                    await WriteAsync([3, 1, 0, 0, 0, (byte)result.ExitCode], ct);
                }
                else if (service.StartsWith("shell:", StringComparison.Ordinal))
                {
                    var command = service["shell:".Length..];
                    var marker = Regex.Match(command, @"^(.*); echo (\S+)\$\?$");
                    var result = phone.Run(marker.Success ? marker.Groups[1].Value : command);
                    if (result.Drop)
                    {
                        transport.Drop();
                        return;
                    }
                    var text = result.Stdout + result.Stderr + (marker.Success ? $"{marker.Groups[2].Value}{result.ExitCode}\n" : "");
                    await WriteAsync(Encoding.UTF8.GetBytes(text.Replace("\n", "\r\n", StringComparison.Ordinal)), ct);
                }
                else if (service == "sync:")
                {
                    await SyncAsync(phone, ct);
                }
                await transport.SendAsync(Clse, local, remote, [], ct);
            }
            finally
            {
                transport.Forget(local);
            }
        }

        private static byte[] Packet(byte id, string text)
        {
            var body = Encoding.UTF8.GetBytes(text);
            var packet = new byte[5 + body.Length];
            packet[0] = id;
            BinaryPrimitives.WriteUInt32LittleEndian(packet.AsSpan(1), (uint)body.Length);
            body.CopyTo(packet, 5);
            return body.Length == 0 ? [] : packet;
        }

        private async Task SyncAsync(FakePhone phone, CancellationToken ct)
        {
            while (true)
            {
                var header = await ReadAsync(8, ct);
                if (header is null)
                {
                    return;
                }
                var id = Encoding.ASCII.GetString(header, 0, 4);
                var length = (int)BinaryPrimitives.ReadUInt32LittleEndian(header.AsSpan(4));
                switch (id)
                {
                    case "STAT":
                    case "STA2":
                        var path = Encoding.UTF8.GetString((await ReadAsync(length, ct))!);
                        var exists = phone.Files.TryGetValue(path, out var file);
                        if (id == "STAT")
                        {
                            var stat = new byte[16];
                            Encoding.ASCII.GetBytes("STAT", stat);
                            BinaryPrimitives.WriteUInt32LittleEndian(stat.AsSpan(4), exists ? 0x81a4u : 0);
                            BinaryPrimitives.WriteUInt32LittleEndian(stat.AsSpan(8), (uint)(file?.Length ?? 0));
                            await WriteAsync(stat, ct);
                        }
                        else
                        {
                            var stat = new byte[72];
                            Encoding.ASCII.GetBytes("STA2", stat);
                            BinaryPrimitives.WriteUInt32LittleEndian(stat.AsSpan(4), exists ? 0 : 2u);
                            BinaryPrimitives.WriteUInt32LittleEndian(stat.AsSpan(24), exists ? 0x81a4u : 0);
                            BinaryPrimitives.WriteUInt64LittleEndian(stat.AsSpan(40), (ulong)(file?.Length ?? 0));
                            await WriteAsync(stat, ct);
                        }
                        break;
                    case "SEND":
                        var spec = Encoding.UTF8.GetString((await ReadAsync(length, ct))!);
                        var target = spec[..spec.LastIndexOf(',')];
                        var content = new MemoryStream();
                        while (true)
                        {
                            var chunk = (await ReadAsync(8, ct))!;
                            var kind = Encoding.ASCII.GetString(chunk, 0, 4);
                            var size = (int)BinaryPrimitives.ReadUInt32LittleEndian(chunk.AsSpan(4));
                            if (kind == "DONE")
                            {
                                break;
                            }
                            content.Write((await ReadAsync(size, ct))!);
                        }
                        if (!target.StartsWith("/data/local/tmp/", StringComparison.Ordinal))
                        {
                            var message = Encoding.UTF8.GetBytes($"couldn't create file: Permission denied");
                            var fail = new byte[8 + message.Length];
                            Encoding.ASCII.GetBytes("FAIL", fail);
                            BinaryPrimitives.WriteUInt32LittleEndian(fail.AsSpan(4), (uint)message.Length);
                            message.CopyTo(fail, 8);
                            await WriteAsync(fail, ct);
                            break;
                        }
                        phone.Store(target, content.ToArray());
                        await WriteAsync([.. "OKAY"u8, 0, 0, 0, 0], ct);
                        break;
                    default:
                        return; // QUIT or anything unknown ends the sync session
                }
            }
        }

        private async Task<byte[]?> ReadAsync(int count, CancellationToken ct)
        {
            var result = new byte[count];
            var filled = 0;
            while (filled < count)
            {
                if (_offset == _pending.Length)
                {
                    if (Input.Reader.TryRead(out var next))
                    {
                        (_pending, _offset) = (next, 0);
                    }
                    else if (!await Input.Reader.WaitToReadAsync(ct))
                    {
                        return filled == 0 ? null : throw new EndOfStreamException();
                    }
                    continue;
                }
                var n = Math.Min(count - filled, _pending.Length - _offset);
                Array.Copy(_pending, _offset, result, filled, n);
                (filled, _offset) = (filled + n, _offset + n);
            }
            return result;
        }

        private async Task WriteAsync(byte[] data, CancellationToken ct)
        {
            for (var offset = 0; offset < data.Length; offset += transport.MaxPayload)
            {
                var chunk = data[offset..Math.Min(data.Length, offset + transport.MaxPayload)];
                await transport.SendAsync(Wrte, local, remote, chunk, ct);
                if (!await Acks.WaitAsync(TimeSpan.FromSeconds(10), ct))
                {
                    throw new IOException("the adb server did not acknowledge a write");
                }
            }
        }
    }
}
