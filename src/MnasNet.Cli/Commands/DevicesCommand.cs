using System.CommandLine;
using MnasNet.Latency.Adb;

namespace MnasNet.Cli.Commands;

/// <summary><c>mnasnet devices</c>: the phones on the adb server and the platform string a search targets each with.</summary>
public sealed class DevicesCommand : CliCommand
{
    private readonly Option<string?> _server = new("--server") { Description = "adb server HOST:PORT (default: ADB_SERVER_SOCKET, ANDROID_ADB_SERVER_PORT, else 127.0.0.1:5037)." };
    private readonly Option<int> _threads = new("--threads") { Description = "Threads in the platform strings printed (the adb backend's threads=N).", DefaultValueFactory = _ => 1 };
    private readonly Option<bool> _json = new("--json") { Description = "Print JSON." };

    public DevicesCommand() : base("devices", "Phones on the adb server: serial, state, model, ABI, big cores and the platform a search can target (latency.target).")
    {
        Options.Add(_server);
        Options.Add(_threads);
        Options.Add(_json);
    }

    protected override async Task<int> ExecuteAsync(ParseResult parseResult, TextWriter output, CancellationToken cancellationToken)
    {
        var threads = parseResult.GetValue(_threads);
        if (threads < 1)
        {
            throw new CliInputException($"--threads must be at least 1, got {threads}");
        }
        var client = new AdbClient(AdbServerEndpoint.Resolve(parseResult.GetValue(_server)));
        var rows = new List<DeviceRow>();
        foreach (var d in await client.ListDevicesAsync(cancellationToken))
        {
            if (!d.IsOnline)
            {
                rows.Add(new DeviceRow(d.Serial, d.State, d.Model, null, null, null, null, null, Hint(d.State)));
                continue;
            }
            try
            {
                var phone = await AdbPhoneBackend.ProbeAsync(client, d.Serial, cancellationToken);
                rows.Add(new DeviceRow(d.Serial, d.State, phone.Model, phone.Abi, phone.Sdk, phone.BigCores.Count == 0 ? null : phone.BigCoreList,
                    phone.BigCoreMask, AdbPhoneBackend.PlatformString(phone, threads, xnnpack: true), null));
            }
            catch (AdbException e)
            {
                rows.Add(new DeviceRow(d.Serial, d.State, d.Model, null, null, null, null, null, e.Message));
            }
        }
        if (parseResult.GetValue(_json))
        {
            await WriteJsonAsync(output, new { server = client.Endpoint.ToString(), devices = rows });
            return ExitCodes.Success;
        }
        if (rows.Count == 0)
        {
            await output.WriteLineAsync($"no devices on the adb server at {client.Endpoint} (attach a phone over USB, or `adb connect HOST:PORT`)");
            return ExitCodes.Success;
        }
        foreach (var r in rows)
        {
            await output.WriteLineAsync(r.Platform is null
                ? $"{r.Serial}  {r.State}  {r.Model ?? ""}  {r.Note}".TrimEnd()
                : $"{r.Serial}  {r.State}  {r.Model}  {r.Abi}  SDK {r.Sdk?.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? "?"}  big cores {r.BigCores ?? "unknown"}{(r.BigCoreMask is null ? "" : $" (mask {r.BigCoreMask})")}\n    target: {r.Platform}");
        }
        return ExitCodes.Success;
    }

    private static string? Hint(string state) => state switch
    {
        "unauthorized" => "unlock the phone and accept the 'Allow USB debugging' prompt",
        "offline" => "the phone is not answering: reconnect it (USB cable, or adb connect HOST:PORT)",
        _ when state.StartsWith("no permissions", StringComparison.Ordinal) => "this user may not open the USB device (udev rules, plugdev group)",
        _ => null,
    };

    protected override int? ExitCodeFor(Exception e) => e is AdbException ? ExitCodes.Failure : base.ExitCodeFor(e);

    private sealed record DeviceRow(string Serial, string State, string? Model, string? Abi, int? Sdk, string? BigCores, string? BigCoreMask, string? Platform, string? Note);
}
