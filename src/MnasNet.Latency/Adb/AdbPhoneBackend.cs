using System.Globalization;
using System.Security.Cryptography;
using MnasNet.Latency.Measurement;
using MnasNet.SearchSpace;

namespace MnasNet.Latency.Adb;

/// <summary>
/// A phone measured over ADB. <paramref name="Serial"/> null: the one online device. <paramref name="Cores"/>
/// <c>auto</c> pins to the cores with the highest <c>cpuinfo_max_freq</c>, or a hex mask. <paramref name="LocalBinary"/>
/// is a benchmark_model file on this host to push (content-addressed); else <paramref name="RemoteBinary"/> must exist
/// on the phone. <paramref name="MaxTemperatureC"/>: before each measurement wait (polling every
/// <paramref name="ThermalPoll"/>, at most <paramref name="ThermalWait"/>) while the phone is hotter.
/// </summary>
public sealed record AdbPhoneSettings(
    string? Serial = null,
    int Threads = 1,
    string Cores = "auto",
    string? LocalBinary = null,
    string RemoteBinary = "/data/local/tmp/benchmark_model",
    bool Xnnpack = true,
    string? Server = null,
    string RemoteDirectory = "/data/local/tmp",
    double? MaxTemperatureC = null,
    TimeSpan? ThermalWait = null,
    TimeSpan? ThermalPoll = null,
    TimeSpan? BenchmarkTimeout = null,
    TimeSpan? ReconnectWait = null,
    TimeSpan? Timeout = null)
{
    public AdbPhoneSettings Validate()
    {
        if (Threads < 1)
        {
            throw new ArgumentException($"adb: threads must be at least 1, got {Threads}");
        }
        if (Cores != "auto")
        {
            PhoneCommands.ParseMask(Cores);
        }
        if (LocalBinary is not null && !File.Exists(LocalBinary))
        {
            throw new ArgumentException($"adb: binary '{LocalBinary}' does not exist on this host");
        }
        return this;
    }
}

/// <summary>
/// Times an architecture on a phone with TensorFlow Lite's <c>benchmark_model</c>: the model file (from the injected
/// writer) is pushed under its SHA-256 (skipped when the phone already has it), then run pinned with
/// <c>taskset</c> to the big cores with the protocol's warm-up and run counts. Reports benchmark_model's median
/// (its average where a build prints no median); per-run samples are not printed, so
/// <see cref="LatencyMeasurement.SamplesMs"/> is empty and the statistics come from its summary line (p90 holds its
/// p95). The phone's model, build, ABI, SDK, governor and temperature go with every measurement.
/// Server, device and connection faults throw <see cref="LatencyBackendException"/> with Transient set; a
/// benchmark_model error is a permanent failure carrying its output.
/// </summary>
public sealed class AdbPhoneBackend : ILatencyBackend
{
    public const string Name = "adb";

    private readonly SemaphoreSlim _gate = new(1, 1);
    private readonly Func<Architecture, NetworkOptions, byte[]> _modelWriter;
    private readonly ResolutionLimits _limits;
    private string? _remoteBinary;

    public AdbPhoneSettings Settings { get; }

    public AdbClient Client { get; }

    public PhoneInfo Phone { get; }

    public string DeviceId { get; }

    public PlatformDescription Platform { get; }

    /// <summary>The device platform a search targets this phone with, e.g. <c>android:abi=arm64-v8a,model=Pixel,…</c>.</summary>
    public string TargetPlatform { get; }

    private IReadOnlyList<int> PinnedCores { get; }

