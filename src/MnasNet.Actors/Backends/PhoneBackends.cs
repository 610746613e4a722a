using MnasNet.Actors.Protocol;
using MnasNet.Actors.Settings;
using MnasNet.Latency;
using MnasNet.Latency.Adb;
using MnasNet.Latency.Measurement;
using MnasNet.SearchSpace;

namespace MnasNet.Actors.Backends;

/// <summary>
/// A phone over ADB as a search's device (MnasNet.Latency's <see cref="AdbPhoneBackend"/>): the full network at
/// <c>latency.resolution</c>, exported to TensorFlow Lite and timed with benchmark_model. It advertises the phone's
/// platform (<c>android:abi=…,model=…,serial=…,threads=N,…</c>). Transient phone faults become
/// <see cref="TransientDeviceException"/> (the worker retries); a model that fails on the phone fails the trial.
/// </summary>
public sealed class PhoneDeviceBackend(SearchSettings settings, MnasNetSearchSpace space, AdbPhoneBackend phone) : IDeviceBackend
{
    public string Name => AdbPhoneBackend.Name;

    public string DeviceId => phone.DeviceId;

    public DevicePlatform Platform { get; } = DevicePlatform.Parse(phone.TargetPlatform);

    public AdbPhoneBackend Phone => phone;

    /// <summary>The phone settings of a search's <c>latency.backend</c> (threads: the spec's, else the search's).</summary>
    public static AdbPhoneSettings SettingsOf(string adbSpec, int defaultThreads)
    {
        try
        {
            return LatencyBackends.PhoneSettings(adbSpec) with { Threads = DevicePlatform.Parse(adbSpec).Threads ?? defaultThreads };
        }
        catch (UnknownBackendException e)
        {
            throw new SettingsException(e.Message);
        }
    }

    /// <summary>Connects to the phone now; an unreachable or unauthorized phone is a <see cref="SettingsException"/> naming it.</summary>
    public static PhoneDeviceBackend Connect(SearchSettings settings, MnasNetSearchSpace space, AdbPhoneSettings phoneSettings)
    {
        try
        {
            var phone = AdbPhoneBackend.ConnectAsync(phoneSettings, (a, o) => LatencyBackends.PhoneModelWriter(a, o, 0)).GetAwaiter().GetResult();
            return new PhoneDeviceBackend(settings, space, phone);
        }
        catch (LatencyBackendException e)
        {
            throw new SettingsException($"phone {phoneSettings.Serial ?? "(the one online)"}: {e.Message}");
        }
    }

    public async Task<LatencyRecord> MeasureAsync(WorkOffer work, CancellationToken cancellationToken)
    {
        var options = new NetworkOptions(Resolution: settings.Latency.Resolution);
        LatencyMeasurement m;
        try
        {
            m = await phone.MeasureAsync(space.Decode(work.Tokens), options, new MeasurementProtocol(settings.Latency.Warmup, settings.Latency.Runs), cancellationToken).ConfigureAwait(false);
        }
        catch (LatencyBackendException e) when (e.Transient)
        {
            throw new TransientDeviceException(e.Message, e);
        }
        catch (Exception e) when (e is LatencyException or ArchitectureException or ArgumentException)
        {
            throw new TrialFailureException($"latency measurement failed: {e.Message}");
        }
        var s = m.Statistics;
        return new LatencyRecord(Name, m.Platform.Source.ToString().ToLowerInvariant(), m.DeviceId, m.Platform.Summary, m.Threads, m.Resolution,
            m.Warmup, m.Runs, m.StopReason.ToString(), s.MedianMs, s.MeanMs, s.P90Ms, s.MinMs, s.MaxMs, s.StdMs, s.Cv, s.OutlierCount,
            m.SamplesMs, m.WallSeconds, work.Seed, m.Device);
    }

    public ValueTask DisposeAsync() => phone.DisposeAsync();
}

/// <summary>The phones an <c>adb:…</c> device spec stands for: the named serial, or every online phone on the adb server.</summary>
public static class PhoneDiscovery
{
    /// <summary>One (settings, advertised platform) per phone; an adb server or phone that cannot be reached is a <see cref="SettingsException"/>.</summary>
    public static IReadOnlyList<(AdbPhoneSettings Settings, DevicePlatform Platform)> Discover(DevicePlatform adbSpec, int defaultThreads, CancellationToken cancellationToken = default)
    {
        var settings = PhoneDeviceBackend.SettingsOf(adbSpec.ToString(), defaultThreads);
        var client = new AdbClient(AdbServerEndpoint.Resolve(settings.Server), settings.Timeout);
        try
        {
            var serials = settings.Serial is { } serial
                ? [serial]
                : client.ListDevicesAsync(cancellationToken).GetAwaiter().GetResult().Where(d => d.IsOnline).Select(d => d.Serial).ToList();
            if (serials.Count == 0)
            {
                throw new SettingsException($"device spec '{adbSpec}': no online phone on the adb server at {client.Endpoint}");
            }
            return [.. serials.Select(s =>
            {
                var phone = settings with { Serial = s };
                var info = AdbPhoneBackend.ProbeAsync(client, s, cancellationToken).GetAwaiter().GetResult();
                return (phone, DevicePlatform.Parse(AdbPhoneBackend.PlatformString(info, phone.Threads, phone.Xnnpack)));
            })];
        }
        catch (AdbException e)
        {
            throw new SettingsException($"device spec '{adbSpec}': {e.Message}");
        }
    }
}