    private AdbPhoneBackend(AdbPhoneSettings settings, AdbClient client, PhoneInfo phone, Func<Architecture, NetworkOptions, byte[]> modelWriter, ResolutionLimits? limits)
    {
        Settings = settings;
        Client = client;
        Phone = phone;
        _modelWriter = modelWriter;
        _limits = limits ?? ResolutionLimits.Default;
        PinnedCores = settings.Cores == "auto" ? phone.BigCores : PhoneCommands.ParseMask(settings.Cores);
        DeviceId = $"adb:{phone.Serial}/t{settings.Threads}";
        TargetPlatform = PlatformString(phone, settings.Threads, settings.Xnnpack);
        Platform = new PlatformDescription(Name, LatencySource.Measured, settings.Threads, CpuModel(phone), phone.CpuCount,
            $"Android {phone.Release} (SDK {phone.Sdk?.ToString(CultureInfo.InvariantCulture) ?? "?"})", "TensorFlow Lite benchmark_model",
            new Dictionary<string, string>(), Governor: null,
            Details: $"{phone.Manufacturer} {phone.Model} ({phone.Serial}), {phone.Abi}, build {phone.Fingerprint}, " +
                     $"taskset {(PinnedCores.Count == 0 ? "none (cpufreq unreadable)" : $"{PhoneCommands.Mask(PinnedCores)} (cores {PhoneCommands.Ranges(PinnedCores)})")}, " +
                     $"xnnpack {(settings.Xnnpack ? "on" : "off")}");
    }

    /// <summary>Finds the phone on the adb server (reconnecting a network serial), reads what it is, and returns its backend.</summary>
    public static async Task<AdbPhoneBackend> ConnectAsync(AdbPhoneSettings settings, Func<Architecture, NetworkOptions, byte[]> modelWriter, AdbClient? client = null, ResolutionLimits? limits = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(modelWriter);
        settings = settings.Validate();
        client ??= new AdbClient(AdbServerEndpoint.Resolve(settings.Server), settings.Timeout);
        try
        {
            var serial = settings.Serial ?? await SingleOnlineSerialAsync(client, cancellationToken).ConfigureAwait(false);
            await EnsureOnlineAsync(client, serial, settings.ReconnectWait ?? TimeSpan.FromSeconds(10), cancellationToken).ConfigureAwait(false);
            var phone = await ProbeAsync(client, serial, cancellationToken).ConfigureAwait(false);
            return new AdbPhoneBackend(settings with { Serial = serial }, client, phone, modelWriter, limits);
        }
        catch (AdbException e)
        {
            throw new LatencyBackendException(e.Message, e.Transient, e);
        }
    }

    /// <summary>getprop and cpufreq of one online phone.</summary>
    public static async Task<PhoneInfo> ProbeAsync(AdbClient client, string serial, CancellationToken cancellationToken = default)
    {
        var features = await client.GetFeaturesAsync(serial, cancellationToken).ConfigureAwait(false);
        var props = PhoneCommands.ParseProperties((await client.ShellAsync(serial, PhoneCommands.Properties, features: features, cancellationToken: cancellationToken).ConfigureAwait(false)).Stdout);
        var freqs = PhoneCommands.ParseCpuMaxFrequencies((await client.ShellAsync(serial, PhoneCommands.CpuMaxFrequencies, features: features, cancellationToken: cancellationToken).ConfigureAwait(false)).Stdout);
        string P(string key, string fallback = "unknown") => props.TryGetValue(key, out var v) && v.Length > 0 ? v : fallback;
        return new PhoneInfo(serial, P("ro.product.model"), P("ro.product.manufacturer"), P("ro.build.fingerprint"), P("ro.product.cpu.abi"),
            int.TryParse(P("ro.build.version.sdk", ""), NumberStyles.None, CultureInfo.InvariantCulture, out var sdk) ? sdk : null,
            P("ro.build.version.release"), P("ro.board.platform", P("ro.hardware")), freqs, PhoneCommands.BigCores(freqs));
    }

    /// <summary>The platform string of a phone: what <c>mnasnet devices</c> prints and searches target.</summary>
    public static string PlatformString(PhoneInfo phone, int threads, bool xnnpack)
    {
        var properties = new SortedDictionary<string, string>(StringComparer.Ordinal)
        {
            ["abi"] = PhoneCommands.Slug(phone.Abi),
            ["model"] = PhoneCommands.Slug(phone.Model),
            ["serial"] = PhoneCommands.Slug(phone.Serial),
            ["threads"] = threads.ToString(CultureInfo.InvariantCulture),
            ["xnnpack"] = xnnpack ? "on" : "off",
        };
        if (phone.Sdk is { } sdk)
        {
            properties["sdk"] = sdk.ToString(CultureInfo.InvariantCulture);
        }
        return $"android:{string.Join(",", properties.Select(p => $"{p.Key}={p.Value}"))}";
    }

    /// <summary>The benchmark_model command line (pure).</summary>
    public static string BenchmarkCommand(string binary, string graph, int threads, MeasurementProtocol protocol, bool xnnpack, IReadOnlyList<int> cores) =>
        (cores.Count == 0 ? "" : $"taskset {PhoneCommands.Mask(cores)} ") +
        FormattableString.Invariant($"{binary} --graph={graph} --num_threads={threads} --warmup_runs={protocol.Warmup} --warmup_min_secs=0 --num_runs={protocol.Runs} --min_secs=0 --use_xnnpack={(xnnpack ? "true" : "false")}");

    public async Task<LatencyMeasurement> MeasureAsync(Architecture architecture, NetworkOptions options, MeasurementProtocol protocol, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(architecture);
        ArgumentNullException.ThrowIfNull(options);
        protocol.Validate();
        _limits.Check(architecture, options);
        await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            return await MeasureOnPhoneAsync(architecture, options, protocol, cancellationToken).ConfigureAwait(false);
        }
        catch (AdbException e)
        {
            throw new LatencyBackendException($"phone {Phone.Serial}: {e.Message}", e.Transient, e);
        }
        finally
        {
            _gate.Release();
        }
    }

    private async Task<LatencyMeasurement> MeasureOnPhoneAsync(Architecture architecture, NetworkOptions options, MeasurementProtocol protocol, CancellationToken ct)
    {
        var started = DateTimeOffset.UtcNow;
        var wall = System.Diagnostics.Stopwatch.StartNew();
        var serial = Phone.Serial;
        await EnsureOnlineAsync(Client, serial, Settings.ReconnectWait ?? TimeSpan.FromSeconds(10), ct).ConfigureAwait(false);
        var features = await Client.GetFeaturesAsync(serial, ct).ConfigureAwait(false);
        var (governor, temperature, waited) = await ThermalGuardAsync(features, ct).ConfigureAwait(false);

        var model = _modelWriter(architecture, options);
        var hash = Convert.ToHexStringLower(SHA256.HashData(model));
        var graph = $"{Settings.RemoteDirectory}/mnasnet-{hash[..16]}.tflite";
        await PushUnlessPresentAsync(model, graph, 420, features, ct).ConfigureAwait(false);
        var binary = await BinaryAsync(features, ct).ConfigureAwait(false);

        var command = BenchmarkCommand(binary, graph, Settings.Threads, protocol, Settings.Xnnpack, PinnedCores);
        var run = await Client.ShellAsync(serial, command, Settings.BenchmarkTimeout ?? TimeSpan.FromMinutes(10), features, ct).ConfigureAwait(false);
        var output = run.Stdout + "\n" + run.Stderr;
        if (run.ExitCode >= 128 && run.Stderr.Trim().Length == 0)
        {
            throw new LatencyBackendException($"phone {serial}: benchmark_model was killed (exit {run.ExitCode}, signal {run.ExitCode - 128})", transient: true);
        }
        if (run.ExitCode != 0)
        {
            throw new LatencyBackendException($"phone {serial}: benchmark_model failed (exit {run.ExitCode}): {Tail(output)}", transient: false);
        }
        BenchmarkModelResult result;
        try
        {
            result = BenchmarkModelOutput.Parse(output);
        }
        catch (FormatException e)
        {
            throw new LatencyBackendException($"phone {serial}: {e.Message}: {Tail(output)}", transient: false, e);
        }
        var device = new SortedDictionary<string, string>(StringComparer.Ordinal)
        {
            ["serial"] = serial,
            ["model"] = Phone.Model,
            ["manufacturer"] = Phone.Manufacturer,
            ["fingerprint"] = Phone.Fingerprint,
            ["abi"] = Phone.Abi,
            ["sdk"] = Phone.Sdk?.ToString(CultureInfo.InvariantCulture) ?? "unknown",
            ["taskset"] = PinnedCores.Count == 0 ? "none" : PhoneCommands.Mask(PinnedCores),
            ["xnnpack"] = Settings.Xnnpack ? "on" : "off",
            ["statistic"] = result.ReportedStatistic,
            ["modelSha256"] = hash,
            ["shell"] = run.ShellV2 ? "v2" : "legacy",
        };
        void Put(string key, double? value, string format = "G6")
        {
            if (value is { } v)
            {
                device[key] = v.ToString(format, CultureInfo.InvariantCulture);
            }
        }
        if (governor is not null)
        {
            device["governor"] = governor;
        }
        Put("temperatureC", temperature, "F1");
        Put("thermalWaitSeconds", waited > TimeSpan.Zero ? waited.TotalSeconds : null, "F1");
        Put("p5Us", result.P5Us);
        Put("p95Us", result.P95Us);
        Put("initUs", result.InitUs);
        Put("warmupAvgUs", result.WarmupAverageUs);
        return new LatencyMeasurement(architecture.Id, options.Resolution, 1, DeviceId, Platform with { Governor = governor }, protocol.Warmup,
            result.Count ?? protocol.Runs, 1, Settings.Threads, StopReason.RunsCompleted, protocol.CvTarget, Statistics(result), [],
            wall.Elapsed.TotalSeconds, started, null, device);
    }

    /// <summary>Statistics from benchmark_model's summary (µs → ms); absent figures fall back to the reported one.</summary>
    public static SampleStatistics Statistics(BenchmarkModelResult r)
    {
        var reported = r.ReportedUs / 1000;
        double Ms(double? us) => us is { } v ? v / 1000 : reported;
        var mean = Ms(r.AverageUs);
        var std = r.StdUs is { } s ? s / 1000 : 0;
        return new SampleStatistics(r.Count ?? 1, reported, mean, r.P95Us is { } p95 ? p95 / 1000 : Ms(r.MaxUs), Ms(r.MinUs), Ms(r.MaxUs), std,
            mean > 0 ? std / mean : 0, Ms(r.MinUs), Ms(r.MaxUs), []);
    }

    private async Task<(string? Governor, double? TemperatureC, TimeSpan Waited)> ThermalGuardAsync(IReadOnlySet<string> features, CancellationToken ct)
    {
        var cpu = PinnedCores.Count > 0 ? PinnedCores[0] : 0;
        var waited = System.Diagnostics.Stopwatch.StartNew();
        var limit = Settings.ThermalWait ?? TimeSpan.FromMinutes(2);
        while (true)
        {
            var (governor, temperature) = PhoneCommands.ParseState((await Client.ShellAsync(Phone.Serial, PhoneCommands.State(cpu), features: features, cancellationToken: ct).ConfigureAwait(false)).Stdout);
            if (Settings.MaxTemperatureC is not { } max || temperature is not { } t || t <= max || waited.Elapsed >= limit)
            {
                return (governor, temperature, Settings.MaxTemperatureC is null ? TimeSpan.Zero : waited.Elapsed);
            }
            await Task.Delay(Settings.ThermalPoll ?? TimeSpan.FromSeconds(5), ct).ConfigureAwait(false);
        }
    }

    private async Task<bool> PushUnlessPresentAsync(byte[] content, string remotePath, int mode, IReadOnlySet<string> features, CancellationToken ct)
    {
        var stat = await Client.StatAsync(Phone.Serial, remotePath, features, ct).ConfigureAwait(false);
        if (stat.Exists && stat.Size == content.Length)
        {
            return false;
        }
        await Client.PushAsync(Phone.Serial, content, remotePath, mode, ct).ConfigureAwait(false);
        return true;
    }

    private async Task<string> BinaryAsync(IReadOnlySet<string> features, CancellationToken ct)
    {
        if (Settings.LocalBinary is null)
        {
            return Settings.RemoteBinary;
        }
        if (_remoteBinary is null)
        {
            var content = await File.ReadAllBytesAsync(Settings.LocalBinary, ct).ConfigureAwait(false);
            var path = $"{Settings.RemoteDirectory}/benchmark_model-{Convert.ToHexStringLower(SHA256.HashData(content))[..16]}";
            await PushUnlessPresentAsync(content, path, 493, features, ct).ConfigureAwait(false);
            _remoteBinary = path;
        }
        return _remoteBinary;
    }

    private static async Task<string> SingleOnlineSerialAsync(AdbClient client, CancellationToken ct)
    {
        var devices = await client.ListDevicesAsync(ct).ConfigureAwait(false);
        var online = devices.Where(d => d.IsOnline).ToList();
        return online.Count switch
        {
            1 => online[0].Serial,
            0 => throw new AdbException(devices.Count == 0
                ? $"no phone on the adb server at {client.Endpoint} (attach one over USB or with `adb connect HOST:PORT`)"
                : $"no online phone on the adb server at {client.Endpoint}: {string.Join(", ", devices.Select(d => $"{d.Serial} {d.State}"))}", transient: true),
            _ => throw new AdbException($"several phones on the adb server ({string.Join(", ", online.Select(d => d.Serial))}): name one with adb:serial=SERIAL", transient: false),
        };
    }

    /// <summary>
    /// Checks the phone is online; a network serial (HOST:PORT) that is missing or offline is reconnected and waited
    /// for. Unauthorized and missing phones are transient errors with a message saying what to do.
    /// </summary>
    public static async Task EnsureOnlineAsync(AdbClient client, string serial, TimeSpan reconnectWait, CancellationToken ct)
    {
        var entry = (await client.ListDevicesAsync(ct).ConfigureAwait(false)).FirstOrDefault(d => d.Serial == serial);
        if (entry is { IsOnline: true })
        {
            return;
        }
        if (entry?.State == "unauthorized")
        {
            throw new AdbException($"phone {serial} is unauthorized: unlock it and accept the 'Allow USB debugging' prompt for this host's adb key", transient: true, "device unauthorized");
        }
        if (IsNetworkSerial(serial))
        {
            if (entry is null)
            {
                await client.ConnectAsync(serial, ct).ConfigureAwait(false);
            }
            await client.WaitForDeviceAsync(serial, reconnectWait, ct).ConfigureAwait(false);
            return;
        }
        throw new AdbException(entry is null
            ? $"phone {serial} is not on the adb server at {client.Endpoint} (known: {await KnownAsync(client, ct).ConfigureAwait(false)})"
            : $"phone {serial} is {entry.State}", transient: true);
    }

    private static async Task<string> KnownAsync(AdbClient client, CancellationToken ct)
    {
        var devices = await client.ListDevicesAsync(ct).ConfigureAwait(false);
        return devices.Count == 0 ? "none" : string.Join(", ", devices.Select(d => $"{d.Serial} {d.State}"));
    }

    private static bool IsNetworkSerial(string serial)
    {
        var colon = serial.LastIndexOf(':');
        return colon > 0 && int.TryParse(serial[(colon + 1)..], NumberStyles.None, CultureInfo.InvariantCulture, out _);
    }

    private static string CpuModel(PhoneInfo phone) =>
        phone.BigCores.Count == 0
            ? $"{phone.Hardware} ({phone.CpuCount} cores)"
            : FormattableString.Invariant($"{phone.Hardware}, big cores {phone.BigCoreList} at {phone.CpuMaxKHz[phone.BigCores[0]] / 1000} MHz");

    private static string Tail(string output)
    {
        var lines = output.Replace("\r", "", StringComparison.Ordinal).Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        return string.Join(" | ", lines.TakeLast(4));
    }

    public ValueTask DisposeAsync()
    {
        _gate.Dispose();
        return ValueTask.CompletedTask;
    }
}
